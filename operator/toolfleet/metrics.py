"""The operator's Prometheus metrics, defined once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_WRITES = Counter(
    "toolfleet_api_writes_total",
    "Writes the operator sent to the API server (apply, status patch, delete, event), "
    "by namespace of the object written (empty for cluster-scoped objects).",
    ["verb", "kind", "namespace"],
)
RECONCILES = Counter(
    "toolfleet_reconciles_total", "Reconciles run, by kind and result.", ["kind", "result"]
)
RECONCILE_DURATION = Histogram(
    "toolfleet_reconcile_duration_seconds", "Time one reconcile took.", ["kind"]
)
CATALOG_TOOLS = Gauge(
    "toolfleet_catalog_tools", "Tools published in a catalog.", ["catalog"]
)
CATALOG_BYTES = Gauge(
    "toolfleet_catalog_bytes", "Size of a catalog rendering.", ["catalog", "format"]
)
CATALOG_PUBLISHES = Counter(
    "toolfleet_catalog_publishes_total", "Catalog publishes, by result.", ["catalog", "result"]
)
ROLLOUTS = Gauge(
    "toolfleet_rollouts", "ToolServices by rollout phase.", ["phase"]
)
