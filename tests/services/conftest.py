"""Fixtures for the specialist services: data with a known right answer, and running services.

Each service runs as a real process (`python -m <package>` on a free 127.0.0.1
port, ready once /readyz says so), one per test module, with small input limits
so the limit tests need no large payloads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import anyio
import mcp_types
import numpy as np
import pytest
from mcp import Client

from toolfleet_service.local import LocalService

T = TypeVar("T")

# Small limits, so that "too many rows" and "body too large" are cheap to send.
TEST_LIMITS = {"TOOLFLEET_MAX_ROWS": "500", "TOOLFLEET_MAX_BODY_BYTES": "200000"}


@dataclass(frozen=True)
class Segments:
    """Customer records drawn from three well-separated groups."""

    records: list[dict[str, Any]]
    sizes: list[int]  # largest first, as the tool numbers its segments
    spend: list[float]  # true mean annual_spend of each group
    visits: list[float]
    channel: list[str]
    group_of: list[int]  # which group each record came from


@dataclass(frozen=True)
class Transactions:
    """Ordinary transactions with two planted anomalies."""

    records: list[dict[str, Any]]
    planted: dict[str, str]  # transaction_id -> the feature that makes it anomalous


@pytest.fixture(scope="session")
def segments() -> Segments:
    """60 customers: 30 thrifty in-store, 20 regular online, 10 big spenders in the app."""
    rng = np.random.default_rng(7)
    sizes, spend, visits = [30, 20, 10], [200.0, 1000.0, 3000.0], [2.0, 10.0, 25.0]
    channel = ["store", "online", "app"]
    records: list[dict[str, Any]] = []
    group_of: list[int] = []
    for group in (2, 0, 1):  # interleaved below; the order must not matter
        for _ in range(sizes[group]):
            records.append({
                "annual_spend": round(float(rng.normal(spend[group], spend[group] * 0.05)), 2),
                "visits": round(float(rng.normal(visits[group], 1.0)), 1),
                "channel": channel[group],
            })
            group_of.append(group)
    order = rng.permutation(len(records))
    shuffled = [records[i] for i in order]
    for number, record in enumerate(shuffled):
        record["customer_id"] = f"c{number:03d}"
    return Segments(
        records=shuffled, sizes=sizes, spend=spend, visits=visits, channel=channel,
        group_of=[group_of[i] for i in order],
    )


@pytest.fixture(scope="session")
def transactions() -> Transactions:
    """80 card payments around 40 EUR in NL, one of 9,500 EUR and one with 60 items."""
    rng = np.random.default_rng(11)
    records: list[dict[str, Any]] = [
        {
            "transaction_id": f"t{number:03d}",
            "amount": round(float(rng.normal(40, 8)), 2),
            "items": int(rng.integers(1, 5)),
            "country": "NL" if number % 4 else "BE",
        }
        for number in range(80)
    ]
    records[17]["amount"] = 9500.0
    records[52]["items"] = 60
    return Transactions(records=records, planted={"t017": "amount", "t052": "items"})


@pytest.fixture(scope="module")
def cluster_analyzer() -> Iterator[LocalService]:
    """A running cluster-analyzer process."""
    with LocalService("cluster_analyzer", env=TEST_LIMITS) as service:
        yield service


@pytest.fixture(scope="module")
def anomaly_detector() -> Iterator[LocalService]:
    """A running anomaly-detector process."""
    with LocalService("anomaly_detector", env=TEST_LIMITS) as service:
        yield service


class McpCaller:
    """The official MCP SDK client, against a service's /mcp endpoint.

    `mode="auto"` negotiates the newest protocol; "legacy" uses the initialize
    handshake that older clients speak.
    """

    def __init__(self, mode: Literal["auto", "legacy"] = "auto") -> None:
        self.mode: Literal["auto", "legacy"] = mode

    def list_tools(self, url: str) -> list[mcp_types.Tool]:
        """tools/list."""
        async def work(client: Client) -> list[mcp_types.Tool]:
            return (await client.list_tools()).tools
        return self._session(url, work)

    def call_tool(self, url: str, name: str, arguments: dict[str, Any]) -> mcp_types.CallToolResult:
        """tools/list, then tools/call, in one session, as a router would."""
        async def work(client: Client) -> mcp_types.CallToolResult:
            await client.list_tools()
            return await client.call_tool(name, arguments)
        return self._session(url, work)

    def _session(self, url: str, work: Callable[[Client], Awaitable[T]]) -> T:
        async def main() -> T:
            async with Client(f"{url}/mcp", mode=self.mode, read_timeout_seconds=60) as client:
                return await work(client)
        try:
            return anyio.run(main)
        except BaseExceptionGroup as group:
            # The client's task groups wrap the one error a test wants to see.
            leaves = _leaves(group)
            if len(leaves) == 1:
                raise leaves[0] from group
            raise


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for error in group.exceptions:
        found += _leaves(error) if isinstance(error, BaseExceptionGroup) else [error]
    return found


@pytest.fixture(params=["auto", "legacy"])
def mcp_caller(request: pytest.FixtureRequest) -> McpCaller:
    """An MCP client, once negotiating the newest protocol and once the legacy handshake."""
    mode: Literal["auto", "legacy"] = request.param
    return McpCaller(mode)
