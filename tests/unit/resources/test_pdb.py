"""The PodDisruptionBudget (operator/toolfleet/resources/pdb.py)."""

from __future__ import annotations

from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.pdb import build_pdb
from toolfleet.resources.tracks import Track

from .fixtures import UID, owner, pod_template_labels, selects


def test_a_drain_evicts_at_most_one_pod_at_a_time() -> None:
    spec = build_pdb(owner())["spec"]
    assert spec["maxUnavailable"] == 1
    # minAvailable would block draining a one-replica service for good.
    assert "minAvailable" not in spec


def test_the_budget_covers_the_pods_of_every_track_and_no_others() -> None:
    svc, other = owner(), owner(name="other")
    selector = build_pdb(svc)["spec"]["selector"]
    for track in (Track.stable, Track.canary):
        assert selects(selector, pod_template_labels(
            build_deployment(svc, svc.spec, "0123456789", track)))
    assert not selects(selector, pod_template_labels(
        build_deployment(other, other.spec, "0123456789", Track.stable)))


def test_the_budget_is_an_owned_policy_v1_object() -> None:
    pdb = build_pdb(owner())
    assert (pdb["apiVersion"], pdb["kind"]) == ("policy/v1", "PodDisruptionBudget")
    assert pdb["metadata"]["ownerReferences"][0]["uid"] == UID
    assert pdb["metadata"]["labels"]["app.kubernetes.io/component"] == "disruption-budget"
