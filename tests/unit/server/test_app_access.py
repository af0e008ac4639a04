"""The operator's catalog endpoint with TOOLFLEET_CATALOG_AUTH (operator/toolfleet/server/app.py):
the gateway's rule, with the reviews faked. Alice may call team-a.search only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tests.unit.catalog.realistic import realistic_catalog
from tests.unit.runtime.access_fakes import ALICE, FakeReviews

from toolfleet.runtime.access import AccessReviewer
from toolfleet.server.app import READY_KEY, build_app
from toolfleet.server.catalog import CatalogStore

ALICE_TOKEN = {"Authorization": "Bearer alice-token"}
Client = TestClient[web.Request, web.Application]


def serve(scenario: Callable[[Client], Awaitable[Any]],
          reviews: FakeReviews | None = None) -> Any:
    store = CatalogStore()
    store.publish(realistic_catalog(4, name="default"))
    store.publish(realistic_catalog(3, name="team-a.search"))
    store.publish(realistic_catalog(2, name="team-b.other"))
    store.mark_synced()

    async def main() -> Any:
        app = build_app(store, keepalive_seconds=0.05,
                        access=AccessReviewer(reviews or FakeReviews()))
        app[READY_KEY]["ready"] = True
        async with TestClient(TestServer(app)) as client:
            return await scenario(client)

    return asyncio.run(main())


async def answer(client: Client, path: str, headers: dict[str, str] | None = None,
                 ) -> tuple[int, Any, dict[str, str]]:
    async with client.get(path, headers=headers) as response:
        return response.status, await response.json(), dict(response.headers)


def test_without_a_token_every_catalog_path_is_401_asking_for_one() -> None:
    async def scenario(client: Client) -> list[tuple[int, Any, dict[str, str]]]:
        return [await answer(client, path) for path in
                ("/v1/catalogs", "/v1/catalogs/team-a.search", "/v1/catalogs/team-a.search/events")]

    for status, body, headers in serve(scenario):
        assert status == 401
        assert body["error"] == "no bearer token" and "kubectl create token" in body["hint"]
        assert headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_the_api_server_rejects_is_401() -> None:
    async def scenario(client: Client) -> int:
        status, _, _ = await answer(client, "/v1/catalogs/team-a.search",
                                    {"Authorization": "Bearer forged"})
        return status

    assert serve(scenario) == 401


def test_the_caller_reads_its_catalog_and_lists_only_what_it_may_call() -> None:
    async def scenario(client: Client) -> tuple[Any, ...]:
        catalog = await answer(client, "/v1/catalogs/team-a.search?format=openai", ALICE_TOKEN)
        listed = await answer(client, "/v1/catalogs", ALICE_TOKEN)
        return catalog[0], listed[1]

    status, listed = serve(scenario)
    assert status == 200
    assert [c["name"] for c in listed["catalogs"]] == ["team-a.search"]


def test_a_catalog_the_caller_may_not_call_is_403_before_any_404() -> None:
    async def scenario(client: Client) -> list[tuple[int, Any, dict[str, str]]]:
        return [await answer(client, path, ALICE_TOKEN) for path in
                ("/v1/catalogs/team-b.other", "/v1/catalogs/team-b.other/events",
                 "/v1/catalogs/default", "/v1/catalogs/team-c.nothing")]

    for status, body, _ in serve(scenario):
        assert status == 403
        assert body["error"].startswith(f"{ALICE.username} may not call catalog ")


def test_a_granted_catalog_that_is_not_published_is_404() -> None:
    reviews = FakeReviews(grants={(ALICE.username, "team-a", "gone")})

    async def scenario(client: Client) -> int:
        status, _, _ = await answer(client, "/v1/catalogs/team-a.gone", ALICE_TOKEN)
        return status

    assert serve(scenario, reviews) == 404


def test_the_event_stream_of_the_callers_catalog_opens() -> None:
    async def scenario(client: Client) -> tuple[int, str]:
        async with client.get("/v1/catalogs/team-a.search/events",
                              headers=ALICE_TOKEN) as response:
            return response.status, response.headers["Content-Type"]

    assert serve(scenario) == (200, "text/event-stream")


def test_an_api_server_that_does_not_answer_is_503_with_retry_after() -> None:
    reviews = FakeReviews()
    reviews.unavailable = True

    async def scenario(client: Client) -> list[tuple[int, Any, dict[str, str]]]:
        return [await answer(client, path, ALICE_TOKEN) for path in
                ("/v1/catalogs", "/v1/catalogs/team-a.search")]

    for status, body, headers in serve(scenario, reviews):
        assert status == 503
        assert headers["Retry-After"] == "2"
        assert body["hint"]


def test_health_readiness_and_metrics_stay_open() -> None:
    async def scenario(client: Client) -> list[int]:
        statuses = []
        for path in ("/healthz", "/readyz", "/metrics"):
            async with client.get(path) as response:
                statuses.append(response.status)
        return statuses

    assert serve(scenario) == [200, 200, 200]


def test_a_catalog_granted_but_not_published_is_404_naming_no_other_catalog() -> None:
    reviews = FakeReviews(grants={(ALICE.username, "team-a", "search"),
                                  (ALICE.username, "team-a", "gone")})

    async def scenario(client: Client) -> tuple[int, Any, dict[str, str]]:
        return await answer(client, "/v1/catalogs/team-a.gone", ALICE_TOKEN)

    status, body, _ = serve(scenario, reviews)
    assert status == 404 and body["error"] == "no catalog named 'team-a.gone'"
    # A caller sees only what it may call.
    assert "team-b.other" not in body["hint"] and "catalogs served" not in body["hint"]
    assert "GET /v1/catalogs lists the catalogs you may read" in body["hint"]
