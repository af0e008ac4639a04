"""The operator's Prometheus metrics, defined once."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

API_WRITES = Counter(
    "toolfleet_api_writes_total",
    "Writes the operator sent to the API server (apply, status patch, delete, event), "
    "by namespace of the object written (empty for cluster-scoped objects).",
    ["verb", "kind", "namespace"],
)
API_REQUESTS = Counter(
    "toolfleet_api_requests_total",
    "Requests the operator sent to the API server, by Kubernetes verb (get, list, watch, "
    "create, apply, patch, delete), resource (plural; `/status` for that subresource) and "
    "HTTP status code (0: no answer).",
    ["verb", "resource", "code"],
)
RATE_LIMITER_DURATION = Histogram(
    "toolfleet_api_rate_limiter_duration_seconds",
    "Time a request waited for the client-side rate limit (TOOLFLEET_API_QPS, "
    "TOOLFLEET_API_BURST) before it was sent.",
    buckets=(0.0, 0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
EVENTS_DROPPED = Counter(
    "toolfleet_events_dropped_total",
    "Events not recorded because 4096 were already waiting for the rate limit.",
)
RECONCILES = Counter(
    "toolfleet_reconciles_total", "Reconciles run, by kind and result.", ["kind", "result"]
)
RECONCILE_DURATION = Histogram(
    "toolfleet_reconcile_duration_seconds", "Time one reconcile took.", ["kind"]
)
RESYNCS = Counter(
    "toolfleet_resyncs_total",
    "Periodic resyncs (TOOLFLEET_RESYNC_SECONDS) that queued every ToolService.",
)
# Read from the work queue at each scrape (handlers/operator.py sets the function).
WORKQUEUE_DEPTH = Gauge(
    "toolfleet_workqueue_depth",
    "ToolService reconciles running or due now: the backlog (0 when the operator keeps up).",
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


class RolloutPhases(Collector):
    """toolfleet_rollouts{phase}: ToolServices by rollout phase, counted when scraped from
    what the watch holds (`count`), not at every ToolService event, which walked the
    whole fleet once per event."""

    def __init__(self) -> None:
        self.count: Callable[[], Mapping[str, int]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("toolfleet_rollouts", "ToolServices by rollout phase.",
                                   labels=["phase"])
        for phase, count in (self.count() if self.count is not None else {}).items():
            family.add_metric([phase], count)
        yield family


ROLLOUTS = RolloutPhases()
REGISTRY.register(ROLLOUTS)
