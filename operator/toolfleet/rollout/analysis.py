"""Canary analysis: the Prometheus queries run at the end of each step, and their verdict.

Two sources measure a revision's calls, and the queries prefer the first:

1. the gateway's (`operator/toolfleet/gateway/metrics.py`), for every
   ToolService whatever its image: `toolfleet_gateway_tool_calls_total`
   (labels `namespace`, `toolservice`, `revision`, `outcome` = ok, tool_error
   or error; an MCP `isError` result is a tool_error, and counts as failed)
   and the histogram `toolfleet_gateway_tool_call_duration_seconds`. The
   gateway sets these labels itself, so its scrape keeps them
   (`honor_labels: true`; the chart's ServiceMonitor sets `honorLabels`).
2. the service's own, where no gateway carries the calls
   (`services/common/toolfleet_service/metrics.py`):
   `toolfleet_tool_requests_total` (labels `tool`, `outcome` = ok or error)
   and the histogram `toolfleet_tool_request_duration_seconds`. Prometheus
   adds `namespace`, `toolservice` and `revision` as target labels, as the
   PodMonitor relabelling toolfleet documents does.

The error rate, over the step's interval W, for revision selector S:

    (sum(rate(toolfleet_gateway_tool_calls_total{S,outcome!="ok"}[W])) or vector(0))
      / (sum(rate(toolfleet_gateway_tool_calls_total{S}[W])) > 0)
    or
    (sum(rate(toolfleet_tool_requests_total{S,outcome="error"}[W])) or vector(0))
      / (sum(rate(toolfleet_tool_requests_total{S}[W])) > 0)

`> 0` drops a source that carried no call in the window, so `or` falls back
to the other instead of answering NaN. The p95 latency is the same shape with
`histogram_quantile(0.95, sum by (le) (rate(<histogram>_bucket{S}[W])))`,
kept only where that source counted calls.

"No data" is explicit: a canary that served no requests in the window has no
error rate and no latency. That is *inconclusive*, not a failure: the step is
held and analysed again later (a canary without traffic never promotes on its
own; promote it by hand with the rollout-control annotation). A Prometheus that
cannot be reached is inconclusive too, with the reason in the message.

Everything here is pure: `build_queries` writes the PromQL and `evaluate`
judges the numbers. `prometheus.py` asks Prometheus, and its `measure` runs both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from toolfleet.api.toolservice import Analysis

REQUESTS_METRIC = "toolfleet_tool_requests_total"
DURATION_METRIC = "toolfleet_tool_request_duration_seconds"
GATEWAY_CALLS_METRIC = "toolfleet_gateway_tool_calls_total"
GATEWAY_DURATION_METRIC = "toolfleet_gateway_tool_call_duration_seconds"


@dataclass(frozen=True)
class _Source:
    """Where a revision's calls are counted: a counter, which of its series failed, a histogram."""

    calls: str
    failed: str
    duration: str


# In order of preference: the first source with calls in the window answers.
SOURCES = (
    _Source(GATEWAY_CALLS_METRIC, 'outcome!="ok"', GATEWAY_DURATION_METRIC),
    _Source(REQUESTS_METRIC, 'outcome="error"', DURATION_METRIC),
)


class Check(StrEnum):
    """A measurement the analysis compares with a limit."""

    error_rate = "errorRate"
    p95_latency = "p95Latency"


class Outcome(StrEnum):
    """The verdict of one analysis."""

    passed = "Passed"
    failed = "Failed"
    inconclusive = "Inconclusive"


@dataclass(frozen=True)
class AnalysisTarget:
    """Which pods' metrics to query: one revision of one ToolService."""

    namespace: str
    toolservice: str
    revision: str


@dataclass(frozen=True)
class Sample:
    """One series of an instant-query result."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class QueryResult:
    """What Prometheus answered to one check's query."""

    check: Check
    query: str
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Measurement:
    """One check's value (None: no data) against its limit.

    Units: the error rate is a fraction of requests (0 to 1); the p95 latency
    is in seconds, as Prometheus measures it (the spec's limit is in ms).
    """

    check: Check
    query: str
    value: float | None
    limit: float

    @property
    def failed(self) -> bool:
        """Whether the value is over the limit (no data never fails)."""
        return self.value is not None and self.value > self.limit


@dataclass(frozen=True)
class AnalysisResult:
    """The verdict, and the query and value that decided it."""

    outcome: Outcome
    message: str
    query: str | None = None
    value: float | None = None
    measurements: tuple[Measurement, ...] = field(default=())

    @classmethod
    def inconclusive(cls, message: str) -> AnalysisResult:
        """A result that neither passes nor fails, e.g. when Prometheus is unreachable."""
        return cls(outcome=Outcome.inconclusive, message=message)


@dataclass(frozen=True)
class AnalysisKey:
    """Which step attempt an analysis belongs to; a result for another key is ignored.

    `step` counts from 0; `step_started_at` is the step's stepStartedAt (RFC
    3339), which changes each time the step is held again, so a result
    cannot be applied to another attempt or twice to the same one.
    """

    revision: str
    step: int
    step_started_at: str


@dataclass(frozen=True)
class StepAnalysis:
    """An analysis result, tagged with the key `analysis_due` (or `Decision.analyze`) gave."""

    key: AnalysisKey
    result: AnalysisResult


def build_queries(analysis: Analysis, target: AnalysisTarget) -> dict[Check, str]:
    """The PromQL for each configured check, over the last `analysis.interval_seconds`.

    The error rate is failed / all calls, from the gateway's metric where it
    counted calls in the window, else from the service's own (the module
    docstring has the query). With calls but no failed series it is 0; with no
    calls in either source it is no data. The p95 latency (seconds) is asked
    for only when `maxP95LatencyMs` is set.
    """
    selector = (f'namespace="{_escape(target.namespace)}",'
                f'toolservice="{_escape(target.toolservice)}",'
                f'revision="{_escape(target.revision)}"')
    window = f"{analysis.interval_seconds}s"
    queries = {Check.error_rate: " or ".join(
        f"((sum(rate({source.calls}{{{selector},{source.failed}}}[{window}])) or vector(0))"
        f" / (sum(rate({source.calls}{{{selector}}}[{window}])) > 0))"
        for source in SOURCES)}
    if analysis.max_p95_latency_ms is not None:
        queries[Check.p95_latency] = " or ".join(
            f"(histogram_quantile(0.95, sum by (le) "
            f"(rate({source.duration}_bucket{{{selector}}}[{window}])))"
            f" and on () (sum(rate({source.calls}{{{selector}}}[{window}])) > 0))"
            for source in SOURCES)
    return queries


def evaluate(analysis: Analysis, results: Sequence[QueryResult]) -> AnalysisResult:
    """Turn query results into a verdict; a failure names the query and its value.

    Any check over its limit fails the analysis. Otherwise, any check without
    data (empty result or NaN, i.e. no requests in the window) makes it
    inconclusive. A configured check missing from `results` counts as no data.
    """
    by_check = {result.check: result for result in results}
    limits = {Check.error_rate: analysis.max_error_rate}
    if analysis.max_p95_latency_ms is not None:
        limits[Check.p95_latency] = analysis.max_p95_latency_ms / 1000
    measurements = tuple(
        Measurement(check=check, query=by_check[check].query if check in by_check else "",
                    value=_value(by_check[check].samples) if check in by_check else None,
                    limit=limit)
        for check, limit in limits.items()
    )
    failed = [m for m in measurements if m.failed]
    if failed:
        first = failed[0]
        return AnalysisResult(
            outcome=Outcome.failed, query=first.query, value=first.value,
            measurements=measurements,
            message="; ".join(f"{_describe(m)} is over the limit {_limit(m)} "
                              f"(query: {m.query})" for m in failed),
        )
    missing = [m for m in measurements if m.value is None]
    if missing:
        first = missing[0]
        return AnalysisResult(
            outcome=Outcome.inconclusive, query=first.query, measurements=measurements,
            message=f"no canary traffic in the last {analysis.interval_seconds}s: "
                    f"{_name(first.check)} has no data (query: {first.query})",
        )
    return AnalysisResult(
        outcome=Outcome.passed, measurements=measurements,
        query=measurements[0].query, value=measurements[0].value,
        message="; ".join(f"{_describe(m)} is within the limit {_limit(m)}"
                          for m in measurements),
    )


def _value(samples: Sequence[Sample]) -> float | None:
    # The queries aggregate to one series; should there be more, judge by the worst.
    values = [s.value for s in samples if not math.isnan(s.value)]
    return max(values) if values else None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _name(check: Check) -> str:
    return "the error rate" if check is Check.error_rate else "the p95 latency"


def _describe(measurement: Measurement) -> str:
    if measurement.check is Check.error_rate:
        return f"error rate {_number(measurement.value)}"
    value = measurement.value
    return f"p95 latency {_number(None if value is None else value * 1000)} ms"


def _limit(measurement: Measurement) -> str:
    if measurement.check is Check.error_rate:
        return _number(measurement.limit)
    return f"{_number(measurement.limit * 1000)} ms"


def _number(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:.4g}"
