"""What a ToolService's Deployments and pods say about themselves: pure reads of live objects.

Three questions, answered from a Deployment (apps/v1) and the pods of the
service (core/v1, selected by the `toolfleet.io/toolservice` label):

- `failure_state`: why a track's pods are not ready, in the scheduler's or the
  kubelet's own words. Read, in order: the Deployment's conditions
  (`Progressing` False with reason `ProgressDeadlineExceeded`, `ReplicaFailure`
  True, e.g. a quota refusing pods), then each pod of the track that is not
  ready: its `PodScheduled` condition False with reason `Unschedulable` (the
  scheduler's message, "0/3 nodes are available: 3 Insufficient cpu"), and
  its containers' `state.waiting` with a failure reason (`ImagePullBackOff`,
  `ErrImagePull`, `CrashLoopBackOff`, `CreateContainerConfigError`, ...).
  A pod merely starting (`ContainerCreating`, no condition yet) is no failure.
- `unschedulable`: the scheduler's own words for the service's pods it cannot
  place, whatever the reason (CPU, memory, pod count, taints, affinity, GPUs).
- `serving_versions`: how many ready pods run each version (the pods'
  `app.kubernetes.io/version` label), whatever the Deployments claim.
- `deployed_revision`: the revision every pod of a Deployment runs, all
  ready; None while a rollout of it is still under way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolfleet.resources.meta import REVISION_LABEL, TRACK_LABEL

VERSION_LABEL = "app.kubernetes.io/version"
# Container waiting reasons that mean the kubelet cannot run the container
# as things stand (kubelet's images and kuberuntime packages name them).
FAILING_WAITS = frozenset({
    "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
    "RegistryUnavailable", "CrashLoopBackOff", "CreateContainerConfigError",
    "CreateContainerError", "RunContainerError", "PreCreateHookError", "PostStartHookError",
})


@dataclass(frozen=True)
class FailureState:
    """Why a track's pods are not ready: `message` for people; `stalled` when the
    Deployment itself gave up (ProgressDeadlineExceeded)."""

    message: str
    stalled: bool = False


def failure_state(deployment: Mapping[str, Any] | None, pods: Iterable[Mapping[str, Any]],
                  track: str) -> FailureState | None:
    """The first failure seen for `track` (`stable` or `canary`); None when there is none."""
    if deployment is None:
        return None
    for cond in (deployment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return FailureState(f"ProgressDeadlineExceeded: {cond.get('message')}", stalled=True)
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            return FailureState(f"{cond.get('reason')}: {cond.get('message')}")
    revision = _labels(deployment).get(REVISION_LABEL)
    failing = sorted(
        problem for pod in pods
         if _labels(pod).get(TRACK_LABEL) == track
         and (revision is None or _labels(pod).get(REVISION_LABEL) == revision)
         and not _ready(pod) and (problem := pod_problem(pod)) is not None)
    if not failing:
        return None
    more = f" (and {len(failing) - 1} more pod(s))" if len(failing) > 1 else ""
    return FailureState(failing[0] + more)


def unschedulable(pods: Iterable[Mapping[str, Any]]) -> str | None:
    """"pod <name>: 0/3 nodes are available: 3 Insufficient cpu." for the first pod (by
    name) whose `PodScheduled` condition is False with reason `Unschedulable`, with how
    many more there are; None when the scheduler placed every pod (or has not tried yet)."""
    messages = sorted(
        f"pod {(pod.get('metadata') or {}).get('name', '?')}: {message}" for pod in pods
        if not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (message := _unschedulable_message(pod)) is not None)
    if not messages:
        return None
    more = f" (and {len(messages) - 1} more pod(s))" if len(messages) > 1 else ""
    return messages[0] + more


def serving_versions(pods: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """version -> ready pods running it, for the pods given (ready ones only counted)."""
    counts: dict[str, int] = {}
    for pod in pods:
        if _ready(pod) and not (pod.get("metadata") or {}).get("deletionTimestamp"):
            version = _labels(pod).get(VERSION_LABEL, "unknown")
            counts[version] = counts.get(version, 0) + 1
    return counts


def deployed_revision(deployment: Mapping[str, Any] | None) -> str | None:
    """The revision all of the Deployment's pods run, ready; None while they do not."""
    if deployment is None:
        return None
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    counts = [int(status.get(key) or 0) for key in ("replicas", "updatedReplicas",
                                                    "readyReplicas")]
    if status.get("observedGeneration") != meta.get("generation") or counts != [wanted] * 3:
        return None
    return _labels(deployment).get(REVISION_LABEL)


def describe_versions(counts: Mapping[str, int]) -> str:
    """"2 of version 1.0.0, 1 of version 1.1.0": the most pods first, then by version."""
    names = sorted(counts, key=lambda v: (-counts[v], v))
    return ", ".join(f"{counts[v]} of version {v}" for v in names)


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _unschedulable_message(pod: Mapping[str, Any]) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if (cond.get("type"), cond.get("status"), cond.get("reason")) == (
                "PodScheduled", "False", "Unschedulable"):
            return str(cond.get("message") or "the scheduler gave no message")
    return None


def pod_problem(pod: Mapping[str, Any]) -> str | None:
    """Why the pod cannot run as things stand, in the scheduler's or the kubelet's words:
    "pod <name>: Unschedulable: <message>" or "pod <name> container <c>: <reason>: <message>";
    None for a pod running, or merely starting."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    if (message := _unschedulable_message(pod)) is not None:
        return f"pod {name}: Unschedulable: {message}"
    for container in [*(status.get("initContainerStatuses") or []),
                      *(status.get("containerStatuses") or [])]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FAILING_WAITS:
            detail = f": {waiting['message']}" if waiting.get("message") else ""
            return f"pod {name} container {container.get('name')}: {waiting['reason']}{detail}"
    return None
