"""The operator's settings: one object, read from the environment, with defaults.

`toolfleet run` builds it once and hands it to the handlers through kopf's memo;
the offline commands build it when they run. Nothing reads the environment at
import time. Every setting is documented in the README and the chart's values.yaml.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from toolfleet.api.toolcatalog import CollisionStrategy

_E = TypeVar("_E", bound=StrEnum)

_MAX_PORT = 65535


class SettingsError(ValueError):
    """An environment variable holds a value the operator cannot use.

    The message names the variable, what it holds and what it may hold.
    """

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable} {problem}")
        self.variable = variable


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    # Set but empty is kept: an empty TOOLFLEET_WEBHOOK_HOST is how the chart turns
    # the webhook off.
    return env.get(name, default)


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int,
             maximum: int | None = None) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer (got {raw!r})") from None
    if value < minimum or (maximum is not None and value > maximum):
        allowed = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingsError(name, f"must be {allowed} (got {value})")
    return value


def _rate(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    # nan and inf compare false or unbounded: neither is a rate.
    if not 0 <= value < float("inf"):
        raise SettingsError(name, f"must be a number of requests a second, 0 or more "
                            f"(got {raw!r}); 0 lifts the limit")
    return value


def _base_url(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if raw == "":
        return ""
    scheme, sep, rest = raw.partition("://")
    if not sep or scheme not in ("http", "https") or not rest.split("/")[0] \
            or any(c in raw for c in "?# "):
        raise SettingsError(name, f"must be an http:// or https:// base URL with a host and "
                            f"no query (got {raw!r})")
    return raw.rstrip("/")


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return _integer(env, name, default, minimum=1, maximum=_MAX_PORT)


def _boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw not in ("true", "false"):
        raise SettingsError(name, f"must be true or false (got {raw!r})")
    return raw == "true"


def _choice(env: Mapping[str, str], name: str, default: _E) -> _E:
    raw = env.get(name, "")
    if raw == "":
        return default
    choices = type(default)
    try:
        return choices(raw)
    except ValueError:
        raise SettingsError(name, f"is {raw!r}; use one of {', '.join(choices)}") from None


@dataclass(frozen=True)
class Settings:
    """What an operator deployment may want to change."""

    # Field manager of every server-side apply; changing it orphans earlier fields.
    field_manager: str = "toolfleet"
    # Namespace the operator runs in (its catalog ConfigMaps for `default` go there).
    namespace: str = "toolfleet-system"
    # How often every ToolService is reconciled even when nothing was observed.
    resync_seconds: int = 300
    # How many ToolService reconciles run at once. Sized for I/O, not CPUs: a reconcile
    # reads from the watches and mostly waits on its writes, so enough of them keep the
    # rate limit busy (api_qps x the API server's latency under load, 50 x 0.3 s).
    reconcile_workers: int = 16
    # The client-side rate limit of every request to the API server, as client-go's
    # QPS and Burst: requests a second on average (0: no limit), and at once.
    api_qps: float = 50.0
    api_burst: int = 100
    # The catalog/metrics HTTP server.
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    cluster_domain: str = "cluster.local"
    # Who may reach every service besides its callers: the operator (catalog probes),
    # the gateway (it calls on behalf of callers RBAC lets call the catalog) and
    # Prometheus (metrics scraping), as pod labels in any namespace.
    operator_pod_labels: dict[str, str] = field(default_factory=lambda: {
        "app.kubernetes.io/name": "toolfleet", "app.kubernetes.io/component": "operator"})
    gateway_pod_labels: dict[str, str] = field(default_factory=lambda: {
        "app.kubernetes.io/name": "toolfleet", "app.kubernetes.io/component": "gateway"})
    scraper_pod_labels: dict[str, str] = field(default_factory=lambda: {
        "app.kubernetes.io/name": "prometheus"})
    # The validating admission webhook: off unless a host the API server can reach
    # is given. Certificates come from webhook_cert_dir (tls.crt, tls.key) or are
    # generated there, self-signed.
    webhook_host: str = ""
    webhook_port: int = 9443
    webhook_listen: str = "0.0.0.0"
    webhook_cert_dir: str = "/tmp/toolfleet-webhook"
    # How the built-in `default` catalog resolves a tool name offered twice: prefix
    # (rename with the service name) or reject (leave both out).
    default_collision_strategy: CollisionStrategy = CollisionStrategy.prefix
    # Catalog changes arriving within this window are published together.
    catalog_debounce_seconds: float = 0.2
    # The gateway's base URL (e.g. http://toolfleet-gateway.toolfleet-system.svc.cluster.local),
    # named in every catalog so that routers need one address; empty: no gateway.
    gateway_url: str = ""
    # Serve a catalog (GET /v1/catalogs/{name}, its /events, and its entry in the list)
    # only to callers RBAC lets call it: a bearer token reviewed by TokenReview and
    # SubjectAccessReview (verb `call` on toolcatalogs), as the gateway does.
    catalog_auth: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from TOOLFLEET_* environment variables, defaults for the rest.

        `env` defaults to the process environment, read when this is called.
        Raises SettingsError, naming the variable and what it may hold, for a
        value the operator cannot use (a port that is not a number, an unknown
        collision strategy), so that a typo stops the operator at start rather
        than misbehaving later.
        """
        env = os.environ if env is None else env
        return cls(
            field_manager=_text(env, "TOOLFLEET_FIELD_MANAGER", cls.field_manager),
            namespace=_text(env, "TOOLFLEET_NAMESPACE", cls.namespace),
            # At least a second: a resync of 0 would reconcile everything in a busy loop.
            resync_seconds=_integer(env, "TOOLFLEET_RESYNC_SECONDS", cls.resync_seconds,
                                    minimum=1),
            reconcile_workers=_integer(env, "TOOLFLEET_RECONCILE_WORKERS", cls.reconcile_workers,
                                       minimum=1),
            api_qps=_rate(env, "TOOLFLEET_API_QPS", cls.api_qps),
            api_burst=_integer(env, "TOOLFLEET_API_BURST", cls.api_burst, minimum=1),
            http_host=_text(env, "TOOLFLEET_HTTP_HOST", cls.http_host),
            http_port=_port(env, "TOOLFLEET_HTTP_PORT", cls.http_port),
            cluster_domain=_text(env, "TOOLFLEET_CLUSTER_DOMAIN", cls.cluster_domain),
            default_collision_strategy=_choice(env, "TOOLFLEET_DEFAULT_COLLISION_STRATEGY",
                                               cls.default_collision_strategy),
            webhook_host=_text(env, "TOOLFLEET_WEBHOOK_HOST", cls.webhook_host),
            webhook_port=_port(env, "TOOLFLEET_WEBHOOK_PORT", cls.webhook_port),
            webhook_listen=_text(env, "TOOLFLEET_WEBHOOK_LISTEN", cls.webhook_listen),
            webhook_cert_dir=_text(env, "TOOLFLEET_WEBHOOK_CERT_DIR", cls.webhook_cert_dir),
            gateway_url=_base_url(env, "TOOLFLEET_GATEWAY_URL"),
            catalog_auth=_boolean(env, "TOOLFLEET_CATALOG_AUTH", cls.catalog_auth),
        )
