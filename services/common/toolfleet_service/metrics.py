"""The Prometheus metrics every toolfleet service exports at /metrics.

The names are a contract with the operator: the ToolService HPA scales on
`toolfleet_inflight_requests` (a Pods metric), and canary analysis computes
error rate and latency from `toolfleet_tool_requests_total` and
`toolfleet_tool_request_duration_seconds`. Renaming one breaks both.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

INFLIGHT_REQUESTS = "toolfleet_inflight_requests"
REQUEST_DURATION = "toolfleet_tool_request_duration_seconds"
REQUESTS_TOTAL = "toolfleet_tool_requests_total"
REJECTED_TOTAL = "toolfleet_tool_rejected_requests_total"

# From a fast validation error (~1 ms) to a long fit on the largest allowed input.
DURATION_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)

Outcome = Literal["ok", "error"]


def outcome_of(status: int) -> Outcome:
    """A response status as the canary sees it: only the service's own failures count.

    A 4xx answer is the service working as it should (rejecting bad input), so it
    counts as ok, as in the usual Argo Rollouts success-rate queries; rejections
    are counted separately in toolfleet_tool_rejected_requests_total.
    """
    return "error" if status >= 500 else "ok"


class ServiceMetrics:
    """The metrics of one service instance, in a registry of its own."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        # A registry per instance, not the global one, so that several apps can
        # live in one process (tests) without "duplicated timeseries" errors.
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.inflight = Gauge(
            INFLIGHT_REQUESTS,
            "Tool calls being served right now (HTTP and MCP); the ToolService HPA target.",
            registry=self.registry,
        )
        self.duration = Histogram(
            REQUEST_DURATION,
            "Time to answer a tool call, from request to response, by tool.",
            ["tool"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            REQUESTS_TOTAL,
            "Tool calls answered, by tool and outcome (error: a 5xx, the service failed).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.rejected = Counter(
            REJECTED_TOTAL,
            "Tool calls refused for their input (4xx), by tool and HTTP status.",
            ["tool", "status"],
            registry=self.registry,
        )

    def prepare(self, tool_names: list[str]) -> None:
        """Create every tool's series at zero, so rates exist before the first call."""
        for name in tool_names:
            self.duration.labels(tool=name)
            for outcome in ("ok", "error"):
                self.requests.labels(tool=name, outcome=outcome)

    def record(self, tool: str, status: int, seconds: float) -> None:
        """Count one answered tool call."""
        self.duration.labels(tool=tool).observe(seconds)
        self.requests.labels(tool=tool, outcome=outcome_of(status)).inc()
        if 400 <= status < 500:
            self.rejected.labels(tool=tool, status=str(status)).inc()

    def exposition(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return bytes(generate_latest(self.registry))
