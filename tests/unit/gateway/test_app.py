"""The gateway's HTTP answers that need no service: refusals in the caller's shape, probes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx

from toolfleet.gateway.app import build_app, build_gateway
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.server.catalog import CatalogStore

from .fixtures import catalog, entry, tool

T = TypeVar("T")
OPENAI_CALL = {"id": "call_1", "type": "function",
               "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}}


def with_gateway(work: Callable[[httpx.AsyncClient], Awaitable[T]], synced: bool = True,
                 **settings: Any) -> T:
    settings.setdefault("auth", False)
    store = CatalogStore()
    store.publish(catalog("team-a.search", entry("svc", "team-a", [tool("lookup"),
                                                                    tool("find")])))
    if synced:
        store.mark_synced()
    app = build_app(build_gateway(store, GatewaySettings(**settings)))

    async def main() -> T:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            return await work(client)

    return anyio.run(main)


def post_calls(body: Any, format: str | None = "openai", catalog: str = "team-a.search",
               **kwargs: Any) -> httpx.Response:
    params = {} if format is None else {"format": format}

    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/v1/catalogs/{catalog}/calls", params=params, json=body,
                                 **kwargs)

    return with_gateway(work)


def test_a_call_without_a_format_is_refused_with_the_choices() -> None:
    response = post_calls(OPENAI_CALL, format=None)
    assert response.status_code == 400
    assert response.json() == {"error": "query: no format given", "hint": response.json()["hint"]}
    assert "openai, anthropic, gemini" in response.json()["hint"]


def test_an_unknown_catalog_is_404_in_the_vendors_envelope() -> None:
    response = post_calls({"type": "tool_use", "id": "t", "name": "lookup", "input": {}},
                          format="anthropic", catalog="team-b.other")
    assert response.status_code == 404
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "not_found_error"
    # It says where catalogs come from, and names no other catalog: a caller sees only
    # what it may call.
    hint = response.json()["error"]["hint"]
    assert "operator installed in namespace 'toolfleet-system'" in hint
    assert "team-a.search" not in hint


def test_an_unknown_catalog_on_mcp_is_a_json_rpc_error_with_the_same_hint() -> None:
    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/mcp/team-b.other", json={
            "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            headers={"Accept": "application/json, text/event-stream"})

    response = with_gateway(work, operator_namespace="tools")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["message"] == "no catalog 'team-b.other' is published here"
    assert "operator installed in namespace 'tools'" in error["data"]["hint"]
    assert "team-a.search" not in error["data"]["hint"]


def test_a_tool_not_in_the_catalog_is_404_offering_the_ones_that_are() -> None:
    response = post_calls({**OPENAI_CALL, "function": {"name": "secret", "arguments": "{}"}})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["message"] == "catalog 'team-a.search' has no tool 'secret'"
    assert error["hint"] == "call a tool of this catalog: find, lookup"


def test_malformed_json_and_bad_shapes_are_400_with_a_hint() -> None:
    async def work(client: httpx.AsyncClient) -> list[httpx.Response]:
        url = "/v1/catalogs/team-a.search/calls?format=gemini"
        return [await client.post(url, content=body) for body in
                (b"{", b"", b"[NaN]", b"\xff", b"[" * 100_000, b'{"args": {}}')]

    for response in with_gateway(work):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
        assert response.json()["error"]["hint"]


def test_a_body_over_the_limit_is_413() -> None:
    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/catalogs/team-a.search/calls?format=openai",
                                 content=b" " * 5000)

    response = with_gateway(work, max_request_bytes=4096)
    assert response.status_code == 413
    assert "TOOLFLEET_GATEWAY_MAX_REQUEST_BYTES" in response.json()["error"]["hint"]


def test_a_pinned_revision_the_service_does_not_serve_is_404() -> None:
    response = post_calls(OPENAI_CALL, headers={"X-Toolfleet-Revision": "2.0.0"})
    assert response.status_code == 404
    assert "is not served by team-a/svc" in response.json()["error"]["message"]


def test_unknown_paths_and_methods_answer_json() -> None:
    async def work(client: httpx.AsyncClient) -> tuple[httpx.Response, ...]:
        return (await client.get("/nowhere"),
                await client.get("/v1/catalogs/team-a.search/calls"),
                await client.post("/mcp/nope", json={"jsonrpc": "2.0", "id": 1,
                                                     "method": "tools/list"}))

    missing, wrong_method, no_catalog = with_gateway(work)
    assert missing.status_code == 404
    assert "/v1/catalogs/{catalog}/calls" in missing.json()["hint"]
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert no_catalog.status_code == 404
    assert no_catalog.json()["error"]["code"] == -32600


def test_ready_once_the_catalogs_are_synced() -> None:
    async def probe(client: httpx.AsyncClient) -> tuple[int, int]:
        return (await client.get("/healthz")).status_code, (await client.get("/readyz")).status_code

    assert with_gateway(probe, synced=False) == (200, 503)
    assert with_gateway(probe) == (200, 200)
