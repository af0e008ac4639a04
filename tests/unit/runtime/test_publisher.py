"""Publishing catalogs and retrying (operator/toolfleet/runtime/publisher.py).

A recorded fake stands in for `runtime.kube`, for what the e2e tests cannot
provoke on demand: an API server that fails in the middle of a publish. What
the publish decides is tested in tests/unit/reconcile/test_catalog.py; what it
writes into a real cluster, in tests/e2e/test_catalog.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest
from tests.unit.catalog.objects import toolcatalog, toolservice

from toolfleet.reconcile.catalog import Fleet
from toolfleet.runtime import kube
from toolfleet.runtime.publisher import CatalogPublisher, run_publisher
from toolfleet.runtime.scheduler import Backoff
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings

SETTINGS = Settings(namespace="toolfleet-system", field_manager="toolfleet-test")


class FakeKube:
    """Records each write; fails the verbs named in `failing` with that status."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.failing: dict[str, int] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.listed: list[dict[str, Any]] = []

    def _call(self, verb: str, kind: str, name: str) -> None:
        self.calls.append((verb, kind, name))
        if verb in self.failing:
            raise kube.ApiError(self.failing[verb], f"{verb} failed")

    def apply_if_changed(self, obj: Mapping[str, Any], field_manager: str) -> bool:
        assert field_manager == "toolfleet-test"
        self._call("apply", obj["kind"], obj["metadata"]["name"])
        return True

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        self._call("delete", kind, name)
        return True

    def list_objects(self, kind: str, namespace: str | None = None,
                     label_selector: str | None = None) -> list[dict[str, Any]]:
        self._call("list", kind, str(label_selector))
        return self.listed

    def patch_status(self, kind: str, namespace: str | None, name: str,
                     status: Mapping[str, Any]) -> dict[str, Any]:
        self._call("patch_status", kind, name)
        self.statuses[name] = dict(status)
        return {}

    def emit_event(self, involved: Mapping[str, Any], type_: str, reason: str,
                   message: str) -> None:
        self.calls.append(("event", type_, reason))


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    fake = FakeKube()
    for name in ("apply_if_changed", "delete", "list_objects", "patch_status", "emit_event"):
        monkeypatch.setattr(kube, name, getattr(fake, name))
    return fake


def fleet(api: FakeKube, *toolcatalogs: dict[str, Any], tools: list[str] | None = None
          ) -> Fleet:
    """The fleet as the watches hold it, with the statuses the fake API server was given."""
    bodies = []
    for body in toolcatalogs:
        status = api.statuses.get(body["metadata"]["name"])
        bodies.append(body if status is None else {**body, "status": status})
    return Fleet(toolservices=[toolservice("search", tools=tools or ["find"])],
                 toolcatalogs=bodies)


def test_a_first_publish_serves_writes_reports_and_a_second_writes_nothing(
        api: FakeKube) -> None:
    store = CatalogStore()
    publisher = CatalogPublisher(store, SETTINGS)

    assert publisher.publish(fleet(api, toolcatalog("tools"))) == []

    assert store.names() == ["default", "team-a.tools"] and store.synced
    assert publisher.publishes("team-a.tools") and not publisher.publishes("other")
    assert api.calls == [
        ("list", "ConfigMap", "toolfleet.io/catalog=default"),
        ("apply", "ConfigMap", "toolfleet-catalog-default"),
        ("list", "ConfigMap", "toolfleet.io/catalog=team-a.tools"),
        ("apply", "ConfigMap", "toolfleet-catalog-team-a.tools"),
        ("patch_status", "ToolCatalog", "tools"),
        ("event", "Normal", "Published"),
    ]
    assert api.statuses["tools"]["toolCount"] == 1

    api.calls.clear()
    assert publisher.publish(fleet(api, toolcatalog("tools"))) == []
    assert api.calls == []


def test_stale_shards_found_by_the_first_list_are_deleted(api: FakeKube) -> None:
    api.listed = [{"metadata": {"name": "toolfleet-catalog--default--1"}}]
    assert CatalogPublisher(CatalogStore(), SETTINGS).publish(fleet(api)) == []
    assert ("delete", "ConfigMap", "toolfleet-catalog--default--1") in api.calls


def test_a_catalog_whose_configmaps_fail_is_served_and_written_on_the_retry(
        api: FakeKube) -> None:
    store = CatalogStore()
    publisher = CatalogPublisher(store, SETTINGS)
    api.failing["apply"] = 503

    failures = publisher.publish(fleet(api, toolcatalog("tools")))

    assert len(failures) == 2
    assert failures[0] == "writing the ConfigMaps of catalog default: apply failed"
    assert store.names() == ["default", "team-a.tools"]
    assert "tools" not in api.statuses  # it would name ConfigMaps that do not exist
    del api.failing["apply"]
    assert publisher.publish(fleet(api, toolcatalog("tools"))) == []
    assert api.statuses["tools"]["configMaps"] == ["toolfleet-catalog-team-a.tools"]


def test_a_status_that_fails_is_written_on_the_retry_without_writing_configmaps_again(
        api: FakeKube) -> None:
    publisher = CatalogPublisher(CatalogStore(), SETTINGS)
    api.failing["patch_status"] = 500
    assert len(publisher.publish(fleet(api, toolcatalog("tools")))) == 1
    del api.failing["patch_status"]
    api.calls.clear()
    assert publisher.publish(fleet(api, toolcatalog("tools"))) == []
    assert [c[0] for c in api.calls] == ["patch_status", "event"]


def test_a_toolcatalog_deleted_meanwhile_is_no_failure(api: FakeKube) -> None:
    api.failing["patch_status"] = 404
    assert CatalogPublisher(CatalogStore(), SETTINGS).publish(
        fleet(api, toolcatalog("tools"))) == []


def test_a_removed_toolcatalog_is_no_longer_served_and_its_configmaps_go(
        api: FakeKube) -> None:
    store = CatalogStore()
    publisher = CatalogPublisher(store, SETTINGS)
    publisher.publish(fleet(api, toolcatalog("tools")))
    api.calls.clear()

    assert publisher.publish(fleet(api)) == []

    assert store.names() == ["default"]
    assert not publisher.publishes("team-a.tools")
    assert api.calls == [("delete", "ConfigMap", "toolfleet-catalog-team-a.tools")]


# -- the debounced loop -------------------------------------------------------------------

class Recorded:
    """A publisher that records each publish and answers from a script."""

    def __init__(self, answers: list[list[str] | Exception]) -> None:
        self.answers = answers
        self.fleets: list[Fleet] = []

    def publish(self, fleet: Fleet) -> list[str]:
        self.fleets.append(fleet)
        answer = self.answers.pop(0) if self.answers else []
        if isinstance(answer, Exception):
            raise answer
        return answer


async def loop_until_quiet(publisher: Recorded, changes: int, *, attempts: int = 3) -> None:
    dirty = asyncio.Event()
    task = asyncio.create_task(run_publisher(
        publisher, Fleet, dirty, debounce=0.05,  # a duck-typed publisher
        backoff=Backoff(base=0.01, cap=0.01, max_attempts=attempts)))
    for _ in range(changes):
        dirty.set()
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.4)
    task.cancel()


def test_changes_within_the_debounce_window_are_published_once() -> None:
    publisher = Recorded([])
    asyncio.run(loop_until_quiet(publisher, changes=5))
    assert len(publisher.fleets) == 1


def test_a_slow_publish_makes_the_next_wait_as_long_so_reconciles_get_the_cpu_too() -> None:
    class Slow(Recorded):
        def __init__(self) -> None:
            super().__init__([])
            self.spans: list[tuple[float, float]] = []

        def publish(self, fleet: Fleet) -> list[str]:
            started = time.monotonic()
            time.sleep(0.2)  # a fleet of thousands of tools
            self.spans.append((started, time.monotonic()))
            return super().publish(fleet)

    publisher = Slow()

    async def scenario() -> None:
        dirty = asyncio.Event()
        task = asyncio.create_task(run_publisher(publisher, Fleet, dirty, debounce=0.01))
        dirty.set()
        await asyncio.sleep(0.05)
        dirty.set()  # a change while the first publish runs
        while len(publisher.spans) < 2:
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(scenario())
    (_, first_ended), (second_started, _) = publisher.spans
    # Not 0.01 s after the first: as long as the first took.
    assert second_started - first_ended >= 0.2


def test_a_failed_publish_is_retried_until_it_succeeds() -> None:
    publisher = Recorded([["writing failed"], ["writing failed"], []])
    asyncio.run(loop_until_quiet(publisher, changes=1))
    assert len(publisher.fleets) == 3


def test_retries_are_bounded_and_an_unexpected_error_does_not_end_the_loop() -> None:
    publisher = Recorded([RuntimeError("a bug")] * 10)
    asyncio.run(loop_until_quiet(publisher, changes=1, attempts=3))
    assert len(publisher.fleets) == 4  # the publish, then three retries


def test_a_change_during_a_failed_publishs_backoff_is_published_at_once() -> None:
    publisher = Recorded([["writing failed"]])

    async def scenario() -> None:
        dirty = asyncio.Event()
        task = asyncio.create_task(run_publisher(
            publisher, Fleet, dirty, debounce=0.01,  # a duck-typed publisher
            backoff=Backoff(base=60, cap=60, max_attempts=3)))
        dirty.set()
        await asyncio.sleep(0.2)  # the publish failed: its retry is a minute away
        dirty.set()  # a new ToolCatalog, say
        await asyncio.sleep(0.2)
        task.cancel()

    asyncio.run(scenario())
    assert len(publisher.fleets) == 2


def test_a_catalog_whose_namespace_is_gone_holds_back_no_retry(api: FakeKube) -> None:
    api.failing["list"] = 404  # namespaces "team-a" not found
    failures = CatalogPublisher(CatalogStore(), SETTINGS).publish(
        fleet(api, toolcatalog("tools")))
    assert failures == []
