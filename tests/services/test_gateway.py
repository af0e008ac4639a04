"""A router's view of the gateway: real services behind a real gateway process.

Catalogs:
- `team-a.analytics`: cluster-analyzer and anomaly-detector as they ship.
- `default`: those two, plus `strict-segments` (team-b: segment_customers with a
  schema OpenAI can call in strict mode) and `anomaly-mcp` (team-b: the
  anomaly-detector declared with protocol mcp), whose tool names collide and
  are published prefixed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import mcp_types
import pytest
from mcp.shared.exceptions import MCPError

from toolfleet.catalog.formats import mcp as mcp_format
from toolfleet.catalog.model import Catalog
from toolfleet_service.local import LocalService

from .gateway_harness import (
    STRICT_SEGMENTS_SCHEMA,
    GatewayProcess,
    catalog_of,
    manifest,
    mcp_call,
    sample,
    service_entry,
)

CALLS = "toolfleet_gateway_tool_calls_total"


@dataclass(frozen=True)
class Fleet:
    gateway: GatewayProcess
    analytics: Catalog
    default: Catalog

    def calls(self, catalog: str, format: str, body: Any, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.gateway.url}/v1/catalogs/{catalog}/calls",
                          params={"format": format}, json=body, headers=headers, timeout=120)


@pytest.fixture(scope="module")
def fleet(cluster_analyzer: LocalService, anomaly_detector: LocalService) -> Iterator[Fleet]:
    segments_tool = manifest("cluster-analyzer")["spec"]["tools"][0]
    analytics = catalog_of("team-a.analytics", [
        service_entry("cluster-analyzer", cluster_analyzer.url),
        service_entry("anomaly-detector", anomaly_detector.url),
    ])
    default = catalog_of("default", [
        service_entry("cluster-analyzer", cluster_analyzer.url),
        service_entry("anomaly-detector", anomaly_detector.url),
        service_entry("cluster-analyzer", cluster_analyzer.url, name="strict-segments",
                      namespace="team-b",
                      tools=[{**segments_tool, "inputSchema": STRICT_SEGMENTS_SCHEMA,
                              "outputSchema": None}]),
        service_entry("anomaly-detector", anomaly_detector.url, name="anomaly-mcp",
                      namespace="team-b", protocol="mcp"),
    ])
    with GatewayProcess([analytics, default]) as gateway:
        yield Fleet(gateway, analytics, default)


def segments_arguments(segments: Any) -> dict[str, Any]:
    return {"records": segments.records, "id_field": "customer_id"}


def anomalies_arguments(transactions: Any) -> dict[str, Any]:
    return {"records": transactions.records, "id_field": "transaction_id", "threshold": 0.7}


def assert_segments(result: dict[str, Any], segments: Any) -> None:
    assert (result["k"], result["k_chosen_by"]) == (3, "silhouette")
    assert [segment["size"] for segment in result["segments"]] == segments.sizes


def assert_anomalies(result: dict[str, Any], transactions: Any) -> None:
    assert {r["id"] for r in result["flagged"]} == set(transactions.planted)


def test_the_default_catalog_publishes_the_colliding_tools_prefixed(fleet: Fleet) -> None:
    assert [t.name for t in fleet.default.tools] == [
        "anomaly-detector_score_anomalies", "anomaly-mcp_score_anomalies",
        "cluster-analyzer_segment_customers", "strict-segments_segment_customers"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_an_mcp_client_lists_exactly_the_catalog_and_calls_both_tools(
        fleet: Fleet, segments: Any, transactions: Any, mode: str) -> None:
    url = f"{fleet.gateway.url}/mcp/team-a.analytics"

    async def work(client: Any) -> tuple[Any, ...]:
        listed = await client.list_tools()
        found = await client.call_tool("segment_customers", segments_arguments(segments))
        scored = await client.call_tool("score_anomalies", anomalies_arguments(transactions))
        return listed, found, scored, client.session.protocol_version

    listed, found, scored, version = mcp_call(url, mode, work)
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    wire = listed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert wire["tools"] == mcp_format.render_catalog(fleet.analytics)["tools"]
    assert not found.is_error
    assert_segments(found.structured_content, segments)
    [tool] = [t for t in fleet.analytics.tools if t.name == "segment_customers"]
    assert found.meta is not None
    assert found.meta["toolfleet.io/revision"] == tool.endpoints[0].revision
    assert not scored.is_error
    assert_anomalies(scored.structured_content, transactions)


def test_an_mcp_call_of_a_tool_outside_the_catalog_is_the_unknown_tool_error(
        fleet: Fleet) -> None:
    async def work(client: Any) -> Any:
        return await client.call_tool("strict-segments_segment_customers", {})

    with pytest.raises(MCPError) as refused:
        mcp_call(f"{fleet.gateway.url}/mcp/team-a.analytics", "legacy", work)
    assert refused.value.code == mcp_types.INVALID_PARAMS
    assert "Unknown tool" in refused.value.message


def test_an_mcp_protocol_service_is_called_through_the_gateways_mcp(
        fleet: Fleet, transactions: Any) -> None:
    async def work(client: Any) -> Any:
        return await client.call_tool("anomaly-mcp_score_anomalies",
                                      anomalies_arguments(transactions))

    result = mcp_call(f"{fleet.gateway.url}/mcp/default", "auto", work)
    assert not result.is_error
    assert_anomalies(result.structured_content, transactions)


def test_openai_tool_calls_get_tool_messages_in_order(
        fleet: Fleet, segments: Any, transactions: Any) -> None:
    body = [
        {"id": "call_a", "type": "function", "function": {
            "name": "segment_customers", "arguments": json.dumps(segments_arguments(segments))}},
        {"id": "call_b", "type": "function", "function": {
            "name": "score_anomalies",
            "arguments": json.dumps(anomalies_arguments(transactions))}},
    ]
    response = fleet.calls("team-a.analytics", "openai", body)
    assert response.status_code == 200, response.text
    first, second = response.json()
    assert (first["role"], first["tool_call_id"]) == ("tool", "call_a")
    assert_segments(json.loads(first["content"]), segments)
    assert second["tool_call_id"] == "call_b"
    assert_anomalies(json.loads(second["content"]), transactions)
    assert response.headers["x-toolfleet-revision"].count(",") == 1


def test_an_anthropic_tool_use_block_gets_a_tool_result(fleet: Fleet, segments: Any) -> None:
    body = {"type": "tool_use", "id": "toolu_1", "name": "segment_customers",
            "input": segments_arguments(segments)}
    response = fleet.calls("team-a.analytics", "anthropic", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["type"], answer["tool_use_id"]) == ("tool_result", "toolu_1")
    assert "is_error" not in answer
    assert_segments(json.loads(answer["content"]), segments)


def test_a_gemini_function_call_gets_a_function_response(
        fleet: Fleet, transactions: Any) -> None:
    body = {"name": "score_anomalies", "args": anomalies_arguments(transactions), "id": "g1"}
    response = fleet.calls("team-a.analytics", "gemini", body)
    assert response.status_code == 200, response.text
    answer = response.json()["functionResponse"]
    assert (answer["name"], answer["id"]) == ("score_anomalies", "g1")
    assert_anomalies(answer["response"]["output"], transactions)


def test_a_prefixed_name_and_strict_mode_nulls_are_mapped_back(
        fleet: Fleet, cluster_analyzer: LocalService, segments: Any) -> None:
    # Strict mode sends every optional property, null when the model left it out.
    strict_arguments = {**segments_arguments(segments), "k_min": None, "seed": None}
    direct = httpx.post(f"{cluster_analyzer.url}/tools/segment_customers",
                        json=strict_arguments, timeout=60)
    assert direct.status_code == 422  # the service itself refuses k_min: null

    body = {"id": "call_s", "type": "function", "function": {
        "name": "strict-segments_segment_customers",
        "arguments": json.dumps(strict_arguments)}}
    response = fleet.calls("default", "openai", body)
    assert response.status_code == 200, response.text
    assert_segments(json.loads(response.json()["content"]), segments)


def test_a_prefixed_mcp_protocol_tool_is_called_in_a_vendor_shape(
        fleet: Fleet, transactions: Any) -> None:
    body = {"type": "tool_use", "id": "toolu_m", "name": "anomaly-mcp_score_anomalies",
            "input": anomalies_arguments(transactions)}
    response = fleet.calls("default", "anthropic", body)
    assert response.status_code == 200, response.text
    assert_anomalies(json.loads(response.json()["content"]), transactions)


def test_a_tool_error_reaches_the_model_flagged(fleet: Fleet) -> None:
    body = {"type": "tool_use", "id": "toolu_e", "name": "segment_customers",
            "input": {"records": []}}
    response = fleet.calls("team-a.analytics", "anthropic", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["is_error"] is True
    assert "records" in answer["content"]


def test_a_tool_of_another_catalog_is_not_found_in_this_one(fleet: Fleet) -> None:
    body = {"name": "strict-segments_segment_customers", "args": {}}
    response = fleet.calls("team-a.analytics", "gemini", body)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["status"] == "NOT_FOUND"
    assert "segment_customers" in error["hint"]


def test_every_call_is_counted_per_catalog_service_tool_revision_and_outcome(
        fleet: Fleet, segments: Any) -> None:
    labels = {"catalog": "team-a.analytics", "namespace": "team-a",
              "toolservice": "cluster-analyzer", "tool": "segment_customers"}
    before = httpx.get(f"{fleet.gateway.url}/metrics").text
    fleet.calls("team-a.analytics", "gemini",
                {"name": "segment_customers", "args": segments_arguments(segments)})
    fleet.calls("team-a.analytics", "gemini", {"name": "segment_customers",
                                                "args": {"records": []}})
    after = httpx.get(f"{fleet.gateway.url}/metrics").text
    for outcome in ("ok", "tool_error"):
        assert sample(after, CALLS, outcome=outcome, **labels) == \
            sample(before, CALLS, outcome=outcome, **labels) + 1
    [tool] = [t for t in fleet.analytics.tools if t.name == "segment_customers"]
    revision = tool.endpoints[0].revision
    assert revision and sample(after, CALLS, revision=revision, **labels) >= 2
    assert "consumer=anonymous catalog=team-a.analytics tool=segment_customers" in \
        fleet.gateway.output()
    assert '"records"' not in fleet.gateway.output()  # never the arguments
