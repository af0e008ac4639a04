"""Drift (resources/drift.py): another writer's change to a field the operator sets."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from toolfleet.resources.drift import drift, quantity

DESIRED: dict[str, Any] = {
    "metadata": {"name": "x-canary", "labels": {"toolfleet.io/track": "canary"}},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [{
        "name": "tool", "env": [],
        "resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}}}]}}},
}


def live(**changes: Any) -> dict[str, Any]:
    """DESIRED as the API server returns it: defaults added, quantities canonical."""
    return {
        "metadata": {"name": "x-canary", "uid": "u", "resourceVersion": "9",
                     "labels": {"toolfleet.io/track": "canary", "other": "kept"}},
        "spec": {"replicas": changes.get("replicas", 1), "progressDeadlineSeconds": 600,
                 "template": {"spec": {"containers": [{
                     "name": "tool", "imagePullPolicy": "IfNotPresent",
                     "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}}},
        "status": {"replicas": 1},
    }


def test_what_the_server_adds_or_rewrites_is_not_drift() -> None:
    assert drift(DESIRED, live()) == []


def test_scaling_a_canary_to_zero_is_drift_at_its_replicas() -> None:
    assert drift(DESIRED, live(replicas=0)) == [".spec.replicas"]


def test_a_removed_label_or_a_deleted_object_is_drift() -> None:
    unlabelled = live()
    unlabelled["metadata"]["labels"] = {}
    assert drift(DESIRED, unlabelled) == [".metadata.labels.toolfleet.io/track"]
    assert drift(DESIRED, None) == ["."]


def test_a_list_of_another_length_is_drift() -> None:
    assert drift({"ports": [{"port": 80}]}, {"ports": [{"port": 80}, {"port": 81}]}) == [
        ".ports"]


@given(st.integers(0, 10**6))
def test_quantities_compare_by_value(milli: int) -> None:
    assert quantity(f"{milli}m") == quantity(str(milli / 1000))
    assert quantity("1Gi") == quantity("1024Mi") == quantity(2**30)
    assert quantity("25%") is None and quantity(True) is None
