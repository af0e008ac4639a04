"""The in-memory catalogs every replica serves (operator/toolfleet/server/catalog.py)."""

from __future__ import annotations

import asyncio
import gzip
import threading

import pytest
from prometheus_client import REGISTRY
from tests.unit.catalog.realistic import realistic_catalog

from toolfleet.catalog.model import Catalog, Exclusion
from toolfleet.catalog.render import FORMATS, render
from toolfleet.server.catalog import CatalogChange, CatalogStore

SMALL = realistic_catalog(3, name="team")
GROWN = realistic_catalog(4, name="team")


def with_exclusion(catalog: Catalog) -> Catalog:
    """The same tools (so the same hash) with one more exclusion reported."""
    excluded = [Exclusion(tool="t", service="team-a/svc", reason="the service is not Ready")]
    return catalog.model_copy(update={"excluded": excluded})


def test_a_published_catalog_is_served_in_every_format_with_its_gzip_and_etag() -> None:
    store = CatalogStore()
    assert store.publish(SMALL) is True
    assert store.names() == ["team"]
    etags = set()
    for format in FORMATS:
        rendering = store.get("team", format)
        assert rendering is not None
        assert rendering.body == render(SMALL, format)
        assert gzip.decompress(rendering.gzip_body) == rendering.body
        assert rendering.etag.startswith('"') and rendering.etag.endswith(f'-{format}"')
        etags.add(rendering.etag)
    assert len(etags) == len(FORMATS)
    assert store.get("team", "yaml") is None
    assert store.get("other") is None


def test_every_replica_gives_a_catalog_the_same_etag() -> None:
    first, second = CatalogStore(), CatalogStore()
    first.publish(SMALL)
    second.publish(realistic_catalog(3, name="team"))
    assert first.get("team", "openai") == second.get("team", "openai")


def test_the_etag_follows_the_bytes_even_when_the_tools_hash_does_not_change() -> None:
    store = CatalogStore()
    store.publish(SMALL)
    before, openai_before = store.get("team"), store.get("team", "openai")
    assert store.publish(with_exclusion(SMALL)) is False  # same tools, same hash
    after = store.get("team")
    assert before is not None and after is not None
    # The canonical document lists exclusions; the vendor formats do not change.
    assert after.etag != before.etag
    assert after.body == render(with_exclusion(SMALL), "canonical")
    assert store.get("team", "openai") == openai_before


def test_only_the_formats_asked_for_are_served() -> None:
    store = CatalogStore()
    store.publish(SMALL, formats=("openai",))
    assert store.get("team", "openai") is not None
    assert store.get("team", "mcp") is None
    with pytest.raises(ValueError, match="must be one or more of canonical, openai"):
        store.publish(SMALL, formats=("yaml",))


def test_removing_stops_serving() -> None:
    store = CatalogStore()
    store.publish(SMALL)
    assert store.remove("team") is True
    assert store.get("team") is None and store.names() == []
    assert store.remove("team") is False


def test_size_and_tool_count_are_exported_as_metrics() -> None:
    store = CatalogStore()
    store.publish(realistic_catalog(5, name="metered"))
    assert REGISTRY.get_sample_value("toolfleet_catalog_tools", {"catalog": "metered"}) == 5
    openai = store.get("metered", "openai")
    assert openai is not None
    assert REGISTRY.get_sample_value("toolfleet_catalog_bytes", {
        "catalog": "metered", "format": "openai"}) == len(openai.body)
    store.remove("metered")
    assert REGISTRY.get_sample_value("toolfleet_catalog_tools", {"catalog": "metered"}) is None


def test_subscribers_hear_once_per_hash_change_and_never_for_an_equal_publish() -> None:
    async def scenario() -> list[CatalogChange]:
        store = CatalogStore()
        store.publish(SMALL)
        with store.subscribe("team") as changes:
            assert changes.current == CatalogChange("team", SMALL.hash, 3)
            store.publish(SMALL)  # unchanged
            store.publish(with_exclusion(SMALL))  # same hash
            store.publish(GROWN)
            store.remove("team")
            store.publish(SMALL)
            heard = [await anext(changes) for _ in range(3)]
            # Nothing else is waiting.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(changes), 0.05)
            return heard

    assert asyncio.run(scenario()) == [
        CatalogChange("team", GROWN.hash, 4),
        CatalogChange("team", None, 0),
        CatalogChange("team", SMALL.hash, 3),
    ]


def test_a_catalog_can_be_followed_before_it_exists() -> None:
    async def scenario() -> tuple[CatalogChange, CatalogChange]:
        store = CatalogStore()
        with store.subscribe("later") as changes:
            store.publish(realistic_catalog(1, name="later"))
            return changes.current, await anext(changes)

    current, change = asyncio.run(scenario())
    assert current == CatalogChange("later", None, 0)
    assert change.hash == realistic_catalog(1, name="later").hash


def test_publishes_from_worker_threads_reach_the_loop_in_order() -> None:
    catalogs = [realistic_catalog(n, name="team") for n in range(1, 6)]

    async def scenario() -> list[str | None]:
        store = CatalogStore()
        with store.subscribe("team") as changes:
            def publish_all() -> None:
                for catalog in catalogs:
                    store.publish(catalog)

            worker = threading.Thread(target=publish_all)
            worker.start()
            heard = [(await asyncio.wait_for(anext(changes), 5)).hash for _ in catalogs]
            await asyncio.to_thread(worker.join)
            return heard

    assert asyncio.run(scenario()) == [catalog.hash for catalog in catalogs]


def test_concurrent_publishers_leave_one_complete_catalog() -> None:
    store = CatalogStore()
    catalogs = [realistic_catalog(n, name="team", seed=n) for n in range(1, 9)]
    threads = [threading.Thread(target=store.publish, args=(c,)) for c in catalogs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = store.published("team")
    assert published is not None and published.catalog in catalogs
    for format in FORMATS:
        assert published.renderings[format].body == render(published.catalog, format)


def test_a_closed_subscription_ends_and_is_forgotten() -> None:
    async def scenario() -> list[CatalogChange]:
        store = CatalogStore()
        changes = store.subscribe("team")
        assert store.subscriber_count("team") == 1
        changes.close()
        assert store.subscriber_count("team") == 0
        store.publish(SMALL)
        return [change async for change in changes]

    assert asyncio.run(scenario()) == []


def test_a_slow_subscriber_keeps_the_newest_changes() -> None:
    async def scenario() -> CatalogChange:
        store = CatalogStore()
        with store.subscribe("team") as changes:
            for n in range(1, 80):
                store.publish(realistic_catalog(n % 7 + 1, name="team"))
            await asyncio.sleep(0)
            last = None
            while True:
                try:
                    last = await asyncio.wait_for(anext(changes), 0.05)
                except TimeoutError:
                    break
            assert last is not None
            return last

    assert asyncio.run(scenario()).tools == 79 % 7 + 1


def test_synced_is_false_until_marked() -> None:
    store = CatalogStore()
    assert store.synced is False
    store.mark_synced()
    store.mark_synced()
    assert store.synced is True
