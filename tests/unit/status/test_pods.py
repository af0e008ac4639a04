"""Reading Deployments and pods (status/pods.py): failures, versions serving, rollouts done."""

from __future__ import annotations

from typing import Any

from toolfleet.status.pods import (
    deployed_revision,
    describe_versions,
    failure_state,
    serving_versions,
    unschedulable,
)


def pod(name: str, *, track: str = "canary", revision: str = "new", version: str = "1.1.0",
        ready: bool = False, conditions: list[dict[str, Any]] | None = None,
        waiting: dict[str, str] | None = None) -> dict[str, Any]:
    conds = list(conditions or [])
    conds.append({"type": "Ready", "status": "True" if ready else "False"})
    containers = [{"name": "tool", "state": {"waiting": waiting} if waiting else {}}]
    return {"metadata": {"name": name, "labels": {
        "toolfleet.io/track": track, "toolfleet.io/revision": revision,
        "app.kubernetes.io/version": version}},
        "status": {"conditions": conds, "containerStatuses": containers}}


def deployment(revision: str = "new", conditions: list[dict[str, Any]] | None = None,
               **counts: int) -> dict[str, Any]:
    return {"metadata": {"generation": 2, "labels": {"toolfleet.io/revision": revision}},
            "spec": {"replicas": counts.get("wanted", 2)},
            "status": {"observedGeneration": 2, "conditions": conditions or [],
                       "replicas": counts.get("replicas", 2),
                       "updatedReplicas": counts.get("updated", 2),
                       "readyReplicas": counts.get("ready", 2)}}


UNSCHEDULABLE = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3 nodes are available: 3 Insufficient cpu."}


def test_an_unschedulable_pod_is_reported_in_the_schedulers_words() -> None:
    found = failure_state(deployment(), [pod("c-1", conditions=[UNSCHEDULABLE])], "canary")
    assert found is not None and not found.stalled
    assert found.message == "pod c-1: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."


def test_image_pull_and_crash_loops_are_reported_in_the_kubelets_words() -> None:
    pulling = pod("c-1", waiting={"reason": "ImagePullBackOff",
                                  "message": 'Back-off pulling image "x:9"'})
    crashing = pod("c-2", waiting={"reason": "CrashLoopBackOff"})
    found = failure_state(deployment(), [crashing, pulling], "canary")
    assert found is not None
    assert found.message == ("pod c-1 container tool: ImagePullBackOff: Back-off pulling "
                             'image "x:9" (and 1 more pod(s))')


def test_a_pod_still_starting_or_of_another_track_is_no_failure() -> None:
    starting = pod("c-1", waiting={"reason": "ContainerCreating"})
    stable = pod("s-1", track="stable", conditions=[UNSCHEDULABLE])
    old = pod("c-0", revision="old", conditions=[UNSCHEDULABLE])
    assert failure_state(deployment(), [starting, stable, old], "canary") is None
    assert failure_state(None, [stable], "stable") is None


def test_the_deployments_progress_deadline_stalls_the_track() -> None:
    stalled = deployment(conditions=[{"type": "Progressing", "status": "False",
                                      "reason": "ProgressDeadlineExceeded",
                                      "message": 'ReplicaSet "c-1" has timed out progressing.'}])
    found = failure_state(stalled, [], "canary")
    assert found is not None and found.stalled and "timed out" in found.message


def test_serving_counts_ready_pods_by_version() -> None:
    pods = [pod("s-1", version="1.0.0", ready=True), pod("s-2", version="1.0.0", ready=True),
            pod("c-1", ready=True), pod("c-2")]
    counts = serving_versions(pods)
    assert counts == {"1.0.0": 2, "1.1.0": 1}
    assert describe_versions(counts) == "2 of version 1.0.0, 1 of version 1.1.0"


def test_a_deployment_is_deployed_only_when_every_pod_runs_its_revision_ready() -> None:
    assert deployed_revision(deployment()) == "new"
    assert deployed_revision(deployment(updated=1, replicas=3)) is None
    assert deployed_revision(deployment(ready=1)) is None
    assert deployed_revision(None) is None


def test_unschedulable_pods_of_any_track_are_named_in_the_schedulers_words() -> None:
    pods = [pod("s-2", track="stable", conditions=[UNSCHEDULABLE]),
            pod("c-1", conditions=[UNSCHEDULABLE]), pod("s-1", track="stable", ready=True)]
    assert unschedulable(pods) == ("pod c-1: 0/3 nodes are available: 3 Insufficient cpu. "
                                   "(and 1 more pod(s))")


def test_placed_pending_or_going_pods_are_not_unschedulable() -> None:
    going = pod("s-1", conditions=[UNSCHEDULABLE])
    going["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    placed = pod("s-2", conditions=[{"type": "PodScheduled", "status": "True"}])
    not_tried = pod("s-3")
    assert unschedulable([going, placed, not_tried]) is None
