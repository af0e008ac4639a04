"""The cluster-analyzer process, called as users and routers call it: HTTP and MCP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from mcp import MCPError

from toolfleet_service.local import LocalService

TOOL = "segment_customers"
PATH = f"/tools/{TOOL}"


def listed_tool(service: LocalService) -> dict[str, Any]:
    listing = httpx.get(f"{service.url}/tools", timeout=10).json()
    [tool] = listing["tools"]
    return dict(tool)


def test_http_call_finds_the_segments(cluster_analyzer: LocalService, segments: Any) -> None:
    response = httpx.post(
        cluster_analyzer.url + PATH,
        json={"records": segments.records, "id_field": "customer_id"}, timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.headers["x-toolfleet-version"] == "1.0.0"
    result = response.json()
    Draft202012Validator(listed_tool(cluster_analyzer)["outputSchema"]).validate(result)
    assert (result["k"], result["k_chosen_by"]) == (3, "silhouette")
    assert [segment["size"] for segment in result["segments"]] == segments.sizes
    assert [s["categorical_centroid"][0]["value"] for s in result["segments"]] == segments.channel
    spend = [s["numeric_centroid"][0] for s in result["segments"]]
    assert [c["feature"] for c in spend] == ["annual_spend"] * 3
    assert [c["mean"] for c in spend] == pytest.approx(segments.spend, rel=0.05)
    assert result["summary"].startswith("3 segments among 60 customers")


def test_mcp_lists_and_calls_the_tool(
    cluster_analyzer: LocalService, segments: Any, mcp_caller: Any
) -> None:
    arguments = {"records": segments.records, "id_field": "customer_id", "k": 3}
    listed = listed_tool(cluster_analyzer)

    [tool] = mcp_caller.list_tools(cluster_analyzer.url)
    assert tool.name == TOOL
    assert tool.input_schema == listed["inputSchema"]
    assert tool.output_schema == listed["outputSchema"]
    assert tool.annotations is not None and tool.annotations.read_only_hint

    result = mcp_caller.call_tool(cluster_analyzer.url, TOOL, arguments)
    assert not result.is_error
    over_http = httpx.post(cluster_analyzer.url + PATH, json=arguments, timeout=60).json()
    assert result.structured_content == over_http  # one implementation behind both doors
    assert json.loads(result.content[0].text) == over_http
    assert [s["size"] for s in result.structured_content["segments"]] == segments.sizes


def _with(records: list[dict[str, Any]], index: int, **changes: Any) -> list[dict[str, Any]]:
    changed = [dict(record) for record in records]
    changed[index].update(changes)
    return changed


def bad_body(case: str, records: list[dict[str, Any]]) -> bytes:
    """A request body with one thing wrong with it."""
    arguments: dict[str, Any]
    if case == "not JSON":
        return b"{records: ["
    if case == "text where a number belongs":
        arguments = {"records": _with(records, 3, annual_spend="lots")}
    elif case == "argument of the wrong type":
        arguments = {"records": records, "k": "three"}
    elif case == "empty data":
        arguments = {"records": []}
    elif case == "misspelt argument":
        arguments = {"records": records, "recrods": []}
    elif case == "too many rows":
        arguments = {"records": records * 9}  # 540, over the 500 the fixture allows
    elif case == "body too large":
        arguments = {"records": _with(records, 0, note="x" * 250_000)}
    else:
        raise AssertionError(f"no such case: {case}")
    return json.dumps(arguments).encode()


@pytest.mark.parametrize(
    ("case", "status", "field", "words"),
    [
        ("text where a number belongs", 422, "records[3].annual_spend", "expected a number"),
        ("argument of the wrong type", 422, "k", "valid integer"),
        ("empty data", 422, "records", "at least 1 item"),
        ("misspelt argument", 422, "recrods", "Extra inputs are not permitted"),
        ("too many rows", 413, "records", "TOOLFLEET_MAX_ROWS"),
        ("body too large", 413, "body", "TOOLFLEET_MAX_BODY_BYTES"),
        ("not JSON", 400, "body", "not valid JSON"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_the_service_stays_up(
    cluster_analyzer: LocalService, segments: Any, case: str, status: int, field: str,
    words: str,
) -> None:
    body = bad_body(case, [{**record, "note": ""} for record in segments.records])

    response = httpx.post(
        cluster_analyzer.url + PATH, content=body,
        headers={"content-type": "application/json"}, timeout=60,
    )

    assert response.status_code == status, response.text
    error = response.json()
    assert words in error["error"]
    fields = [error["field"], *(problem["field"] for problem in error.get("errors", []))]
    assert field in fields
    if status == 413:
        limit, actual = ("TOOLFLEET_MAX_ROWS", 540) if field == "records" else (
            "TOOLFLEET_MAX_BODY_BYTES", len(body))
        assert (error["limit"], error["actual"]) == (limit, actual)
        assert error["maximum"] == {"records": 500, "body": 200_000}[field]
    assert httpx.get(f"{cluster_analyzer.url}/healthz", timeout=10).status_code == 200


def test_bad_input_over_mcp_is_an_error_result_naming_the_field(
    cluster_analyzer: LocalService, segments: Any, mcp_caller: Any
) -> None:
    arguments = {"records": _with(segments.records, 5, visits=None), "id_field": "customer_id"}

    result = mcp_caller.call_tool(cluster_analyzer.url, TOOL, arguments)

    assert result.is_error
    error = json.loads(result.content[0].text)
    assert error["field"] == "records[5].visits"
    assert "missing" in error["error"]


def test_metrics_move_after_calls(cluster_analyzer: LocalService, segments: Any) -> None:
    def counts() -> tuple[float, float, float]:
        return (
            cluster_analyzer.metric("toolfleet_tool_requests_total", tool=TOOL, outcome="ok"),
            cluster_analyzer.metric("toolfleet_tool_request_duration_seconds_count", tool=TOOL),
            cluster_analyzer.metric(
                "toolfleet_tool_rejected_requests_total", tool=TOOL, status="422"),
        )

    ok_before, timed_before, rejected_before = counts()
    good = {"records": segments.records, "id_field": "customer_id", "k": 3}
    assert httpx.post(cluster_analyzer.url + PATH, json=good, timeout=60).status_code == 200
    assert httpx.post(cluster_analyzer.url + PATH, json={"k": 3}, timeout=60).status_code == 422
    ok_after, timed_after, rejected_after = counts()

    # A rejected call is the service working: outcome ok, and counted as rejected.
    assert (ok_after - ok_before, timed_after - timed_before) == (2, 2)
    assert rejected_after - rejected_before == 1
    assert cluster_analyzer.metric(
        "toolfleet_tool_requests_total", tool=TOOL, outcome="error") == 0
    text = httpx.get(f"{cluster_analyzer.url}/metrics", timeout=10).text
    assert "\ntoolfleet_inflight_requests 0.0\n" in text


def test_probes_report_ready_and_the_version(cluster_analyzer: LocalService) -> None:
    ready = httpx.get(f"{cluster_analyzer.url}/readyz", timeout=10)
    health = httpx.get(f"{cluster_analyzer.url}/healthz", timeout=10)

    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert health.json() == {"status": "ok", "service": "cluster-analyzer", "version": "1.0.0"}
    missing = httpx.post(f"{cluster_analyzer.url}/tools/segment", json={}, timeout=10)
    assert missing.status_code == 404
    assert "POST /tools/segment_customers" in missing.json()["error"]


def test_limits_hold_over_mcp_too(
    cluster_analyzer: LocalService, segments: Any, mcp_caller: Any
) -> None:
    records = _with(segments.records, 0, note="x" * 210_000)

    result = mcp_caller.call_tool(cluster_analyzer.url, TOOL, {"records": records})

    assert result.is_error
    error = json.loads(result.content[0].text)
    assert (error["limit"], error["maximum"]) == ("TOOLFLEET_MAX_BODY_BYTES", 200_000)
    assert error["actual"] > 200_000


def test_an_unknown_mcp_tool_is_a_protocol_error_listing_the_tools(
    cluster_analyzer: LocalService, mcp_caller: Any
) -> None:
    with pytest.raises(MCPError, match="unknown tool 'segment'; cluster-analyzer offers: "
                                       "segment_customers"):
        mcp_caller.call_tool(cluster_analyzer.url, "segment", {})
