"""Canary analysis (rollout/analysis.py): the PromQL and the verdict, without I/O."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import Analysis
from toolfleet.rollout.analysis import (
    AnalysisTarget,
    Check,
    Outcome,
    QueryResult,
    Sample,
    build_queries,
    evaluate,
)

TARGET = AnalysisTarget(namespace="ml", toolservice="segmenter", revision="ab12cd34ef")


def analysis(**overrides: Any) -> Analysis:
    fields: dict[str, Any] = {"prometheusURL": "http://prometheus.monitoring:9090",
                              "maxErrorRate": 0.05, "intervalSeconds": 60}
    return Analysis.model_validate({**fields, **overrides})


def result(check: Check, *values: float) -> QueryResult:
    return QueryResult(check=check, query=f"<{check.value} query>",
                       samples=tuple(Sample(labels={}, value=v) for v in values))


# -- queries --------------------------------------------------------------------------


def test_each_query_selects_the_canary_revision_over_the_interval_in_both_sources() -> None:
    queries = build_queries(analysis(maxP95LatencyMs=250, intervalSeconds=30), TARGET)
    assert set(queries) == {Check.error_rate, Check.p95_latency}
    selector = 'namespace="ml",toolservice="segmenter",revision="ab12cd34ef"'
    for query in queries.values():
        # What the queries mean is checked against Prometheus itself
        # (test_analysis_promql.py); here, only what they select.
        assert query.count(selector) == 4 and query.count("[30s]") == 4
        assert "toolfleet_gateway_tool_call" in query and "toolfleet_tool_request" in query


def test_latency_query_only_when_a_latency_limit_is_set() -> None:
    assert set(build_queries(analysis(), TARGET)) == {Check.error_rate}


def test_label_values_are_escaped() -> None:
    queries = build_queries(analysis(), AnalysisTarget('a"b', "c\\d", "e"))
    assert 'namespace="a\\"b",toolservice="c\\\\d"' in queries[Check.error_rate]


# -- evaluate -------------------------------------------------------------------------


def test_within_limits_passes() -> None:
    verdict = evaluate(analysis(maxP95LatencyMs=300),
                       [result(Check.error_rate, 0.01), result(Check.p95_latency, 0.12)])
    assert verdict.outcome is Outcome.passed
    assert verdict.message == ("error rate 0.01 is within the limit 0.05; p95 latency 120 ms is "
                               "within the limit 300 ms")


def test_an_error_rate_over_the_limit_fails_with_query_and_value() -> None:
    verdict = evaluate(analysis(), [result(Check.error_rate, 0.12)])
    assert verdict.outcome is Outcome.failed
    assert (verdict.query, verdict.value) == ("<errorRate query>", 0.12)
    assert verdict.message == ("error rate 0.12 is over the limit 0.05 "
                               "(query: <errorRate query>)")


def test_a_slow_canary_fails_in_milliseconds() -> None:
    verdict = evaluate(analysis(maxP95LatencyMs=200),
                       [result(Check.error_rate, 0.0), result(Check.p95_latency, 0.45)])
    assert verdict.outcome is Outcome.failed and verdict.value == 0.45
    assert "p95 latency 450 ms is over the limit 200 ms" in verdict.message


def test_no_traffic_is_inconclusive_not_a_failure() -> None:
    empty = evaluate(analysis(), [result(Check.error_rate)])
    assert empty.outcome is Outcome.inconclusive
    assert "no canary traffic in the last 60s" in empty.message
    nan = evaluate(analysis(), [result(Check.error_rate, math.nan)])
    assert nan.outcome is Outcome.inconclusive
    missing = evaluate(analysis(maxP95LatencyMs=100), [result(Check.error_rate, 0.0)])
    assert missing.outcome is Outcome.inconclusive and "p95 latency" in missing.message


def test_a_failure_outweighs_missing_data() -> None:
    verdict = evaluate(analysis(maxP95LatencyMs=100),
                       [result(Check.error_rate, 0.5), result(Check.p95_latency)])
    assert verdict.outcome is Outcome.failed


def test_latency_beyond_the_last_bucket_fails() -> None:
    verdict = evaluate(analysis(maxP95LatencyMs=100),
                       [result(Check.error_rate, 0.0), result(Check.p95_latency, math.inf)])
    assert verdict.outcome is Outcome.failed


def test_several_series_are_judged_by_the_worst() -> None:
    verdict = evaluate(analysis(), [result(Check.error_rate, 0.01, 0.2)])
    assert verdict.outcome is Outcome.failed and verdict.value == 0.2


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1), st.floats(0, 1), st.none() | st.floats(0, 5), st.integers(1, 5000))
def test_the_verdict_is_the_numbers_against_the_limits(limit: float, rate: float,
                                                       latency: float | None,
                                                       limit_ms: int) -> None:
    checks = analysis(maxErrorRate=limit, maxP95LatencyMs=limit_ms)
    results = [result(Check.error_rate, rate)]
    if latency is not None:
        results.append(result(Check.p95_latency, latency))
    over = rate > limit or (latency is not None and latency > limit_ms / 1000)
    expected = Outcome.failed if over else (
        Outcome.inconclusive if latency is None else Outcome.passed)
    assert evaluate(checks, results).outcome is expected
