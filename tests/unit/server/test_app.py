"""The catalog endpoint, event stream and probes (operator/toolfleet/server/app.py).

Each test runs a real server on 127.0.0.1 with aiohttp's test client, in a loop
of its own (asyncio.run).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from tests.unit.catalog.realistic import realistic_catalog

from toolfleet.catalog.render import FORMATS, render
from toolfleet.server.app import READY_KEY, build_app
from toolfleet.server.catalog import CatalogStore

CATALOG = realistic_catalog(6, name="default")
CHANGED = realistic_catalog(7, name="default")
KEEPALIVE = 0.05

Scenario = Callable[[TestClient[web.Request, web.Application], CatalogStore], Awaitable[Any]]


def serve(scenario: Scenario, *, synced: bool = True, started: bool = True,
          publish: bool = True) -> Any:
    """Run `scenario` against a server of a store holding CATALOG."""
    store = CatalogStore()
    if publish:
        store.publish(CATALOG)
    if synced:
        store.mark_synced()

    async def main() -> Any:
        app = build_app(store, keepalive_seconds=KEEPALIVE)
        app[READY_KEY]["ready"] = started
        async with TestClient(TestServer(app), auto_decompress=False) as client:
            return await scenario(client, store)

    return asyncio.run(main())


async def error_of(response: ClientResponse) -> dict[str, Any]:
    assert response.content_type == "application/json"
    body: dict[str, Any] = await response.json()
    assert sorted(body) == ["error", "hint"] and body["hint"]
    return body


async def next_event(response: ClientResponse, timeout: float = 5) -> dict[str, Any]:
    """The next `event: catalog` of a stream, skipping comments and `retry`."""
    fields: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while True:
        line = await asyncio.wait_for(response.content.readline(),
                                      max(0.01, deadline - time.monotonic()))
        if not line:
            raise EOFError("the stream ended")
        text = line.decode().rstrip("\n")
        if text == "":
            if "data" in fields:
                assert fields["event"] == "catalog"
                data: dict[str, Any] = json.loads(fields["data"])
                return data
            continue
        if text.startswith(":"):
            continue
        key, _, value = text.partition(": ")
        fields[key] = value


# --- GET /v1/catalogs/{name}


@pytest.mark.parametrize("format", FORMATS)
def test_each_format_is_served_as_rendered(format: str) -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        response = await client.get(f"/v1/catalogs/default?format={format}",
                                    headers={"Accept-Encoding": "identity"})
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Cache-Control"] == "no-cache"
        assert "Content-Encoding" not in response.headers
        assert await response.read() == render(CATALOG, format)
        assert re.fullmatch(rf'"[0-9a-f]{{32}}-{format}"', response.headers["ETag"])

    serve(scenario)


def test_the_default_format_is_canonical() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> bytes:
        response = await client.get("/v1/catalogs/default",
                                    headers={"Accept-Encoding": "identity"})
        return await response.read()

    assert serve(scenario) == render(CATALOG, "canonical")


def test_a_router_sending_the_etag_back_gets_304_without_a_body() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        first = await client.get("/v1/catalogs/default?format=openai")
        etag = first.headers["ETag"]
        for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            again = await client.get("/v1/catalogs/default?format=openai",
                                     headers={"If-None-Match": sent})
            assert again.status == 304, sent
            assert again.headers["ETag"] == etag
            assert await again.read() == b""
        stale = await client.get("/v1/catalogs/default?format=openai",
                                 headers={"If-None-Match": '"stale-openai"'})
        assert stale.status == 200

    serve(scenario)


def test_a_changed_catalog_has_a_new_etag_and_the_old_one_gets_the_new_body() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        etag = (await client.get("/v1/catalogs/default?format=mcp")).headers["ETag"]
        await asyncio.to_thread(store.publish, CHANGED)
        response = await client.get("/v1/catalogs/default?format=mcp",
                                    headers={"If-None-Match": etag,
                                             "Accept-Encoding": "identity"})
        assert response.status == 200
        assert response.headers["ETag"] != etag
        assert await response.read() == render(CHANGED, "mcp")

    serve(scenario)


def test_gzip_is_sent_when_accepted() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        response = await client.get("/v1/catalogs/default?format=gemini",
                                    headers={"Accept-Encoding": "br, gzip;q=0.8"})
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Vary"] == "Accept-Encoding"
        assert gzip.decompress(await response.read()) == render(CATALOG, "gemini")
        plain = await client.get("/v1/catalogs/default?format=gemini",
                                 headers={"Accept-Encoding": "gzip;q=0, identity"})
        assert "Content-Encoding" not in plain.headers
        assert plain.headers["Vary"] == "Accept-Encoding"
        assert plain.headers["ETag"] == response.headers["ETag"]
        assert await plain.read() == render(CATALOG, "gemini")

    serve(scenario)


def test_the_list_gives_names_hashes_and_tool_counts() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> Any:
        store.publish(realistic_catalog(2, name="team-a"), formats=("openai",))
        return await (await client.get("/v1/catalogs")).json()

    assert serve(scenario) == {"catalogs": [
        {"name": "default", "hash": CATALOG.hash, "tools": 6, "formats": list(FORMATS)},
        {"name": "team-a", "hash": realistic_catalog(2, name="team-a").hash, "tools": 2,
         "formats": ["openai"]},
    ]}


# --- errors: always JSON, never a 500 for bad input


def test_an_unknown_catalog_is_404_naming_the_known_ones() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        for path in ("/v1/catalogs/nope", "/v1/catalogs/nope/events",
                     "/v1/catalogs/Default?format=openai", "/v1/catalogs/caf%C3%A9",
                     "/v1/catalogs/a%20b"):
            response = await client.get(path)
            assert response.status == 404, path
            body = await error_of(response)
            assert "catalogs served: default" in body["hint"]
        response = await client.get("/v1/catalogs/" + "a" * 5000)
        assert response.status == 404
        assert len((await error_of(response))["error"]) < 300

    serve(scenario)


def test_an_unknown_format_is_400_listing_the_formats() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        for query in ("format=yaml", "format=", "format=OpenAI"):
            response = await client.get(f"/v1/catalogs/default?{query}")
            assert response.status == 400, query
            body = await error_of(response)
            assert body["hint"] == ("use ?format= with one of canonical, openai, anthropic, "
                                    "gemini, mcp (default canonical)")

    serve(scenario)


def test_a_format_not_published_for_a_catalog_is_404_saying_which_are() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        store.publish(realistic_catalog(2, name="team-a"), formats=("openai", "mcp"))
        response = await client.get("/v1/catalogs/team-a?format=gemini")
        assert response.status == 404
        assert (await error_of(response))["hint"] == "it is published as openai, mcp"

    serve(scenario)


def test_unknown_paths_and_methods_answer_json() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        response = await client.get("/v2/catalogs")
        assert response.status == 404
        assert "/v1/catalogs/{name}" in (await error_of(response))["hint"]
        response = await client.post("/v1/catalogs/default", data=b"{}")
        assert response.status == 405
        assert "GET" in response.headers["Allow"]
        await error_of(response)

    serve(scenario)


def test_a_bug_is_a_logged_500_with_a_json_body(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        def broken(*args: Any) -> None:
            raise RuntimeError("a bug")

        store.published = broken  # type: ignore[method-assign,assignment]
        response = await client.get("/v1/catalogs/default")
        assert response.status == 500
        assert (await error_of(response))["error"] == "internal error"
        # The server goes on serving.
        assert (await client.get("/healthz")).status == 200

    with caplog.at_level(logging.ERROR, logger="toolfleet.server.app"):
        serve(scenario)
    assert "GET /v1/catalogs/default failed" in caplog.text
    assert "RuntimeError: a bug" in caplog.text


def test_before_the_first_listing_an_unknown_catalog_is_503_with_retry_after() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        response = await client.get("/v1/catalogs/default")
        assert response.status == 503
        assert response.headers["Retry-After"] == "2"
        assert "first listing" in (await error_of(response))["hint"]

    serve(scenario, synced=False, publish=False)


# --- /readyz, /healthz, /metrics


@pytest.mark.parametrize(("started", "synced", "status", "waiting"), [
    (False, False, 503, ["operator startup", "first catalog listing"]),
    (True, False, 503, ["first catalog listing"]),
    (False, True, 503, ["operator startup"]),
    (True, True, 200, None),
])
def test_ready_once_started_and_the_first_catalogs_are_published(
        started: bool, synced: bool, status: int, waiting: list[str] | None) -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> Any:
        response = await client.get("/readyz")
        assert response.status == status
        return await response.json()

    body = serve(scenario, started=started, synced=synced)
    assert body.get("waitingFor") == waiting


def test_readiness_follows_mark_synced_from_a_worker_thread() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> list[int]:
        before = (await client.get("/readyz")).status
        await asyncio.to_thread(store.mark_synced)
        return [before, (await client.get("/readyz")).status]

    assert serve(scenario, synced=False) == [503, 200]


def test_health_and_metrics_still_answer() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> str:
        assert (await client.get("/healthz")).status == 200
        return await (await client.get("/metrics")).text()

    assert 'toolfleet_catalog_tools{catalog="default"} 6.0' in serve(scenario)


# --- GET /v1/catalogs/{name}/events


def test_the_stream_opens_with_the_current_state_and_sends_one_event_per_change() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> list[Any]:
        async with client.get("/v1/catalogs/default/events") as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            assert response.headers["Cache-Control"] == "no-cache"
            events = [await next_event(response)]
            store.publish(CATALOG)  # no change: no event
            store.publish(CHANGED)
            store.publish(CHANGED)  # no change again
            store.remove("default")
            store.publish(CATALOG)
            events += [await next_event(response) for _ in range(3)]
            with pytest.raises(TimeoutError):  # only keep-alive comments follow
                await next_event(response, timeout=4 * KEEPALIVE)
            return events

    assert serve(scenario) == [
        {"name": "default", "hash": CATALOG.hash, "tools": 6},
        {"name": "default", "hash": CHANGED.hash, "tools": 7},
        {"name": "default", "hash": None, "tools": 0},
        {"name": "default", "hash": CATALOG.hash, "tools": 6},
    ]


def test_a_publish_from_another_thread_reaches_the_stream() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> Any:
        async with client.get("/v1/catalogs/default/events") as response:
            await next_event(response)
            worker = threading.Thread(target=store.publish, args=(CHANGED,))
            worker.start()
            event = await next_event(response)
            await asyncio.to_thread(worker.join)
            return event

    assert serve(scenario) == {"name": "default", "hash": CHANGED.hash, "tools": 7}


def test_an_idle_stream_gets_keep_alive_comments() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> bytes:
        async with client.get("/v1/catalogs/default/events") as response:
            await next_event(response)
            return await asyncio.wait_for(response.content.readline(), 2)

    assert serve(scenario) == b": keep-alive\n"


def test_a_client_that_leaves_is_unsubscribed() -> None:
    async def scenario(client: TestClient[Any, Any], store: CatalogStore) -> None:
        async with client.get("/v1/catalogs/default/events") as response:
            await next_event(response)
            assert store.subscriber_count("default") == 1
        # The next keep-alive finds the connection gone.
        deadline = time.monotonic() + 2
        while store.subscriber_count("default") and time.monotonic() < deadline:
            await asyncio.sleep(KEEPALIVE)
        assert store.subscriber_count("default") == 0

    serve(scenario)


def test_server_shutdown_ends_open_streams_cleanly() -> None:
    async def main() -> tuple[bytes, float]:
        store = CatalogStore()
        store.publish(CATALOG)
        server = TestServer(build_app(store, keepalive_seconds=60))
        async with TestClient(server) as client:
            response = await client.get("/v1/catalogs/default/events")
            await next_event(response)
            started = time.monotonic()
            closing = asyncio.create_task(server.close())
            rest = await asyncio.wait_for(response.content.read(), 5)
            await asyncio.wait_for(closing, 5)
            assert store.subscriber_count("default") == 0
            return rest, time.monotonic() - started

    rest, seconds = asyncio.run(main())
    assert rest == b""  # the stream ended without an error, right away
    assert seconds < 5
