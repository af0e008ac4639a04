"""A ToolService's status, derived from what was observed of its children."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolfleet.api.common import Condition
from toolfleet.api.toolservice import GPUStatus, RolloutPhase, ToolServiceSpec, ToolServiceStatus
from toolfleet.placement.inventory import Fit
from toolfleet.rollout.capacity import CapacityPlan
from toolfleet.status.conditions import find, set_condition
from toolfleet.status.pods import describe_versions


@dataclass(frozen=True)
class Observed:
    """What a reconcile saw: the stable Deployment, GPU fit, and apply failures."""

    generation: int
    revision: str
    endpoint: str
    deployment: Mapping[str, Any] | None
    fit: Fit | None
    apply_errors: list[str] = field(default_factory=list)
    # Tools that fail validation: left out of every catalog until fixed.
    tool_problems: list[str] = field(default_factory=list)
    serving: Mapping[str, int] | None = None
    """version -> ready pods running it, stable and canary (`status.pods.serving_versions`);
    None when the pods were not read."""
    stable_failure: str | None = None
    """A failure state of the stable track's pods (`status.pods.failure_state`)."""
    unschedulable: str | None = None
    """The scheduler's message for pods of any track it cannot place
    (`status.pods.unschedulable`)."""
    lifted: str | None = None
    """Set when the stable Deployment was found at 0 replicas under its autoscaler and
    lifted: says so, for the Progressing condition."""


def _cond(type_: str, ok: bool, reason: str, message: str, generation: int,
          now: str) -> Condition:
    return Condition(type=type_, status="True" if ok else "False", reason=reason,
                     message=message, last_transition_time=now,
                     observed_generation=generation)


def _deployment_facts(deployment: Mapping[str, Any] | None,
                      revision: str) -> tuple[int, int, int, bool, str | None]:
    """(replicas, ready, wanted, up to date, failure message) of the stable Deployment."""
    if deployment is None:
        return 0, 0, 0, False, None
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    wanted = int((deployment.get("spec") or {}).get("replicas") or 0)
    replicas = int(status.get("replicas") or 0)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    current = (status.get("observedGeneration") == meta.get("generation")
               and (meta.get("labels") or {}).get("toolfleet.io/revision") == revision
               and updated >= wanted and replicas == updated)
    failure = None
    for cond in status.get("conditions") or []:
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            failure = f"{cond.get('reason')}: {cond.get('message')}"
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            failure = f"ProgressDeadlineExceeded: {cond.get('message')}"
    return replicas, ready, wanted, current, failure


def compute_status(spec: ToolServiceSpec, current: ToolServiceStatus, observed: Observed,
                   now: str) -> ToolServiceStatus:
    """The status a ToolService should have after this reconcile.

    Pure: equal inputs give an equal status, and conditions keep their
    lastTransitionTime unless their status flips.
    """
    gen = observed.generation
    replicas, ready, wanted, up_to_date, failure = _deployment_facts(observed.deployment,
                                                                     observed.revision)
    conditions = list(current.conditions)
    # The autoscaler raises a new Deployment to minReplicas a moment after it
    # exists; until then the service is below its floor and not Ready.
    wanted = max(wanted, spec.autoscaling.min_replicas, 1)

    schedulable = _schedulable(spec, observed, gen, now)
    conditions = set_condition(conditions, schedulable)

    if observed.apply_errors:
        degraded = _cond("Degraded", True, "ApplyFailed", "; ".join(observed.apply_errors),
                         gen, now)
    elif failure or observed.stable_failure:
        degraded = _cond("Degraded", True, "DeploymentFailing",
                         failure or observed.stable_failure or "", gen, now)
    elif observed.tool_problems:
        degraded = _cond("Degraded", True, "InvalidTools",
                         "left out of every catalog: " + "; ".join(observed.tool_problems),
                         gen, now)
    else:
        degraded = _cond("Degraded", False, "AsExpected", "", gen, now)
    conditions = set_condition(conditions, degraded)

    rolled_out = up_to_date and ready >= wanted
    if observed.lifted:
        progressing = _cond("Progressing", True, "ReplicasRestored", observed.lifted, gen, now)
    elif rolled_out:
        progressing = _cond("Progressing", False, "RolloutComplete",
                            f"revision {observed.revision} runs {ready} ready replica(s)", gen, now)
    else:
        progressing = _cond("Progressing", True, "Deploying",
                            f"revision {observed.revision}: {ready}/{wanted} replica(s) "
                            "ready", gen, now)
    conditions = set_condition(conditions, progressing)

    # Ready means serving at its floor: old pods keep serving through a rolling
    # update (maxUnavailable 0), so a new revision does not make the service unready.
    serving = observed.deployment is not None and ready >= max(spec.autoscaling.min_replicas, 1)
    if serving and not observed.apply_errors:
        ready_cond = _cond("Ready", True, "ReplicasReady", _serving_message(
            ready, observed.serving,
            spec.version if rolled_out else (current.stable_version or spec.version)),
            gen, now)
    elif observed.apply_errors:
        ready_cond = _cond("Ready", False, "ApplyFailed", degraded.message, gen, now)
    elif schedulable.status != "True":
        ready_cond = _cond("Ready", False, "Unschedulable", schedulable.message, gen, now)
    else:
        ready_cond = _cond("Ready", False, "ReplicasNotReady",
                           f"{ready}/{wanted} replica(s) ready", gen, now)
    conditions = set_condition(conditions, ready_cond)

    return current.model_copy(update={
        "observed_generation": gen,
        "conditions": conditions,
        "stable_version": spec.version if rolled_out else current.stable_version,
        "stable_revision": observed.revision if rolled_out else current.stable_revision,
        "replicas": replicas,
        "ready_replicas": ready,
        "endpoint": observed.endpoint,
        "tools": [t.name for t in spec.tools],
        "tool_count": len(spec.tools),
        "gpu": None if observed.fit is None else GPUStatus(
            matching_nodes=observed.fit.matching_nodes,
            schedulable_replicas=observed.fit.schedulable_replicas),
    })


def _schedulable(spec: ToolServiceSpec, observed: Observed, gen: int, now: str) -> Condition:
    """Schedulable: the GPU inventory's count when it says the floor does not fit, else
    the scheduler's own words when it cannot place a pod, for any service."""
    fit, refused = observed.fit, observed.unschedulable
    if fit is not None and fit.schedulable_replicas < spec.autoscaling.min_replicas:
        message = fit.message + (f"; the scheduler: {refused}" if refused else "")
        return _cond("Schedulable", False, fit.reason, message, gen, now)
    if refused:
        return _cond("Schedulable", False, "Unschedulable", refused, gen, now)
    if fit is None:
        return _cond("Schedulable", True, "NoGPURequired", "the service needs no GPU", gen, now)
    return _cond("Schedulable", True, fit.reason, fit.message, gen, now)


def show_capacity(status: ToolServiceStatus, capacity: CapacityPlan, gpu: bool,
                  previous: Sequence[Condition], now: str,
                  serving: tuple[int, int] = (0, 0)) -> ToolServiceStatus:
    """`status` with Progressing and Schedulable saying where the canary's pods find room.

    Progressing gains the capacity's message, with its numbers; so does
    Schedulable for a GPU service, which turns False with reason
    InsufficientGPU when the canary's pods have no room. Nothing changes
    without a message (no canary, nothing to give back). `previous` are the
    stored conditions: Schedulable keeps their lastTransitionTime when its
    status does not change, and takes `now` (RFC 3339) when it does.

    While a swap holds the stable below minReplicas, or gives it back until
    its last pods are ready, `Ready` counts the ready pods of both tracks
    against what the swap promises: `serving` is (ready pods of both tracks,
    minReplicas - maxUnavailable). That holds while the scheduler makes a
    replacement pod wait (Schedulable reason Unschedulable), not when the GPU
    inventory says the floor no longer fits.
    """
    if not capacity.message:
        return status
    conditions = _ready_while_swapping(list(status.conditions), capacity, serving, previous,
                                       now)
    progressing = find(conditions, "Progressing")
    if progressing is not None and capacity.message not in progressing.message:
        conditions = set_condition(conditions, progressing.model_copy(update={
            "message": f"{progressing.message}; {capacity.message}"}))
    schedulable = find(conditions, "Schedulable")
    if gpu and schedulable is not None:
        if capacity.blocked is not None:
            before = find(previous, "Schedulable")
            since = (before.last_transition_time if before is not None
                     and before.status == "False" else now)
            blocked = schedulable.model_copy(update={
                "status": "False", "reason": "InsufficientGPU", "message": capacity.blocked,
                "last_transition_time": since})
            conditions = [blocked if c.type == "Schedulable" else c for c in conditions]
        else:
            conditions = set_condition(conditions, schedulable.model_copy(update={
                "message": f"{schedulable.message}; {capacity.message}"}))
    return status.model_copy(update={"conditions": conditions})


def _ready_while_swapping(conditions: list[Condition], capacity: CapacityPlan,
                          serving: tuple[int, int], previous: Sequence[Condition],
                          now: str) -> list[Condition]:
    ready, floor = serving
    found = find(conditions, "Ready")
    schedulable = find(conditions, "Schedulable")
    # The scheduler's refusal too: the stable Deployment's own in-place
    # replacement (maxSurge 0) creates each new pod while the old one still
    # holds its GPU, and the scheduler refuses it until that pod is gone.
    # Schedulable says so; the pods that serve still keep the promise. Not
    # the inventory's count (InsufficientGPU, NoMatchingNodes): the floor no
    # longer fits.
    waits = found is not None and found.reason == "Unschedulable" and (
        schedulable is not None and schedulable.reason == "Unschedulable")
    if not capacity.swapping or found is None or ready < max(floor, 1) or not (
            found.reason == "ReplicasNotReady" or waits):
        return conditions
    before = find(previous, "Ready")
    since = before.last_transition_time if before is not None and (
        before.status == "True") else now
    why = ("across stable and canary while GPUs move between them" if capacity.canary_replicas
           else "while the stable's last pods start")
    return [c.model_copy(update={
        "status": "True", "reason": "ReplicasReady", "last_transition_time": since,
        "message": f"{ready} replica(s) ready {why} (at least {floor} promised: "
                   "minReplicas - maxUnavailable)"})
            if c.type == "Ready" else c for c in conditions]


def _serving_message(ready: int, serving: Mapping[str, int] | None,
                     stable_version: str) -> str:
    """What Ready=True says: the versions the ready pods actually run, and how many of each.

    Without the pods read (`serving` None), the stable Deployment's count and the
    version it last completed rolling out.
    """
    if not serving:
        return f"{ready} replica(s) of version {stable_version} ready"
    total = sum(serving.values())
    return f"{total} replica(s) ready: {describe_versions(serving)}"


def rollout_phases(toolservices: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many ToolServices are in each rollout phase (every phase listed, 0 included)."""
    phases = dict.fromkeys((p.value for p in RolloutPhase), 0)
    for body in toolservices:
        rollout = (body.get("status") or {}).get("rollout") or {}
        if rollout.get("phase") in phases:
            phases[rollout["phase"]] += 1
    return phases
