"""The gateway's settings: one object, read from TOOLFLEET_GATEWAY_* variables, with defaults.

`toolfleet gateway` (and `python -m toolfleet.gateway`) builds it once and
passes it to `serve`. Every setting is to be documented in the README and the
chart's values, as the operator's are.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from toolfleet.settings import SettingsError, _boolean, _integer, _port, _text

__all__ = ["GatewaySettings", "SettingsError"]


def _seconds(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number of seconds (got {raw!r})") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(name, f"must be a finite number of seconds, at least {minimum:g} "
                            f"(got {raw!r})")
    return value


@dataclass(frozen=True)
class GatewaySettings:
    """What a gateway deployment may want to change."""

    host: str = "0.0.0.0"
    port: int = 8080
    # Largest request body, in bytes, on /calls and /mcp: 4 MiB, MCP SDK's default too.
    max_request_bytes: int = 4 * 1024 * 1024
    # Calls one backend address may have in flight; past it callers get 429 + Retry-After.
    max_in_flight_per_backend: int = 64
    # Tries of an idempotent or read-only tool (1 turns retries off).
    max_attempts: int = 3
    # Failures in a row that eject a backend, and for how long (growing with each ejection).
    ejection_failures: int = 5
    ejection_seconds: float = 10.0
    # How long an MCP client may treat a tools/list result as fresh (2026-07-28 ttlMs).
    tools_list_ttl_seconds: float = 10.0
    # Keep MCP sessions (2025-11-25) so that they get notifications/tools/list_changed;
    # needs session affinity when the gateway runs several replicas.
    mcp_sessions: bool = True
    # The namespace of the operator installation whose published catalog ConfigMaps
    # the gateway follows (the operator's TOOLFLEET_NAMESPACE).
    operator_namespace: str = "toolfleet-system"
    # Authenticate callers with TokenReview and authorize them with SubjectAccessReview
    # (verb `call` on `toolcatalogs`); false serves everyone, for local use only.
    auth: bool = True
    # How long a TokenReview or SubjectAccessReview answer is reused, in seconds.
    auth_cache_seconds: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        """Settings from TOOLFLEET_GATEWAY_* variables, defaults for the rest.

        Raises SettingsError naming the variable and what it may hold.
        """
        env = os.environ if env is None else env
        return cls(
            host=_text(env, "TOOLFLEET_GATEWAY_HOST", cls.host),
            port=_port(env, "TOOLFLEET_GATEWAY_PORT", cls.port),
            max_request_bytes=_integer(env, "TOOLFLEET_GATEWAY_MAX_REQUEST_BYTES",
                                       cls.max_request_bytes, minimum=1024),
            max_in_flight_per_backend=_integer(env, "TOOLFLEET_GATEWAY_MAX_IN_FLIGHT",
                                               cls.max_in_flight_per_backend, minimum=1),
            max_attempts=_integer(env, "TOOLFLEET_GATEWAY_MAX_ATTEMPTS", cls.max_attempts,
                                  minimum=1, maximum=10),
            ejection_failures=_integer(env, "TOOLFLEET_GATEWAY_EJECTION_FAILURES",
                                       cls.ejection_failures, minimum=1),
            ejection_seconds=_seconds(env, "TOOLFLEET_GATEWAY_EJECTION_SECONDS",
                                      cls.ejection_seconds, minimum=0.0),
            tools_list_ttl_seconds=_seconds(env, "TOOLFLEET_GATEWAY_TOOLS_LIST_TTL_SECONDS",
                                            cls.tools_list_ttl_seconds, minimum=0.0),
            mcp_sessions=_boolean(env, "TOOLFLEET_GATEWAY_MCP_SESSIONS", cls.mcp_sessions),
            operator_namespace=_text(env, "TOOLFLEET_GATEWAY_OPERATOR_NAMESPACE",
                                     cls.operator_namespace) or cls.operator_namespace,
            auth=_boolean(env, "TOOLFLEET_GATEWAY_AUTH", cls.auth),
            auth_cache_seconds=_seconds(env, "TOOLFLEET_GATEWAY_AUTH_CACHE_SECONDS",
                                        cls.auth_cache_seconds, minimum=0.0),
        )
