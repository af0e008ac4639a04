"""What the canary analysis's PromQL answers, evaluated by Prometheus (`promtool test rules`).

Each case feeds series as a gateway and a service would export them, and
checks the value the operator then judges: the gateway's metric where it
carried calls in the window, the service's own otherwise, no data where
neither did.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from toolfleet.api.toolservice import Analysis
from toolfleet.rollout.analysis import AnalysisTarget, Check, build_queries

PROMTOOL = shutil.which("promtool")


@pytest.fixture(autouse=True)
def promtool() -> None:
    """promtool, which comes with Prometheus: `make test` installs it (hack/deps.sh) and
    says so with TOOLFLEET_SYSTEM_DEPS=1, where its absence is a failure; a skip elsewhere."""
    if PROMTOOL is None:
        missing = pytest.fail if os.environ.get("TOOLFLEET_SYSTEM_DEPS") == "1" else pytest.skip
        missing("promtool is not installed: hack/deps.sh installs it with Prometheus")

CANARY = 'namespace="ml",toolservice="segmenter",revision="canary1"'
OTHER = 'namespace="ml",toolservice="segmenter",revision="stable1"'
GATEWAY = "toolfleet_gateway_tool_calls_total"
SERVICE = "toolfleet_tool_requests_total"
# Series every 15 s for 10 minutes; evaluated at 10 m over the last 60 s.
STEPS = 40


def counter(name: str, labels: str, per_step: float, *, flat_after: int | None = None
            ) -> dict[str, str]:
    """A counter growing by `per_step` every 15 s (stopping after `flat_after` steps)."""
    if flat_after is None:
        values = f"0+{per_step}x{STEPS}"
    else:
        values = f"0+{per_step}x{flat_after} {per_step * flat_after}x{STEPS - flat_after}"
    return {"series": f"{name}{{{labels}}}", "values": values}


def histogram(name: str, labels: str, buckets: dict[str, float]) -> list[dict[str, str]]:
    """A histogram's cumulative bucket counters, each growing per step as given."""
    return [counter(f"{name}_bucket", f'{labels},le="{le}"', per_step)
            for le, per_step in buckets.items()]


def evaluate(tmp_path: Path, series: list[dict[str, str]], check: Check) -> list[float]:
    """The values Prometheus gives the check's query at 10 m (empty: no data)."""
    analysis = Analysis.model_validate({"prometheusURL": "http://prometheus:9090",
                                        "maxErrorRate": 0.1, "maxP95LatencyMs": 500,
                                        "intervalSeconds": 60})
    query = build_queries(analysis, AnalysisTarget("ml", "segmenter", "canary1"))[check]
    # promtool compares against the expected samples; ask for an impossible one and
    # read what it got from its failure message instead.
    test: dict[str, Any] = {"rule_files": [], "evaluation_interval": "15s", "tests": [{
        "interval": "15s", "input_series": series,
        "promql_expr_test": [{"expr": query, "eval_time": "10m",
                               "exp_samples": [{"labels": '{__probe__="x"}', "value": -1}]}]}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test))
    assert PROMTOOL is not None
    run = subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True,
                         text=True, timeout=60)
    output = run.stdout + run.stderr
    assert "got:" in output, output
    # e.g. `got: {} 2.5E-01`, or `got: nil` for no data.
    got = output.split("got:", 1)[1].split("\n", 1)[0]
    return [float(value) for value in re.findall(r"\}\s+(\S+?),?(?=\s|$)", got)]


def test_the_gateway_counts_tool_errors_as_failed_calls(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="ok"', 3),
              counter(GATEWAY, f'{CANARY},outcome="tool_error"', 1)]
    assert evaluate(tmp_path, series, Check.error_rate) == [pytest.approx(0.25)]


def test_without_a_gateway_the_services_own_metric_answers(tmp_path: Path) -> None:
    series = [counter(SERVICE, f'{CANARY},tool="segment",outcome="ok"', 9),
              counter(SERVICE, f'{CANARY},tool="segment",outcome="error"', 1)]
    assert evaluate(tmp_path, series, Check.error_rate) == [pytest.approx(0.1)]


def test_the_gateway_is_preferred_where_both_counted_calls(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="ok"', 1),
              counter(GATEWAY, f'{CANARY},outcome="error"', 1),
              counter(SERVICE, f'{CANARY},tool="segment",outcome="ok"', 10)]
    assert evaluate(tmp_path, series, Check.error_rate) == [pytest.approx(0.5)]


def test_a_gateway_idle_in_the_window_falls_back_to_the_service(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="error"', 1, flat_after=10),
              counter(SERVICE, f'{CANARY},tool="segment",outcome="ok"', 4),
              counter(SERVICE, f'{CANARY},tool="segment",outcome="error"', 1)]
    assert evaluate(tmp_path, series, Check.error_rate) == [pytest.approx(0.2)]


def test_calls_without_failures_are_a_zero_error_rate(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="ok"', 2)]
    assert evaluate(tmp_path, series, Check.error_rate) == [0.0]


def test_no_calls_in_the_window_is_no_data(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="ok"', 2, flat_after=5),
              counter(GATEWAY, f'{OTHER},outcome="error"', 2)]
    assert evaluate(tmp_path, series, Check.error_rate) == []


def test_other_revisions_failures_do_not_count(tmp_path: Path) -> None:
    series = [counter(GATEWAY, f'{CANARY},outcome="ok"', 2),
              counter(GATEWAY, f'{OTHER},outcome="error"', 5)]
    assert evaluate(tmp_path, series, Check.error_rate) == [0.0]


def test_p95_latency_from_the_gateways_histogram(tmp_path: Path) -> None:
    # Per step: 10 calls, all under 0.5 s, 5 of them under 0.1 s: p95 is in (0.1, 0.5].
    series = [*histogram("toolfleet_gateway_tool_call_duration_seconds", CANARY,
                         {"0.1": 5, "0.5": 10, "+Inf": 10}),
              counter(GATEWAY, f'{CANARY},outcome="ok"', 10)]
    (p95,) = evaluate(tmp_path, series, Check.p95_latency)
    assert p95 == pytest.approx(0.1 + 0.4 * (9.5 - 5) / 5)


def test_p95_latency_falls_back_to_the_services_histogram(tmp_path: Path) -> None:
    series = [*histogram("toolfleet_gateway_tool_call_duration_seconds", CANARY,
                         {"0.1": 0, "+Inf": 0}),
              *histogram("toolfleet_tool_request_duration_seconds",
                         f'{CANARY},tool="segment"', {"1": 10, "+Inf": 10}),
              counter(SERVICE, f'{CANARY},tool="segment",outcome="ok"', 10)]
    (p95,) = evaluate(tmp_path, series, Check.p95_latency)
    assert p95 == pytest.approx(0.95)
