"""The one client that asks Prometheus, and `measure`: a canary analysis run against it.

`query_prometheus` is the only I/O of the rollout: one HTTP GET of an instant
query. `measure` runs an analysis's queries (`analysis.build_queries`) through
it and hands the numbers to the pure verdict (`analysis.evaluate`).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from toolfleet.api.toolservice import Analysis
from toolfleet.rollout.analysis import (
    AnalysisResult,
    AnalysisTarget,
    QueryResult,
    Sample,
    build_queries,
    evaluate,
)

# How long one query may take before the analysis gives up on it.
QUERY_TIMEOUT_SECONDS = 10.0

Fetch = Callable[[str, str, float], Sequence[Sample]]
"""(Prometheus base URL, PromQL, timeout in seconds) -> samples; raises PrometheusError."""


class PrometheusError(Exception):
    """Prometheus could not be queried, or answered something other than a result."""


def measure(analysis: Analysis, target: AnalysisTarget, fetch: Fetch | None = None,
            timeout: float = QUERY_TIMEOUT_SECONDS) -> AnalysisResult:
    """Run the checks of `analysis` for `target` against `analysis.prometheus_url`; the verdict.

    `fetch` defaults to `query_prometheus`; `timeout` (seconds) bounds each
    query. An unreachable Prometheus gives an inconclusive result (the step is
    held and retried), never a failure; nothing is raised.
    """
    run = fetch or query_prometheus
    results: list[QueryResult] = []
    for check, promql in build_queries(analysis, target).items():
        try:
            samples = tuple(run(analysis.prometheus_url, promql, timeout))
        except PrometheusError as err:
            return AnalysisResult.inconclusive(f"analysis could not run: {err}")
        results.append(QueryResult(check=check, query=promql, samples=samples))
    return evaluate(analysis, results)


def query_prometheus(url: str, promql: str, timeout: float = QUERY_TIMEOUT_SECONDS,
                     ) -> list[Sample]:
    """Run an instant query against the Prometheus HTTP API (`GET {url}/api/v1/query`).

    Raises PrometheusError, with the URL and the reason, on network errors,
    timeouts, HTTP errors and answers that are not a successful query result.
    """
    endpoint = f"{url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    request = urllib.request.Request(endpoint, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        detail = _api_error(err.read()) or err.reason
        raise PrometheusError(f"Prometheus at {url} answered HTTP {err.code}: {detail}") from err
    except (OSError, http.client.HTTPException) as err:  # URLError and timeouts are OSErrors
        reason = getattr(err, "reason", err)
        raise PrometheusError(
            f"could not reach Prometheus at {url} ({reason}); check rollout.analysis."
            "prometheusURL and that the operator may connect to it"
        ) from err
    return _parse(url, body)


def _parse(url: str, body: bytes) -> list[Sample]:
    try:
        document = json.loads(body)
    except ValueError as err:
        raise PrometheusError(f"Prometheus at {url} answered something other than JSON") from err
    if not isinstance(document, dict) or document.get("status") != "success":
        detail = _api_error(body) or "no status"
        raise PrometheusError(f"Prometheus at {url} did not run the query: {detail}")
    data: Any = document.get("data") or {}
    kind: Any = data.get("resultType")
    result: Any = data.get("result")
    try:
        if kind == "vector":
            return [Sample(labels=dict(item.get("metric") or {}), value=float(item["value"][1]))
                    for item in result]
        if kind == "scalar":
            return [Sample(labels={}, value=float(result[1]))]
    except (TypeError, KeyError, IndexError, ValueError) as err:
        raise PrometheusError(f"Prometheus at {url} answered a malformed {kind}") from err
    raise PrometheusError(f"Prometheus at {url} answered a {kind!r} result; the analysis "
                          "queries expect an instant vector")


def _api_error(body: bytes) -> str | None:
    try:
        document: Any = json.loads(body)
    except ValueError:
        return None
    if isinstance(document, dict) and document.get("error"):
        return f"{document.get('errorType', 'error')}: {document['error']}"
    return None


