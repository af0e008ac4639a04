"""The anomaly-detector process, called as users and routers call it: HTTP and MCP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from toolfleet_service.local import LocalService

TOOL = "score_anomalies"
PATH = f"/tools/{TOOL}"


def test_http_call_ranks_the_planted_anomalies_first(
    anomaly_detector: LocalService, transactions: Any
) -> None:
    response = httpx.post(
        anomaly_detector.url + PATH,
        json={"records": transactions.records, "id_field": "transaction_id",
              "contamination": 0.025},
        timeout=60,
    )

    assert response.status_code == 200, response.text
    assert response.headers["x-toolfleet-version"] == "1.0.0"
    result = response.json()
    [tool] = httpx.get(f"{anomaly_detector.url}/tools", timeout=10).json()["tools"]
    Draft202012Validator(tool["outputSchema"]).validate(result)
    assert [record["id"] for record in result["flagged"]] == sorted(
        transactions.planted, key=lambda i: -result["scores"][int(i[1:])]
    )
    assert {r["id"]: r["top_features"][0]["feature"] for r in result["flagged"]} == (
        transactions.planted
    )
    assert len(result["scores"]) == len(transactions.records)
    ordinary = [s for i, s in enumerate(result["scores"]) if i not in (17, 52)]
    assert min(r["score"] for r in result["flagged"]) > max(ordinary)


def test_mcp_lists_and_calls_the_tool(
    anomaly_detector: LocalService, transactions: Any, mcp_caller: Any
) -> None:
    arguments = {"records": transactions.records, "id_field": "transaction_id",
                 "threshold": 0.7}

    [tool] = mcp_caller.list_tools(anomaly_detector.url)
    assert tool.name == TOOL and "outlier" in (tool.description or "")

    result = mcp_caller.call_tool(anomaly_detector.url, TOOL, arguments)
    assert not result.is_error
    over_http = httpx.post(anomaly_detector.url + PATH, json=arguments, timeout=60).json()
    assert result.structured_content == over_http
    assert {r["id"] for r in result.structured_content["flagged"]} == set(transactions.planted)


@pytest.mark.parametrize(
    ("change", "status", "field", "words"),
    [
        ({"records": "all of them"}, 422, "records", "valid list"),
        ({"contamination": 0.9}, 422, "contamination", "less than or equal to 0.5"),
        ({"records": [{"amount": 1.0, "country": "NL"}] * 501}, 413, "records",
         "TOOLFLEET_MAX_ROWS"),
        ({"records": []}, 422, "records", "at least 1 item"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_the_service_stays_up(
    anomaly_detector: LocalService, transactions: Any, change: dict[str, Any], status: int,
    field: str, words: str,
) -> None:
    arguments = {"records": transactions.records, "id_field": "transaction_id", **change}

    response = httpx.post(anomaly_detector.url + PATH, json=arguments, timeout=60)

    assert response.status_code == status, response.text
    assert response.json()["field"] == field
    assert words in response.json()["error"]
    assert httpx.get(f"{anomaly_detector.url}/healthz", timeout=10).status_code == 200


def test_a_quoted_number_is_refused_over_both_doors(
    anomaly_detector: LocalService, transactions: Any, mcp_caller: Any
) -> None:
    records = [dict(record) for record in transactions.records]
    records[5]["amount"] = "9,500"
    arguments = {"records": records, "id_field": "transaction_id"}

    over_http = httpx.post(anomaly_detector.url + PATH, json=arguments, timeout=60)
    over_mcp = mcp_caller.call_tool(anomaly_detector.url, TOOL, arguments)

    assert over_http.status_code == 422
    assert over_http.json()["field"] == "records[5].amount"
    assert "send numbers unquoted" in over_http.json()["error"]
    assert over_mcp.is_error
    assert json.loads(over_mcp.content[0].text) == over_http.json()


def test_metrics_move_after_calls(anomaly_detector: LocalService, transactions: Any) -> None:
    def ok_and_timed() -> tuple[float, float]:
        return (
            anomaly_detector.metric("toolfleet_tool_requests_total", tool=TOOL, outcome="ok"),
            anomaly_detector.metric("toolfleet_tool_request_duration_seconds_count", tool=TOOL),
        )

    before = ok_and_timed()
    arguments = {"records": transactions.records, "id_field": "transaction_id"}
    for _ in range(2):
        assert httpx.post(anomaly_detector.url + PATH, json=arguments, timeout=60).is_success
    after = ok_and_timed()

    assert (after[0] - before[0], after[1] - before[1]) == (2, 2)
    assert anomaly_detector.metric(
        "toolfleet_tool_request_duration_seconds_sum", tool=TOOL) > 0
