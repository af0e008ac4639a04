"""Reads from the watches (runtime/cache.py): what a reconcile sees without a GET.

A dict stands in for the kopf indices the watches fill; the clock stands still
unless a test moves it.
"""

from __future__ import annotations

from typing import Any

from tests.unit.runtime.test_ratelimit import Clock

from toolfleet.runtime.cache import ObjectCache, ObjectKey, pack

LABEL = "toolfleet.io/toolservice"
KINDS = ("ToolService", "Deployment", "ConfigMap")


def obj(kind: str, name: str, version: int, namespace: str = "team-a",
        **labels: str) -> dict[str, Any]:
    return {"kind": kind, "metadata": {
        "name": name, "namespace": namespace, "resourceVersion": str(version),
        "labels": {LABEL: "search", **labels}, "managedFields": [{"manager": "toolfleet"}]}}


class Watches:
    """What the watches hold, by (kind, namespace, name)."""

    def __init__(self) -> None:
        self.held: dict[ObjectKey, str] = {}

    def see(self, seen: dict[str, Any]) -> None:
        meta = seen["metadata"]
        # As handlers/indices.py keeps them: compact JSON.
        self.held[(seen["kind"], meta["namespace"], meta["name"])] = pack(seen)

    def lose(self, kind: str, name: str, namespace: str = "team-a") -> None:
        self.held.pop((kind, namespace, name), None)


def cache(watches: Watches, clock: Clock | None = None) -> ObjectCache:
    return ObjectCache(watches.held.get, KINDS, lambda ns: not ns.startswith("ro-"), LABEL,
                       clock=clock or Clock())


def test_it_holds_toolservices_and_their_children_in_watched_namespaces_only() -> None:
    reads = cache(Watches())
    assert reads.covers("ToolService", "team-a")
    assert reads.covers("Deployment", "team-a", {LABEL: "search"})
    assert reads.covers("Deployment", "team-a")  # labels unknown: a child, as reconciles read
    assert not reads.covers("ConfigMap", "team-a", {"toolfleet.io/catalog": "default"})
    assert not reads.covers("Deployment", "ro-team")  # a namespace the operator leaves alone
    assert not reads.covers("HTTPRoute", "team-a", {LABEL: "search"})
    assert not reads.covers("Node", None)


def test_it_reads_what_the_watch_holds_without_its_managed_fields() -> None:
    watches = Watches()
    watches.see(obj("Deployment", "search", 5))
    reads = cache(watches)

    found = reads.get("Deployment", "team-a", "search")
    assert found is not None
    assert found["metadata"]["resourceVersion"] == "5"
    assert "managedFields" not in found["metadata"]
    assert reads.get("Deployment", "team-a", "search-canary") is None


def test_its_own_write_reads_back_at_once_until_the_watch_catches_up() -> None:
    watches = Watches()
    watches.see(obj("ToolService", "search", 5))
    reads = cache(watches)

    reads.wrote(obj("ToolService", "search", 7))
    assert reads.get("ToolService", "team-a", "search")["metadata"]["resourceVersion"] == "7"

    watches.see(obj("ToolService", "search", 8))  # our write, and another since
    assert reads.get("ToolService", "team-a", "search")["metadata"]["resourceVersion"] == "8"


def test_a_created_child_exists_before_its_watch_event_arrives() -> None:
    watches = Watches()
    reads = cache(watches)
    reads.wrote(obj("Deployment", "search", 3))
    assert reads.get("Deployment", "team-a", "search") is not None


def test_after_a_while_the_watch_is_the_truth_again() -> None:
    # Another writer deleted what we wrote, and the watch said so: believe it once our
    # answer is old, rather than keep a child that is gone.
    clock = Clock()
    reads = cache(Watches(), clock)
    reads.wrote(obj("Deployment", "search", 3))

    clock.now += 31
    assert reads.get("Deployment", "team-a", "search") is None


def test_a_deleted_child_reads_as_gone_until_it_is_made_again() -> None:
    watches = Watches()
    watches.see(obj("Deployment", "search-canary", 4))
    reads = cache(watches)

    reads.deleted("Deployment", "team-a", "search-canary")
    assert reads.get("Deployment", "team-a", "search-canary") is None  # the watch lags

    watches.see(obj("Deployment", "search-canary", 9))  # a new canary
    assert reads.get("Deployment", "team-a", "search-canary") is not None


def test_a_reader_may_change_what_it_read_without_changing_what_the_watch_holds() -> None:
    held: dict[ObjectKey, Any] = {("ToolService", "team-a", "search"): {
        "kind": "ToolService", "metadata": {"name": "search", "resourceVersion": "3"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}}
    reads = ObjectCache(held.get, KINDS, lambda ns: True, LABEL)

    read = reads.get("ToolService", "team-a", "search")
    assert read is not None
    read["status"]["conditions"].append({"type": "Degraded", "status": "False"})

    again = reads.get("ToolService", "team-a", "search")
    assert again is not None and len(again["status"]["conditions"]) == 1
