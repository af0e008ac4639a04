"""The gateway's settings from TOOLFLEET_GATEWAY_* variables."""

from __future__ import annotations

import pytest

from toolfleet.gateway.settings import GatewaySettings, SettingsError


def test_defaults_without_any_variable() -> None:
    assert GatewaySettings.from_env({}) == GatewaySettings()


def test_every_variable_is_read() -> None:
    settings = GatewaySettings.from_env({
        "TOOLFLEET_GATEWAY_HOST": "127.0.0.1", "TOOLFLEET_GATEWAY_PORT": "9000",
        "TOOLFLEET_GATEWAY_MAX_REQUEST_BYTES": "2048", "TOOLFLEET_GATEWAY_MAX_IN_FLIGHT": "8",
        "TOOLFLEET_GATEWAY_MAX_ATTEMPTS": "1", "TOOLFLEET_GATEWAY_EJECTION_FAILURES": "2",
        "TOOLFLEET_GATEWAY_EJECTION_SECONDS": "0.5",
        "TOOLFLEET_GATEWAY_TOOLS_LIST_TTL_SECONDS": "0", "TOOLFLEET_GATEWAY_MCP_SESSIONS": "false",
        "TOOLFLEET_GATEWAY_OPERATOR_NAMESPACE": "tools", "TOOLFLEET_GATEWAY_AUTH": "False",
        "TOOLFLEET_GATEWAY_AUTH_CACHE_SECONDS": "2.5",
    })
    assert settings == GatewaySettings(
        host="127.0.0.1", port=9000, max_request_bytes=2048, max_in_flight_per_backend=8,
        max_attempts=1, ejection_failures=2, ejection_seconds=0.5, tools_list_ttl_seconds=0,
        mcp_sessions=False, operator_namespace="tools", auth=False, auth_cache_seconds=2.5)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TOOLFLEET_GATEWAY_PORT", "http", "must be an integer"),
    ("TOOLFLEET_GATEWAY_MAX_ATTEMPTS", "0", "must be 1 to 10"),
    ("TOOLFLEET_GATEWAY_EJECTION_SECONDS", "-1", "at least 0"),
    ("TOOLFLEET_GATEWAY_EJECTION_SECONDS", "inf", "finite"),
    ("TOOLFLEET_GATEWAY_EJECTION_SECONDS", "nan", "finite"),
    ("TOOLFLEET_GATEWAY_MCP_SESSIONS", "yes", "true or false"),
    ("TOOLFLEET_GATEWAY_AUTH", "off", "true or false"),
    ("TOOLFLEET_GATEWAY_AUTH_CACHE_SECONDS", "soon", "number of seconds"),
])
def test_a_value_the_gateway_cannot_use_names_the_variable(variable: str, value: str,
                                                           message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        GatewaySettings.from_env({variable: value})
    assert refused.value.variable == variable
