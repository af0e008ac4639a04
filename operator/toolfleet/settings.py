"""The operator's settings: one object, read from the environment, with defaults.

Every setting is documented in the README and the chart's values.yaml.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer (got {raw!r})") from None


@dataclass(frozen=True)
class Settings:
    """What an operator deployment may want to change."""

    # Field manager of every server-side apply; changing it orphans earlier fields.
    field_manager: str = "toolfleet"
    # Namespace the operator runs in (its catalog ConfigMaps for `default` go there).
    namespace: str = "toolfleet-system"
    # How often every ToolService is reconciled even when nothing was observed.
    resync_seconds: int = 300
    # How many ToolService reconciles run at once (each waits mostly on the API server).
    reconcile_workers: int = 4
    # The catalog/metrics HTTP server.
    http_host: str = "0.0.0.0"
    http_port: int = 8080
    cluster_domain: str = "cluster.local"
    # Who may reach every service besides its callers: the operator (catalog probes)
    # and Prometheus (metrics scraping), as pod labels in any namespace.
    operator_pod_labels: dict[str, str] = field(default_factory=lambda: {
        "app.kubernetes.io/name": "toolfleet", "app.kubernetes.io/component": "operator"})
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
    default_collision_strategy: str = "prefix"
    # Catalog changes arriving within this window are published together.
    catalog_debounce_seconds: float = 0.2

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from TOOLFLEET_* environment variables, defaults for the rest."""
        return cls(
            field_manager=os.environ.get("TOOLFLEET_FIELD_MANAGER", cls.field_manager),
            namespace=os.environ.get("TOOLFLEET_NAMESPACE", cls.namespace),
            resync_seconds=_int("TOOLFLEET_RESYNC_SECONDS", cls.resync_seconds),
            reconcile_workers=_int("TOOLFLEET_RECONCILE_WORKERS", cls.reconcile_workers),
            http_host=os.environ.get("TOOLFLEET_HTTP_HOST", cls.http_host),
            http_port=_int("TOOLFLEET_HTTP_PORT", cls.http_port),
            cluster_domain=os.environ.get("TOOLFLEET_CLUSTER_DOMAIN", cls.cluster_domain),
            default_collision_strategy=os.environ.get(
                "TOOLFLEET_DEFAULT_COLLISION_STRATEGY", cls.default_collision_strategy),
            webhook_host=os.environ.get("TOOLFLEET_WEBHOOK_HOST", cls.webhook_host),
            webhook_port=_int("TOOLFLEET_WEBHOOK_PORT", cls.webhook_port),
            webhook_listen=os.environ.get("TOOLFLEET_WEBHOOK_LISTEN", cls.webhook_listen),
            webhook_cert_dir=os.environ.get("TOOLFLEET_WEBHOOK_CERT_DIR", cls.webhook_cert_dir),
        )
