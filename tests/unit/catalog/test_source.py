"""Reading ToolService objects into catalog entries (operator/toolfleet/catalog/source.py)."""

from __future__ import annotations

from typing import Any

import pytest

from toolfleet.catalog.model import Endpoint
from toolfleet.catalog.source import EntryError, entry_from_body, settled_toolservices
from toolfleet.resources.tracks import Track

from .fixtures import READY, body


def rollout(phase: str, weight: int = 20) -> dict[str, object]:
    return {"revision": "c4n4ry0000", "version": "1.1.0", "weight": weight, "step": 0,
            "phase": phase}


def test_a_service_without_status_endpoint_is_reached_by_its_cluster_dns_name() -> None:
    entry = entry_from_body(body("search", "ml", labels={"team": "ml"}), {"env": "prod"},
                            cluster_domain="cluster.local")
    assert entry.key == "ml/search"
    assert entry.labels == {"team": "ml"}
    assert entry.namespace_labels == {"env": "prod"}
    assert entry.ready is True
    (stable,) = entry.endpoints
    assert stable.url == "http://search.ml.svc.cluster.local:8080"
    assert (stable.track, stable.version, stable.weight, stable.ready) == \
        (Track.stable, "1.0.0", 100, True)
    assert stable.revision is not None


def test_status_endpoint_version_and_revision_win() -> None:
    status = {"conditions": [READY], "endpoint": "http://search.ml:9000",
              "stableVersion": "0.9.0", "stableRevision": "0123456789"}
    (stable,) = entry_from_body(body("search", "ml", status=status), {},
                                cluster_domain="cluster.local").endpoints
    assert stable == Endpoint(url="http://search.ml:9000", track=Track.stable, version="0.9.0",
                              revision="0123456789", weight=100, ready=True)


@pytest.mark.parametrize("phase", ["Progressing", "Paused"])
def test_a_running_canary_gets_its_weight_and_stable_keeps_the_rest(phase: str) -> None:
    status = {"conditions": [READY], "stableVersion": "1.0.0", "stableRevision": "5tab1e0000",
              "rollout": rollout(phase, weight=30)}
    entry = entry_from_body(body("search", "ml", version="1.1.0", status=status), {},
                            cluster_domain="cluster.local")
    assert entry.endpoints == [
        Endpoint(url="http://search.ml.svc.cluster.local:8080", track=Track.stable,
                 version="1.0.0", revision="5tab1e0000", weight=70, ready=True),
        Endpoint(url="http://search-canary.ml.svc.cluster.local:8080", track=Track.canary,
                 version="1.1.0", revision="c4n4ry0000", weight=30, ready=True),
    ]


@pytest.mark.parametrize("phase", ["Promoted", "RolledBack", "Aborted"])
def test_a_finished_rollout_leaves_only_the_stable_endpoint(phase: str) -> None:
    status = {"conditions": [READY], "rollout": rollout(phase)}
    (stable,) = entry_from_body(body(status=status), {}, cluster_domain="cluster.local").endpoints
    assert stable.weight == 100


def test_the_stable_version_of_a_canary_is_not_taken_from_the_canary_spec() -> None:
    status = {"conditions": [READY], "rollout": rollout("Progressing")}
    stable, _ = entry_from_body(body(version="1.1.0", status=status), {},
                                cluster_domain="cluster.local").endpoints
    assert stable.version == "unknown"
    assert stable.revision is None


@pytest.mark.parametrize("conditions", [
    [], [{**READY, "status": "False"}], [{**READY, "status": "Unknown"}],
    [{**READY, "type": "Progressing"}],
])
def test_ready_only_when_the_ready_condition_is_true(conditions: list[dict[str, str]]) -> None:
    entry = entry_from_body(body(status={"conditions": conditions}), {},
                            cluster_domain="cluster.local")
    assert entry.ready is False
    assert all(not e.ready for e in entry.endpoints)


def test_an_invalid_spec_names_the_service() -> None:
    broken = body("search", "ml")
    broken["spec"]["tools"][0]["inputSchema"] = {"type": "array"}
    with pytest.raises(EntryError, match="toolservice ml/search: spec is invalid"):
        entry_from_body(broken, {}, cluster_domain="cluster.local")


def test_an_object_without_name_is_refused() -> None:
    nameless = body()
    del nameless["metadata"]["name"]
    with pytest.raises(EntryError, match=r"lacks metadata\.name"):
        entry_from_body(nameless, {}, cluster_domain="cluster.local")


# -- settled_toolservices ---------------------------------------------------------------

def at(name: str, generation: int, observed: int | None, version: str = "1.0.0"
       ) -> dict[str, Any]:
    """A ToolService at `generation` whose status was written for `observed` (None: never)."""
    found = body(name, version=version)
    found["metadata"]["generation"] = generation
    if observed is None:
        del found["status"]
    else:
        found["status"]["observedGeneration"] = observed
    return found


def test_a_reconciled_toolservice_counts_as_it_is() -> None:
    old, new = at("search", 1, 1), at("search", 2, 2, version="2.0.0")
    assert settled_toolservices([new], {("team-a", "search"): old}) == {
        ("team-a", "search"): new}


def test_a_spec_change_counts_only_once_its_status_follows() -> None:
    old = at("search", 1, 1)
    edited = at("search", 2, 1, version="2.0.0")
    settled = settled_toolservices([edited], {("team-a", "search"): old})
    assert settled == {("team-a", "search"): old}
    followed = at("search", 2, 2, version="2.0.0")
    assert settled_toolservices([followed], settled) == {("team-a", "search"): followed}


def test_a_toolservice_seen_for_the_first_time_counts_before_its_first_reconcile() -> None:
    fresh = at("search", 1, None)
    assert settled_toolservices([fresh], {}) == {("team-a", "search"): fresh}


def test_a_toolservice_no_longer_observed_is_left_out() -> None:
    gone = at("search", 1, 1)
    assert settled_toolservices([], {("team-a", "search"): gone}) == {}
