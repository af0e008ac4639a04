"""The catalog handlers' wiring (operator/toolfleet/handlers/catalog.py).

A change marks the catalogs dirty, the publisher started at startup publishes
them, and cleanup stops it; `runtime.kube` is a fake that answers nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import kopf
import pytest
from tests.unit.catalog.objects import toolservice

from toolfleet.handlers.catalog import (
    observe_fleet,
    settings_of,
    start_publisher,
    stop_publisher,
    toolservice_for_catalog,
)
from toolfleet.runtime import kube
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    recorded: list[str] = []

    def watch(*_: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        time.sleep(0.01)  # as a watch the server ends at once
        return iter(())

    monkeypatch.setattr(kube, "list_with_version", lambda *_: ([], "1"))
    monkeypatch.setattr(kube, "watch_objects", watch)
    monkeypatch.setattr(kube, "list_objects", lambda *_: [])
    monkeypatch.setattr(kube, "apply_if_changed",
                        lambda obj, _: recorded.append(obj["metadata"]["name"]) or True)
    return recorded


def test_a_change_is_published_in_the_background_until_cleanup(writes: list[str]) -> None:
    indices = {"toolservices": {("team-a", "search"): [toolservice("search")]},
               "toolcatalogs": {}, "namespace_labels": {"team-a": [{"env": "prod"}]}}

    async def scenario() -> CatalogStore:
        memo = kopf.Memo(settings=Settings(catalog_debounce_seconds=0.01))
        await start_publisher(memo=memo, **indices)
        await toolservice_for_catalog(memo=memo)
        store: CatalogStore = memo["store"]
        for _ in range(200):
            if store.published("default") is not None and writes:
                break
            await asyncio.sleep(0.01)
        await stop_publisher(memo=memo)
        assert memo["catalog_publisher"].done()
        return store

    store = asyncio.run(scenario())
    published = store.published("default")
    assert published is not None and [t.name for t in published.catalog.tools] == ["lookup"]
    assert writes == ["toolfleet-catalog-default"]


def test_the_fleet_is_copied_from_the_indices() -> None:
    fleet = observe_fleet({("team-a", "search"): [toolservice("search")]}, {},
                          {"team-a": [{"env": "prod"}], "empty": []})
    assert [b["metadata"]["name"] for b in fleet.toolservices] == ["search"]
    assert fleet.namespace_labels == {"team-a": {"env": "prod"}, "empty": {}}


def test_settings_missing_from_the_memo_are_read_from_the_environment_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLFLEET_NAMESPACE", "elsewhere")
    memo = kopf.Memo()
    assert settings_of(memo).namespace == "elsewhere"
    monkeypatch.setenv("TOOLFLEET_NAMESPACE", "changed")
    assert settings_of(memo).namespace == "elsewhere"
    assert settings_of(kopf.Memo(settings=Settings())).namespace == "toolfleet-system"
