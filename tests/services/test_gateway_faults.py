"""The gateway under faults, with tiny counting backends behind it: deadlines, retries only
where safe, in-flight limits, the exact canary split, trace context."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from toolfleet.catalog.model import Catalog
from toolfleet.catalog.source import ServiceEntry, entry_from_body
from toolfleet.resources.tracks import Track, service_url
from toolfleet_service.local import LocalService, free_port

from .gateway_harness import (
    READY,
    StaticResolver,
    catalog_of,
    gateway_in_process,
    sample,
    tiny_backend,
)

STABLE_URL = "http://tiny.lab.svc.cluster.local:8080"
CANARY_URL = service_url("tiny-split", "lab", 8080, "cluster.local", Track.canary)
SPLIT_STABLE_URL = "http://tiny-split.lab.svc.cluster.local:8080"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def tool(name: str, path: str, timeout: int = 5, **hints: bool) -> dict[str, Any]:
    return {"name": name, "description": f"{name}, a test tool.", "path": path,
            "inputSchema": {"type": "object"}, "timeoutSeconds": timeout,
            **({"annotations": hints} if hints else {})}


def tiny_entry(name: str, url: str, tools: list[dict[str, Any]],
               rollout: dict[str, Any] | None = None) -> ServiceEntry:
    status: dict[str, Any] = {"conditions": [READY], "endpoint": url, "stableVersion": "1.0.0",
                              "stableRevision": "st4ble"}
    if rollout:
        status["rollout"] = rollout
    body = {"metadata": {"name": name, "namespace": "lab"},
            "spec": {"version": "1.1.0" if rollout else "1.0.0", "image": "tiny:1",
                     "access": {"exposure": "public"},
                     "tools": tools},
            "status": status}
    return entry_from_body(body, {}, cluster_domain="cluster.local")


@dataclass(frozen=True)
class Backends:
    failing: LocalService  # answers 503 on /tools/fail
    healthy: LocalService  # answers 200 on /tools/fail
    canary: LocalService
    catalogs: list[Catalog]
    resolver: StaticResolver

    def counts(self, backend: LocalService) -> dict[str, int]:
        counts: dict[str, int] = httpx.get(f"{backend.url}/calls", timeout=5).json()
        return counts


@pytest.fixture(scope="module")
def backends() -> Iterator[Backends]:
    with tiny_backend("failing") as failing, \
            tiny_backend("healthy", TINY_FAIL_STATUS="200") as healthy, \
            tiny_backend("canary") as canary:
        faults = catalog_of("lab.faults", [tiny_entry("tiny", STABLE_URL, [
            tool("echo", "/tools/echo"),
            tool("hang", "/tools/hang", timeout=1),
            tool("flaky_read", "/tools/fail", idempotentHint=True),
            tool("flaky_write", "/tools/fail"),
        ])])
        split = catalog_of("lab.split", [tiny_entry(
            "tiny-split", SPLIT_STABLE_URL, [tool("echo_split", "/tools/echo")],
            rollout={"revision": "c4n4ry", "version": "1.1.0", "weight": 20, "step": 0,
                     "phase": "Progressing"})])
        resolver = StaticResolver({STABLE_URL: [failing.url, healthy.url],
                                   SPLIT_STABLE_URL: [healthy.url], CANARY_URL: [canary.url]})
        yield Backends(failing, healthy, canary, [faults, split], resolver)


def anthropic_call(name: str, arguments: dict[str, Any] | None = None,
                   id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": arguments or {}}


async def call(client: httpx.AsyncClient, catalog: str, body: Any,
               **headers: str) -> httpx.Response:
    return await client.post(f"/v1/catalogs/{catalog}/calls", params={"format": "anthropic"},
                             json=body, headers=headers)


def test_a_hanging_backend_is_cut_at_the_tools_timeout(backends: Backends) -> None:
    async def main() -> tuple[httpx.Response, float]:
        async with gateway_in_process(backends.catalogs, backends.resolver) as (_, client):
            started = time.monotonic()
            response = await call(client, "lab.faults", anthropic_call("hang"))
            return response, time.monotonic() - started

    response, seconds = anyio.run(main)
    assert 1.0 <= seconds < 2.5
    answer = response.json()
    assert answer["is_error"] is True
    assert "within its timeout of 1s" in answer["content"]


def test_an_idempotent_tool_is_retried_on_the_other_endpoint_a_write_is_not(
        backends: Backends) -> None:
    before = {b: backends.counts(b).get("/tools/fail", 0)
              for b in (backends.failing, backends.healthy)}

    async def main() -> tuple[httpx.Response, httpx.Response, str]:
        async with gateway_in_process(backends.catalogs, backends.resolver) as (gw, client):
            read = await call(client, "lab.faults", anthropic_call("flaky_read"))
            write = await call(client, "lab.faults", anthropic_call("flaky_write"))
            return read, write, gw.metrics.exposition().decode()

    read, write, metrics = anyio.run(main)
    after = {b: backends.counts(b).get("/tools/fail", 0)
             for b in (backends.failing, backends.healthy)}
    # The read went to the failing backend first (503), then to the healthy one.
    assert "is_error" not in read.json(), read.text
    assert json.loads(read.json()["content"])["backend"] == "healthy"
    # The write reached the failing backend once and was answered with its failure.
    assert write.json()["is_error"] is True
    assert "HTTP 503" in write.json()["content"]
    assert after[backends.failing] - before[backends.failing] == 2
    assert after[backends.healthy] - before[backends.healthy] == 1
    assert sample(metrics, "toolfleet_gateway_tool_call_retries_total",
                  tool="flaky_read") == 1
    assert sample(metrics, "toolfleet_gateway_tool_call_retries_total",
                  tool="flaky_write") == 0


def test_a_refused_connection_is_retried_for_a_read_and_counted_as_error_otherwise(
        backends: Backends) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    resolver = StaticResolver({STABLE_URL: [nowhere, backends.healthy.url]})

    async def main() -> tuple[httpx.Response, httpx.Response, str]:
        async with gateway_in_process(backends.catalogs, resolver) as (gw, client):
            read = await call(client, "lab.faults", anthropic_call("flaky_read"))
            write = await call(client, "lab.faults", anthropic_call("flaky_write"))
            return read, write, gw.metrics.exposition().decode()

    read, write, metrics = anyio.run(main)
    assert "is_error" not in read.json()
    assert write.json()["is_error"] is True
    assert "could not reach" in write.json()["content"]
    assert sample(metrics, "toolfleet_gateway_tool_calls_total", tool="flaky_write",
                  outcome="error") == 1


def test_past_the_in_flight_limit_the_caller_gets_429_with_retry_after(
        backends: Backends) -> None:
    resolver = StaticResolver({STABLE_URL: [backends.healthy.url]})

    async def main() -> list[httpx.Response]:
        responses: list[httpx.Response] = []
        async with gateway_in_process(backends.catalogs, resolver,
                                      max_in_flight_per_backend=1) as (_, client):
            async def hang() -> None:
                responses.append(await call(client, "lab.faults", anthropic_call("hang")))

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(hang)
                await anyio.sleep(0.3)
                responses.append(await call(client, "lab.faults", anthropic_call("echo")))
        return responses

    shed, hung = anyio.run(main)
    assert shed.status_code == 429
    assert int(shed.headers["retry-after"]) >= 1
    assert shed.json()["error"]["type"] == "rate_limit_error"
    assert hung.json()["is_error"] is True


def test_at_weight_20_the_canary_gets_a_fifth_of_a_thousand_calls_counted_by_the_metric(
        backends: Backends) -> None:
    before = backends.counts(backends.canary).get("/tools/echo", 0)

    async def main() -> str:
        async with gateway_in_process(backends.catalogs, backends.resolver) as (gw, client):
            # Batches of 50 calls at once: 40 to stable, under its in-flight limit of 64.
            for batch in range(20):
                body = [anthropic_call("echo_split", id=f"t{batch}_{i}") for i in range(50)]
                response = await call(client, "lab.split", body)
                assert response.status_code == 200
                revisions = response.headers["x-toolfleet-revision"].split(",")
                assert revisions.count("c4n4ry") == 10
            return gw.metrics.exposition().decode()

    metrics = anyio.run(main)
    labels = {"catalog": "lab.split", "tool": "echo_split", "outcome": "ok"}
    canary = sample(metrics, "toolfleet_gateway_tool_calls_total", revision="c4n4ry", **labels)
    stable = sample(metrics, "toolfleet_gateway_tool_calls_total", revision="st4ble", **labels)
    assert (canary, stable) == (200, 800)
    assert backends.counts(backends.canary)["/tools/echo"] - before == 200


def test_a_pinned_revision_takes_every_call_and_is_named_in_the_answer(
        backends: Backends) -> None:
    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with gateway_in_process(backends.catalogs, backends.resolver) as (_, client):
            body = [anthropic_call("echo_split", id=f"p{i}") for i in range(10)]
            pinned = await call(client, "lab.split", body, **{"X-Toolfleet-Revision": "canary"})
            unknown = await call(client, "lab.split", body, **{"X-Toolfleet-Revision": "9.9"})
            return pinned, unknown

    pinned, unknown = anyio.run(main)
    assert pinned.headers["x-toolfleet-revision"] == ",".join(["c4n4ry"] * 10)
    assert {json.loads(a["content"])["backend"] for a in pinned.json()} == {"canary"}
    assert unknown.status_code == 404
    assert "serves stable" in unknown.json()["error"]["message"]


def test_the_trace_context_is_passed_to_the_service(backends: Backends) -> None:
    async def main() -> list[httpx.Response]:
        async with gateway_in_process(backends.catalogs, backends.resolver) as (_, client):
            return [await call(client, "lab.faults", anthropic_call("echo", {"a": 1}),
                               traceparent=value)
                    for value in (TRACEPARENT, "not-a-traceparent")]

    passed, dropped = anyio.run(main)
    assert json.loads(passed.json()["content"]) == {
        "arguments": {"a": 1}, "backend": "failing", "traceparent": TRACEPARENT}
    assert json.loads(dropped.json()["content"])["traceparent"] is None


def test_a_backend_killed_mid_call_fails_that_call_quickly_and_no_other(
        backends: Backends) -> None:
    with tiny_backend("doomed") as doomed:
        resolver = StaticResolver({STABLE_URL: [doomed.url], SPLIT_STABLE_URL: [doomed.url],
                                   CANARY_URL: [backends.canary.url]})

        async def main() -> tuple[httpx.Response, float, httpx.Response]:
            async with gateway_in_process(backends.catalogs, resolver) as (_, client):
                async def kill_soon() -> None:
                    await anyio.sleep(0.3)
                    assert doomed.process is not None
                    doomed.process.kill()

                started = time.monotonic()
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(kill_soon)
                    # hang's timeout is 1 s: the answer must come from the dead connection.
                    killed = await call(client, "lab.faults", anthropic_call("hang"))
                seconds = time.monotonic() - started
                other = await call(client, "lab.split", anthropic_call("echo_split"),
                                   **{"X-Toolfleet-Revision": "canary"})
                return killed, seconds, other

        killed, seconds, other = anyio.run(main)
    assert killed.json()["is_error"] is True
    assert "lost the connection" in killed.json()["content"]
    assert seconds < 1.0
    assert json.loads(other.json()["content"])["backend"] == "canary"


def test_a_backend_failing_again_and_again_is_ejected_and_left_alone(
        backends: Backends) -> None:
    # The failing backend first, then the healthy one: a write goes to the first with room.
    resolver = StaticResolver({STABLE_URL: [backends.failing.url, backends.healthy.url]})

    async def main() -> list[httpx.Response]:
        async with gateway_in_process(backends.catalogs, resolver, ejection_failures=3,
                                      ejection_seconds=60) as (_, client):
            return [await call(client, "lab.faults", anthropic_call("flaky_write"))
                    for _ in range(6)]

    answers = [r.json() for r in anyio.run(main)]
    assert [a.get("is_error", False) for a in answers] == [True] * 3 + [False] * 3
    assert {json.loads(a["content"])["backend"] for a in answers[3:]} == {"healthy"}
