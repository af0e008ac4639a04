"""The Prometheus client and `measure` (rollout/prometheus.py), against a stand-in Prometheus."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from toolfleet.api.toolservice import Analysis
from toolfleet.rollout.analysis import AnalysisTarget, Outcome, Sample, build_queries
from toolfleet.rollout.prometheus import PrometheusError, measure, query_prometheus

TARGET = AnalysisTarget(namespace="ml", toolservice="segmenter", revision="ab12cd34ef")


def analysis(**overrides: Any) -> Analysis:
    fields: dict[str, Any] = {"prometheusURL": "http://prometheus.monitoring:9090",
                              "maxErrorRate": 0.05, "intervalSeconds": 60}
    return Analysis.model_validate({**fields, **overrides})


# -- the HTTP API ---------------------------------------------------------------------


@dataclass
class FakePrometheus:
    """Answers /api/v1/query with a canned status and body, and remembers the queries."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    queries: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fake.queries.append((parts.path, parse_qs(parts.query).get("query", [""])[0]))
            time.sleep(fake.delay)
            payload = fake.body if isinstance(fake.body, bytes) else json.dumps(fake.body).encode()
            try:
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except BrokenPipeError:
                pass  # the client gave up waiting, as the timeout test wants

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # do not wait for the deliberately slow handler
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def vector(*values: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"revision": "ab12cd34ef"}, "value": [1767268800.0, v]} for v in values]}}


def test_query_returns_the_samples(prometheus: FakePrometheus) -> None:
    prometheus.body = vector("0.0125")
    samples = query_prometheus(prometheus.url + "/", 'up{job="x"}', timeout=5)
    assert samples == [Sample(labels={"revision": "ab12cd34ef"}, value=0.0125)]
    assert prometheus.queries == [("/api/v1/query", 'up{job="x"}')]


def test_query_reads_scalars_and_nan(prometheus: FakePrometheus) -> None:
    prometheus.body = {"status": "success", "data": {"resultType": "scalar",
                                                     "result": [1767268800.0, "NaN"]}}
    [sample] = query_prometheus(prometheus.url, "vector(0) / 0", timeout=5)
    assert math.isnan(sample.value)


def test_query_keeps_a_path_prefix(prometheus: FakePrometheus) -> None:
    prometheus.body = vector()
    assert query_prometheus(prometheus.url + "/prometheus", "up", timeout=5) == []
    assert prometheus.queries[0][0] == "/prometheus/api/v1/query"


def test_a_rejected_query_raises_with_the_reason(prometheus: FakePrometheus) -> None:
    prometheus.status = 400
    prometheus.body = {"status": "error", "errorType": "bad_data",
                       "error": "1:5: parse error: unexpected end of input"}
    with pytest.raises(PrometheusError, match="HTTP 400: bad_data: 1:5: parse error"):
        query_prometheus(prometheus.url, "sum(", timeout=5)


@pytest.mark.parametrize("body", [b"<html>gateway</html>", {"status": "error", "error": "boom"},
                                  {"status": "success", "data": {"resultType": "matrix",
                                                                 "result": []}}])
def test_answers_that_are_not_a_query_result_raise(prometheus: FakePrometheus, body: Any) -> None:
    prometheus.body = body
    with pytest.raises(PrometheusError, match=prometheus.url):
        query_prometheus(prometheus.url, "up", timeout=5)


def test_an_unreachable_prometheus_raises_with_the_fix() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PrometheusError, match=r"could not reach Prometheus.*prometheusURL"):
        query_prometheus(f"http://127.0.0.1:{port}", "up", timeout=2)


def test_a_slow_prometheus_times_out(prometheus: FakePrometheus) -> None:
    prometheus.body = vector("1")
    prometheus.delay = 1.0
    with pytest.raises(PrometheusError, match="could not reach Prometheus"):
        query_prometheus(prometheus.url, "up", timeout=0.2)


def test_measure_runs_every_check_end_to_end(prometheus: FakePrometheus) -> None:
    prometheus.body = vector("0.2")
    verdict = measure(analysis(prometheusURL=prometheus.url, maxP95LatencyMs=500), TARGET,
                      timeout=5)
    assert verdict.outcome is Outcome.failed and verdict.value == 0.2
    assert [q for _, q in prometheus.queries] == list(
        build_queries(analysis(maxP95LatencyMs=500), TARGET).values())


def test_measure_turns_an_unreachable_prometheus_into_an_inconclusive_verdict() -> None:
    def unreachable(url: str, promql: str, timeout: float) -> list[Sample]:
        raise PrometheusError(f"could not reach Prometheus at {url} (refused)")

    verdict = measure(analysis(), TARGET, fetch=unreachable)
    assert verdict.outcome is Outcome.inconclusive
    assert verdict.message.startswith("analysis could not run: could not reach Prometheus")
