"""Who may use a catalog through the gateway (operator/toolfleet/gateway/auth.py): 401, 403,
404 and 503 in each caller's protocol, with the reviews faked; the caller in the audit log."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from tests.unit.runtime.access_fakes import ALICE, FakeReviews

from toolfleet.gateway.app import build_app, build_gateway
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.server.catalog import CatalogStore

from .fixtures import catalog, entry, tool

T = TypeVar("T")
ALICE_TOKEN = {"Authorization": "Bearer alice-token"}
CALLS = {
    "openai": {"id": "call_1", "type": "function",
               "function": {"name": "lookup", "arguments": "{\"q\": \"x\"}"}},
    "anthropic": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
    "gemini": {"name": "lookup", "args": {"q": "x"}},
}
MCP_VERSION = "2026-07-28"


def with_gateway(work: Callable[[httpx.AsyncClient], Awaitable[T]],
                 reviews: FakeReviews | None = None, **settings: Any) -> T:
    """`work` against a gateway serving team-a.search (lookup, find) and team-b.other
    (secret), reviewing callers with `reviews` (alice may call team-a.search only)."""
    store = CatalogStore()
    store.publish(catalog("team-a.search", entry("svc", "team-a", [tool("lookup"),
                                                                    tool("find")])))
    store.publish(catalog("team-b.other", entry("vault", "team-b", [tool("secret")])))
    store.mark_synced()
    gateway = build_gateway(store, GatewaySettings(mcp_sessions=False, **settings),
                            reviews=reviews or FakeReviews())
    app = build_app(gateway)

    async def main() -> T:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
            return await work(client)

    return anyio.run(main)


def post_calls(format: str, catalog: str = "team-a.search", name: str = "lookup",
               reviews: FakeReviews | None = None, **kwargs: Any) -> httpx.Response:
    body = CALLS[format]
    if format == "openai":
        body = {**body, "function": {**body["function"], "name": name}}
    else:
        body = {**body, "name": name}

    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/v1/catalogs/{catalog}/calls", params={"format": format},
                                 json=body, **kwargs)

    return with_gateway(work, reviews)


def mcp_request(method: str, params: dict[str, Any], catalog: str = "team-a.search",
                headers: dict[str, str] | None = None,
                reviews: FakeReviews | None = None) -> httpx.Response:
    """One stateless (2026-07-28) MCP request."""
    meta = {"io.modelcontextprotocol/protocolVersion": MCP_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {}}
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": meta}}
    sent = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": MCP_VERSION,
            "Mcp-Method": method, **({"Mcp-Name": params["name"]} if "name" in params else {}),
            **(headers or {})}

    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(f"/mcp/{catalog}", json=body, headers=sent)

    return with_gateway(work, reviews)


def openai_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["hint"]
    return error


def test_a_call_without_a_token_is_401_in_each_vendors_envelope() -> None:
    openai = post_calls("openai")
    assert openai.status_code == 401
    assert openai.headers["WWW-Authenticate"].startswith("Bearer")
    assert openai_error(openai)["type"] == "authentication_error"
    assert openai_error(openai)["message"] == "no bearer token"
    anthropic = post_calls("anthropic")
    assert (anthropic.status_code, anthropic.json()["error"]["type"]) == (
        401, "authentication_error")
    gemini = post_calls("gemini")
    assert (gemini.status_code, gemini.json()["error"]["status"]) == (401, "UNAUTHENTICATED")


def test_a_call_with_a_token_the_api_server_rejects_is_401() -> None:
    response = post_calls("openai", headers={"Authorization": "Bearer forged"})
    assert response.status_code == 401
    assert openai_error(response)["message"] == "the bearer token was not accepted"


def test_a_call_to_a_catalog_the_caller_may_not_call_is_403_even_for_its_own_tool() -> None:
    response = post_calls("anthropic", catalog="team-b.other", name="secret",
                          headers=ALICE_TOKEN)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert "kubectl auth can-i call toolcatalogs.toolfleet.io/other -n team-b" in \
        response.json()["error"]["hint"]


def test_a_denied_caller_cannot_tell_a_missing_catalog_from_a_forbidden_one() -> None:
    missing = post_calls("gemini", catalog="team-c.nothing", headers=ALICE_TOKEN)
    forbidden = post_calls("gemini", catalog="team-b.other", headers=ALICE_TOKEN)
    assert (missing.status_code, forbidden.status_code) == (403, 403)
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"


def test_a_tool_outside_the_callers_catalog_is_404_though_another_catalog_has_it() -> None:
    response = post_calls("openai", name="secret", headers=ALICE_TOKEN)
    assert response.status_code == 404
    assert openai_error(response)["message"] == "catalog 'team-a.search' has no tool 'secret'"


def test_a_refusal_comes_before_a_complaint_about_the_request() -> None:
    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/catalogs/team-a.search/calls", content=b"{")

    response = with_gateway(work)
    assert response.status_code == 401
    assert response.json()["error"] == "no bearer token"


def test_an_api_server_that_does_not_answer_is_503_with_retry_after() -> None:
    reviews = FakeReviews()
    reviews.unavailable = True
    response = post_calls("gemini", headers=ALICE_TOKEN, reviews=reviews)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["status"] == "UNAVAILABLE"


def test_the_caller_is_the_consumer_in_the_audit_log_of_a_call(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="toolfleet.gateway.audit"):
        # Nothing listens at the service's URL: the call fails, and is audited.
        post_calls("openai", headers=ALICE_TOKEN)
    assert f"consumer={ALICE.username} catalog=team-a.search tool=lookup" in caplog.text


def test_mcp_without_a_token_is_401_with_a_json_rpc_error() -> None:
    response = mcp_request("tools/list", {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["message"] == "no bearer token"
    assert "kubectl create token" in body["error"]["data"]["hint"]


def test_mcp_on_a_catalog_the_caller_may_not_call_is_403_and_lists_nothing() -> None:
    response = mcp_request("tools/list", {}, catalog="team-b.other", headers=ALICE_TOKEN)
    assert response.status_code == 403
    assert "secret" not in response.text
    assert response.json()["error"]["message"] == \
        f"{ALICE.username} may not call catalog 'team-b.other'"


def test_mcp_lists_the_callers_catalog() -> None:
    response = mcp_request("tools/list", {}, headers=ALICE_TOKEN)
    assert response.status_code == 200
    assert sorted(t["name"] for t in response.json()["result"]["tools"]) == ["find", "lookup"]


def test_mcp_call_of_a_tool_outside_the_catalog_is_the_unknown_tool_error() -> None:
    response = mcp_request("tools/call", {"name": "secret", "arguments": {}},
                           headers=ALICE_TOKEN)
    assert response.json()["error"]["code"] == -32602
    assert response.json()["error"]["message"] == "Unknown tool: secret"


def test_mcp_with_an_api_server_that_does_not_answer_is_503() -> None:
    reviews = FakeReviews()
    reviews.unavailable = True
    response = mcp_request("tools/list", {}, headers=ALICE_TOKEN, reviews=reviews)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == -32603


def test_the_caller_is_the_consumer_in_the_audit_log_of_an_mcp_call(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="toolfleet.gateway.audit"):
        mcp_request("tools/call", {"name": "lookup", "arguments": {"q": "x"}},
                    headers=ALICE_TOKEN)
    assert f"consumer={ALICE.username} catalog=team-a.search tool=lookup" in caplog.text


def test_with_auth_off_everyone_is_served_as_anonymous_and_the_gateway_warns(
        caplog: pytest.LogCaptureFixture) -> None:
    reviews = FakeReviews()

    async def work(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/catalogs/team-b.other/calls", params={"format": "gemini"},
                                 json={"name": "secret", "args": {}})

    with caplog.at_level(logging.INFO):
        with_gateway(work, reviews, auth=False)
    assert "authorization is OFF" in caplog.text
    assert "consumer=anonymous catalog=team-b.other tool=secret" in caplog.text
    assert reviews.token_reviews == []


def test_health_readiness_and_metrics_stay_open() -> None:
    async def work(client: httpx.AsyncClient) -> list[int]:
        return [(await client.get(path)).status_code for path in ("/healthz", "/readyz",
                                                                   "/metrics")]

    assert with_gateway(work) == [200, 200, 200]
