"""The operator's settings: defaults, TOOLFLEET_* overrides, and errors naming the variable."""

from __future__ import annotations

import pytest

from toolfleet.api.toolcatalog import CollisionStrategy
from toolfleet.settings import Settings, SettingsError


def test_an_empty_environment_gives_the_defaults() -> None:
    assert Settings.from_env({}) == Settings()


def test_every_variable_overrides_its_setting() -> None:
    settings = Settings.from_env({
        "TOOLFLEET_FIELD_MANAGER": "fm", "TOOLFLEET_NAMESPACE": "ops",
        "TOOLFLEET_RESYNC_SECONDS": "30", "TOOLFLEET_HTTP_HOST": "127.0.0.1",
        "TOOLFLEET_HTTP_PORT": "9000", "TOOLFLEET_CLUSTER_DOMAIN": "corp.example",
        "TOOLFLEET_DEFAULT_COLLISION_STRATEGY": "reject",
        "TOOLFLEET_WEBHOOK_HOST": "toolfleet.ops.svc", "TOOLFLEET_WEBHOOK_PORT": "8443",
        "TOOLFLEET_WEBHOOK_LISTEN": "::", "TOOLFLEET_WEBHOOK_CERT_DIR": "/certs",
        "TOOLFLEET_GATEWAY_URL": "http://gw.ops.svc.corp.example/",
        "TOOLFLEET_CATALOG_AUTH": "true", "TOOLFLEET_API_QPS": "12.5",
        "TOOLFLEET_API_BURST": "25"})

    assert settings == Settings(
        field_manager="fm", namespace="ops", resync_seconds=30, http_host="127.0.0.1",
        http_port=9000, cluster_domain="corp.example",
        default_collision_strategy=CollisionStrategy.reject, webhook_host="toolfleet.ops.svc",
        webhook_port=8443, webhook_listen="::", webhook_cert_dir="/certs",
        gateway_url="http://gw.ops.svc.corp.example", catalog_auth=True, api_qps=12.5,
        api_burst=25)


def test_the_api_rate_limit_is_client_gos_of_a_controller_unless_set() -> None:
    # client-go's own defaults (5 and 10) starve a fleet; controllers raise them.
    assert (Settings().api_qps, Settings().api_burst) == (50.0, 100)
    assert Settings.from_env({"TOOLFLEET_API_QPS": "0"}).api_qps == 0.0  # no limit


def test_the_process_environment_is_read_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLFLEET_CLUSTER_DOMAIN", "corp.example")
    assert Settings.from_env().cluster_domain == "corp.example"


def test_empty_numbers_and_choices_mean_the_default() -> None:
    settings = Settings.from_env({"TOOLFLEET_HTTP_PORT": "",
                                  "TOOLFLEET_DEFAULT_COLLISION_STRATEGY": ""})
    assert settings.http_port == 8080
    assert settings.default_collision_strategy is CollisionStrategy.prefix


def test_an_empty_webhook_host_keeps_the_webhook_off() -> None:
    assert Settings.from_env({"TOOLFLEET_WEBHOOK_HOST": ""}).webhook_host == ""


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TOOLFLEET_HTTP_PORT", "abc", "TOOLFLEET_HTTP_PORT must be an integer (got 'abc')"),
    ("TOOLFLEET_HTTP_PORT", "70000", "TOOLFLEET_HTTP_PORT must be 1 to 65535 (got 70000)"),
    ("TOOLFLEET_WEBHOOK_PORT", "0", "TOOLFLEET_WEBHOOK_PORT must be 1 to 65535 (got 0)"),
    ("TOOLFLEET_RESYNC_SECONDS", "0", "TOOLFLEET_RESYNC_SECONDS must be at least 1 (got 0)"),
    ("TOOLFLEET_RESYNC_SECONDS", "5m",
     "TOOLFLEET_RESYNC_SECONDS must be an integer (got '5m')"),
    ("TOOLFLEET_DEFAULT_COLLISION_STRATEGY", "merge",
     "TOOLFLEET_DEFAULT_COLLISION_STRATEGY is 'merge'; use one of reject, prefix"),
    ("TOOLFLEET_DEFAULT_COLLISION_STRATEGY", "Prefix",
     "TOOLFLEET_DEFAULT_COLLISION_STRATEGY is 'Prefix'; use one of reject, prefix"),
    ("TOOLFLEET_GATEWAY_URL", "gw.ops.svc:80", "TOOLFLEET_GATEWAY_URL must be an http:// or "
     "https:// base URL with a host and no query (got 'gw.ops.svc:80')"),
    ("TOOLFLEET_GATEWAY_URL", "http:///mcp", "TOOLFLEET_GATEWAY_URL must be an http:// or "
     "https:// base URL with a host and no query (got 'http:///mcp')"),
    ("TOOLFLEET_CATALOG_AUTH", "yes",
     "TOOLFLEET_CATALOG_AUTH must be true or false (got 'yes')"),
    ("TOOLFLEET_API_QPS", "fast", "TOOLFLEET_API_QPS must be a number of requests a second, "
     "0 or more (got 'fast'); 0 lifts the limit"),
    ("TOOLFLEET_API_QPS", "-5", "TOOLFLEET_API_QPS must be a number of requests a second, "
     "0 or more (got '-5'); 0 lifts the limit"),
    ("TOOLFLEET_API_QPS", "nan", "TOOLFLEET_API_QPS must be a number of requests a second, "
     "0 or more (got 'nan'); 0 lifts the limit"),
    ("TOOLFLEET_API_BURST", "0", "TOOLFLEET_API_BURST must be at least 1 (got 0)"),
])
def test_a_value_the_operator_cannot_use_is_refused_naming_the_variable(
        variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})

    assert str(raised.value) == message
    assert raised.value.variable == variable


def test_a_settings_error_is_a_value_error() -> None:
    # Callers that caught ValueError before SettingsError existed keep working.
    assert issubclass(SettingsError, ValueError)
