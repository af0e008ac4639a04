"""A ToolService's status, derived from what was observed of its children."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolfleet.api.common import Condition
from toolfleet.api.toolservice import GPUStatus, RolloutPhase, ToolServiceSpec, ToolServiceStatus
from toolfleet.placement.inventory import Fit
from toolfleet.status.conditions import set_condition


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

    fit = observed.fit
    if fit is None:
        schedulable = _cond("Schedulable", True, "NoGPURequired",
                            "the service needs no GPU", gen, now)
    else:
        enough = fit.schedulable_replicas >= spec.autoscaling.min_replicas
        schedulable = _cond("Schedulable", enough, fit.reason, fit.message, gen, now)
    conditions = set_condition(conditions, schedulable)

    if observed.apply_errors:
        degraded = _cond("Degraded", True, "ApplyFailed", "; ".join(observed.apply_errors),
                         gen, now)
    elif failure:
        degraded = _cond("Degraded", True, "DeploymentFailing", failure, gen, now)
    elif observed.tool_problems:
        degraded = _cond("Degraded", True, "InvalidTools",
                         "left out of every catalog: " + "; ".join(observed.tool_problems),
                         gen, now)
    else:
        degraded = _cond("Degraded", False, "AsExpected", "", gen, now)
    conditions = set_condition(conditions, degraded)

    rolled_out = up_to_date and ready >= wanted
    if rolled_out:
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
        version = spec.version if rolled_out else (current.stable_version or spec.version)
        ready_cond = _cond("Ready", True, "ReplicasReady",
                           f"{ready} replica(s) of version {version} ready", gen, now)
    elif fit is not None and schedulable.status != "True":
        ready_cond = _cond("Ready", False, "Unschedulable", schedulable.message, gen, now)
    elif observed.apply_errors:
        ready_cond = _cond("Ready", False, "ApplyFailed", degraded.message, gen, now)
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
        "gpu": None if fit is None else GPUStatus(
            matching_nodes=fit.matching_nodes, schedulable_replicas=fit.schedulable_replicas),
    })


def rollout_phases(toolservices: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many ToolServices are in each rollout phase (every phase listed, 0 included)."""
    phases = dict.fromkeys((p.value for p in RolloutPhase), 0)
    for body in toolservices:
        rollout = (body.get("status") or {}).get("rollout") or {}
        if rollout.get("phase") in phases:
            phases[rollout["phase"]] += 1
    return phases
