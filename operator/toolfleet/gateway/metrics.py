"""The gateway's Prometheus metrics: every call counted per catalog, service, tool, revision.

Canary analysis reads these, so it works for any image, including one that
exports no metric of its own. The failure rate of a revision is

    sum(rate(toolfleet_gateway_tool_calls_total{namespace="ns", toolservice="svc",
             revision="r", outcome!="ok"}[5m]))
    / sum(rate(toolfleet_gateway_tool_calls_total{namespace="ns", toolservice="svc",
               revision="r"}[5m]))

Each gateway owns a registry (not the process-wide default) so that several
gateways in one test process count apart.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from toolfleet.gateway.results import Outcome

CALL_LABELS = ("catalog", "namespace", "toolservice", "tool", "revision")
# Seconds; from a trivial tool's few milliseconds to the longest timeouts.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                    120.0, 300.0)


class GatewayMetrics:
    """Counters and histograms of one gateway, in its own registry."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "toolfleet_gateway_tool_calls_total",
            "Tool calls through the gateway, by outcome: ok; tool_error (an MCP isError result "
            "or a 4xx from the tool); error (5xx, timeout, refused, no backend with room).",
            [*CALL_LABELS, "outcome"], registry=self.registry)
        self.duration = Histogram(
            "toolfleet_gateway_tool_call_duration_seconds",
            "Time from receiving a call to having its result, retries included.",
            CALL_LABELS, buckets=DURATION_BUCKETS, registry=self.registry)
        self.retries = Counter(
            "toolfleet_gateway_tool_call_retries_total",
            "Attempts after the first, for idempotent or read-only tools.",
            CALL_LABELS, registry=self.registry)
        self.rejected = Counter(
            "toolfleet_gateway_requests_rejected_total",
            "Requests answered with an error before any tool was called, by HTTP status.",
            ["catalog", "status"], registry=self.registry)
        # The children of `calls` and `duration` per label values: labels() takes a lock
        # and builds a key on every call. Bounded by the tools and revisions published.
        self._children: dict[tuple[tuple[str, ...], Outcome], tuple[Any, Any]] = {}

    def record(self, labels: tuple[str, str, str, str, str], outcome: Outcome,
               seconds: float, attempts: int) -> None:
        """Count one call: its outcome, its duration in seconds, its retries."""
        children = self._children.get((labels, outcome))
        if children is None:
            children = self._children[(labels, outcome)] = (
                self.calls.labels(*labels, str(outcome)), self.duration.labels(*labels))
        children[0].inc()
        children[1].observe(seconds)
        if attempts > 1:
            self.retries.labels(*labels).inc(attempts - 1)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
