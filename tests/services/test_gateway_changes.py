"""MCP clients hear of catalog changes: a kept session gets notifications/tools/list_changed,
a 2026-07-28 client its subscriptions/listen event, and both then list the new tools."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import mcp_types
import pytest
from mcp import Client

from toolfleet.catalog.model import Catalog
from toolfleet_service.local import LocalService

from .gateway_harness import GatewayThread, catalog_of, service_entry


@pytest.fixture(scope="module")
def catalogs(cluster_analyzer: LocalService, anomaly_detector: LocalService
             ) -> tuple[Catalog, Catalog]:
    before = catalog_of("team-a.live", [service_entry("cluster-analyzer", cluster_analyzer.url)])
    after = catalog_of("team-a.live", [service_entry("cluster-analyzer", cluster_analyzer.url),
                                       service_entry("anomaly-detector", anomaly_detector.url)])
    return before, after


@pytest.fixture
def gateway(catalogs: tuple[Catalog, Catalog]) -> Iterator[GatewayThread]:
    with GatewayThread([catalogs[0]]) as running:
        yield running


def names(listed: Any) -> list[str]:
    return sorted(tool.name for tool in listed.tools)


def test_a_kept_session_is_told_the_tools_changed(
        gateway: GatewayThread, catalogs: tuple[Catalog, Catalog]) -> None:
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ToolListChangedNotification):
            heard.set()

    async def main() -> tuple[list[str], list[str], bool]:
        async with Client(f"{gateway.url}/mcp/team-a.live", mode="legacy",
                          message_handler=on_message) as client:
            capabilities = client.session.server_capabilities
            assert capabilities is not None and capabilities.tools is not None
            first = names(await client.list_tools())
            await anyio.sleep(0.5)  # the client opens its GET stream after initializing
            gateway.store.publish(catalogs[1])
            with anyio.fail_after(10):
                await heard.wait()
            return first, names(await client.list_tools()), bool(
                capabilities.tools.list_changed)

    first, then, advertised = anyio.run(main)
    assert advertised
    assert first == ["segment_customers"]
    assert then == ["score_anomalies", "segment_customers"]


def test_a_2026_client_listening_gets_the_change_event(
        gateway: GatewayThread, catalogs: tuple[Catalog, Catalog]) -> None:
    async def main() -> tuple[list[str], Any, list[str]]:
        async with Client(f"{gateway.url}/mcp/team-a.live", mode="auto") as client:
            assert client.session.protocol_version == "2026-07-28"
            listed = await client.list_tools()
            # The cache hints of 2026-07-28: fresh for the configured time, per consumer.
            assert (listed.ttl_ms, listed.cache_scope) == (10_000, "private")
            first = names(listed)
            async with client.listen(tools_list_changed=True) as subscription:
                gateway.store.publish(catalogs[1])
                with anyio.fail_after(10):
                    event = await subscription.__anext__()
            return first, event, names(await client.list_tools())

    first, event, then = anyio.run(main)
    assert first == ["segment_customers"]
    assert type(event).__name__ == "ToolsListChanged"
    assert then == ["score_anomalies", "segment_customers"]


def test_without_sessions_a_handshake_client_is_served_statelessly(
        catalogs: tuple[Catalog, Catalog], segments: Any) -> None:
    async def main(url: str) -> tuple[list[str], Any]:
        async with Client(url, mode="legacy") as client:
            listed = names(await client.list_tools())
            result = await client.call_tool("segment_customers",
                                            {"records": segments.records,
                                             "id_field": "customer_id"})
            return listed, result

    with GatewayThread([catalogs[0]], mcp_sessions=False) as running:
        listed, result = anyio.run(main, f"{running.url}/mcp/team-a.live")
    assert listed == ["segment_customers"]
    assert result.structured_content["k"] == 3
