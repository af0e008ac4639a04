"""Following the published catalog ConfigMaps (operator/toolfleet/runtime/follower.py).

The ConfigMaps are the ones the publisher writes (`reconcile.catalog.write`),
fed to the follower as the list and watch of the API server would deliver
them; what it serves is read back from a real CatalogStore. That it follows a
real API server through a handover is checked in tests/e2e/test_ha.py.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.unit.catalog.objects import toolcatalog, toolservice

from toolfleet.reconcile.catalog import Fleet, World, plan, write
from toolfleet.runtime import kube
from toolfleet.runtime.follower import Follower
from toolfleet.runtime.scheduler import Backoff
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
SELECTOR = "toolfleet.io/catalog,toolfleet.io/operator=toolfleet-system"
FAST = Backoff(base=0.001, cap=0.001)


def published(tools: list[str], *, formats: list[str] | None = None,
              version: int = 1) -> list[dict[str, Any]]:
    """The ConfigMaps of catalog team-a.tools as the publisher writes them."""
    spec = {"formats": formats} if formats else {}
    world = World(settings=Settings(), fleet=Fleet(
        toolservices=[toolservice("search", tools=tools)],
        toolcatalogs=[toolcatalog("tools", spec=spec)]))
    (publication,) = [p for p in plan(world, NOW).publications if p.key == "team-a.tools"]
    config_maps = write(publication, {}, (), NOW).config_maps
    for config_map in config_maps:
        config_map["metadata"]["resourceVersion"] = str(version)
    return config_maps


def served(store: CatalogStore, name: str = "team-a.tools") -> list[str] | None:
    found = store.published(name)
    return None if found is None else sorted(t.name for t in found.catalog.tools)


def test_a_listed_catalog_is_served_in_its_declared_formats() -> None:
    store = CatalogStore()
    Follower(store, SELECTOR).relist(published(["find"], formats=["openai", "mcp"]))
    assert served(store) == ["find"]
    assert store.get("team-a.tools", "openai") is not None
    assert store.get("team-a.tools", "gemini") is None


def test_a_modified_catalog_is_served_as_modified() -> None:
    store = CatalogStore()
    follower = Follower(store, SELECTOR)
    follower.relist(published(["find"]))
    (changed,) = published(["find", "rank"])
    follower.handle("MODIFIED", changed)
    assert served(store) == ["find", "rank"]


def test_a_catalog_whose_configmaps_are_deleted_is_no_longer_served() -> None:
    store = CatalogStore()
    follower = Follower(store, SELECTOR)
    (config_map,) = published(["find"])
    follower.relist([config_map])
    follower.handle("DELETED", config_map)
    assert served(store) is None
    assert follower.groups == {}


def test_a_relist_drops_catalogs_deleted_while_the_watch_was_down() -> None:
    store = CatalogStore()
    follower = Follower(store, SELECTOR)
    follower.relist(published(["find"]))
    follower.relist([])
    assert served(store) is None


def test_shards_of_two_publishes_keep_the_last_complete_one_served() -> None:
    store = CatalogStore()
    follower = Follower(store, SELECTOR)
    follower.relist(published(["find"]))
    (newer,) = copy.deepcopy(published(["find", "rank"]))
    annotations = newer["metadata"]["annotations"]
    annotations["toolfleet.io/catalog-hash"] = "0" * 64  # a manifest of another publish
    follower.handle("MODIFIED", newer)
    assert served(store) == ["find"]


def test_a_catalog_this_replica_publishes_itself_is_left_alone() -> None:
    store = CatalogStore()
    follower = Follower(store, SELECTOR, skip=lambda name: name == "team-a.tools")
    follower.relist(published(["find"]))
    assert served(store) is None


def test_configmaps_without_a_catalog_name_are_ignored() -> None:
    store = CatalogStore()
    (config_map,) = published(["find"])
    del config_map["metadata"]["annotations"]["toolfleet.io/catalog-name"]
    Follower(store, SELECTOR).relist([config_map])
    assert store.names() == []


# -- list, then watch ---------------------------------------------------------------------

class FakeApi:
    """Answers lists and watches from scripts; stops the follower when they run out."""

    def __init__(self, stop: threading.Event, lists: list[Any],
                 watches: list[list[tuple[str, dict[str, Any]] | Exception]]) -> None:
        self.stop, self.lists, self.watches = stop, lists, watches
        self.calls: list[tuple[str, str]] = []

    def list_objects(self, kind: str, selector: str) -> tuple[list[dict[str, Any]], str]:
        assert (kind, selector) == ("ConfigMap", SELECTOR)
        answer = self.lists.pop(0)
        self.calls.append(("list", ""))
        if isinstance(answer, Exception):
            raise answer
        items, version = answer
        return items, version

    def watch_objects(self, kind: str, version: str, selector: str
                      ) -> Iterator[tuple[str, dict[str, Any]]]:
        self.calls.append(("watch", version))
        if not self.watches:
            self.stop.set()
            return
        for step in self.watches.pop(0):
            if isinstance(step, Exception):
                raise step
            yield step


def follow(api: FakeApi, store: CatalogStore) -> Follower:
    follower = Follower(store, SELECTOR, backoff=FAST, list_objects=api.list_objects,
                        watch_objects=api.watch_objects)
    thread = threading.Thread(target=follower.run, args=(api.stop,))
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    return follower


def test_it_watches_from_the_lists_version_and_resumes_from_the_last_one_seen() -> None:
    stop, store = threading.Event(), CatalogStore()
    (first,) = published(["find"], version=7)
    (second,) = published(["find", "rank"], version=9)
    bookmark = {"metadata": {"resourceVersion": "12"}}
    api = FakeApi(stop, lists=[([first], "8")],
                  watches=[[("MODIFIED", second), ("BOOKMARK", bookmark)]])
    follow(api, store)
    assert api.calls == [("list", ""), ("watch", "8"), ("watch", "12")]
    assert served(store) == ["find", "rank"]
    assert store.synced


def test_an_expired_version_starts_over_with_a_list() -> None:
    stop, store = threading.Event(), CatalogStore()
    (config_map,) = published(["find"])
    api = FakeApi(stop, lists=[([config_map], "5"), ([], "20")],
                  watches=[[kube.ApiError(410, "too old resource version")]])
    follow(api, store)
    assert api.calls == [("list", ""), ("watch", "5"), ("list", ""), ("watch", "20")]
    assert served(store) is None  # deleted while the watch was gone


@pytest.mark.parametrize("failure", [kube.ApiError(503, "unavailable"),
                                     ConnectionResetError("reset by peer")])
def test_a_failure_is_retried_and_the_follower_keeps_going(failure: Exception) -> None:
    stop, store = threading.Event(), CatalogStore()
    (config_map,) = published(["find"])
    api = FakeApi(stop, lists=[failure, ([config_map], "5")], watches=[])
    follow(api, store)
    assert api.calls == [("list", ""), ("list", ""), ("watch", "5")]
    assert served(store) == ["find"]


class RecordedStop(threading.Event):
    """A stop event that records how long the follower waits, without waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        return self.is_set()


def test_waits_grow_with_failures_in_a_row_up_to_a_cap_and_start_over_after_success(
        ) -> None:
    stop, store = RecordedStop(), CatalogStore()
    down = kube.ApiError(503, "unavailable")
    api = FakeApi(stop, lists=[down] * 7 + [([], "5"), down, ([], "6")],
                  watches=[[kube.ApiError(410, "gone")]])
    follower = Follower(store, SELECTOR, list_objects=api.list_objects,
                        watch_objects=api.watch_objects)
    follower.run(stop)
    assert stop.waits == [1, 2, 4, 8, 16, 30, 30, 1]
