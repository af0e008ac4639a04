"""The pure reconcile of one ToolService: from what was observed to what to write.

A reconcile has two halves around the writes of its children, because the
status reports how those writes went:

1. `plan(world, now)`: the children to apply and delete, and the rollout's
   decision. The shell first asks `analysis_due(world, now)` and, when an
   analysis is due, measures it and puts the result in `World.analysis`, so
   the rollout decides once, with everything it needs.
2. `report(world, plan, applied, now)`: the status to write (None when it
   would not change, so a steady reconcile writes nothing), the events, the
   annotations, and when to reconcile again.

Nothing here calls the API server or reads the clock: equal inputs give equal
outputs, which is what lets the operator restart anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from toolfleet.api.common import rfc3339
from toolfleet.api.conditions import ConditionType, Reason, condition
from toolfleet.api.toolservice import (
    Analysis,
    CapacityMode,
    RolloutStatus,
    ToolServiceSpec,
    ToolServiceStatus,
)
from toolfleet.catalog.validate import Severity, validate_toolservice_spec
from toolfleet.jsonschema.compat import Incompatibility, compare_tool_schemas
from toolfleet.placement.inventory import Fit, NodeGPU, fit
from toolfleet.resources.children import Tracks, build_children, retired_children
from toolfleet.resources.meta import REVISION_LABEL, TRACK_LABEL, Owner
from toolfleet.resources.revisions import read_revisions
from toolfleet.resources.tracks import Track, service_url
from toolfleet.rollout.analysis import AnalysisKey, AnalysisTarget, StepAnalysis
from toolfleet.rollout.canary import Decision, decide
from toolfleet.rollout.canary import Observed as RolloutObserved
from toolfleet.rollout.canary import analysis_due as rollout_analysis_due
from toolfleet.rollout.capacity import CapacityPlan, Pods, Room, floor_of, plan_capacity
from toolfleet.rollout.control import APPLIED_CONTROL_ANNOTATION, CONTROL_ANNOTATION
from toolfleet.rollout.revision import revision_of
from toolfleet.rollout.steps import ACTIVE_PHASES, POLL_SECONDS
from toolfleet.settings import Settings
from toolfleet.status.conditions import set_condition
from toolfleet.status.events import Event, EventType, condition_events
from toolfleet.status.pods import (
    deployed_revision,
    failure_state,
    serving_versions,
    unschedulable,
)
from toolfleet.status.toolservice import Observed, compute_status, show_capacity

# (namespace, owning ToolService, GPU resources held) of each GPU pod, by node name.
GPUPods = Mapping[str, Sequence[tuple[str, str, Mapping[str, int]]]]
# What a World parses from its objects; none of it depends on the analysis.
_PARSED = frozenset({"status", "spec", "stored_revisions", "incompatibilities"})


@dataclass(frozen=True)
class World:
    """Everything one reconcile of a ToolService observed; the shell gathers it."""

    toolservice: Mapping[str, Any]
    """The live ToolService object (metadata, spec, status)."""
    settings: Settings
    stable: Mapping[str, Any] | None = None
    """The stable Deployment, `<name>`, if it exists."""
    canary: Mapping[str, Any] | None = None
    """The canary Deployment, `<name>-canary`, if it exists."""
    revisions: Mapping[str, Any] | None = None
    """The `<name>-revisions` ConfigMap holding the spec of each running revision."""
    nodes: Sequence[NodeGPU] = ()
    """Every node that offers a GPU resource."""
    gpu_pods: GPUPods = field(default_factory=dict)
    pods: Sequence[Mapping[str, Any]] | None = None
    """The service's pods (both tracks); None when they were not read."""
    analysis: StepAnalysis | None = None
    """The result of the analysis `analysis_due` asked for, once measured."""

    @property
    def namespace(self) -> str:
        """metadata.namespace of the ToolService."""
        return str(self.toolservice["metadata"]["namespace"])

    @property
    def name(self) -> str:
        """metadata.name of the ToolService."""
        return str(self.toolservice["metadata"]["name"])

    @property
    def generation(self) -> int:
        """metadata.generation of the ToolService (0 when unset)."""
        return int(self.toolservice["metadata"].get("generation") or 0)

    @property
    def annotations(self) -> Mapping[str, str]:
        """metadata.annotations of the ToolService."""
        return self.toolservice["metadata"].get("annotations") or {}

    @property
    def stable_replicas(self) -> int:
        """spec.replicas of the stable Deployment (the autoscaler's), 0 without one."""
        return int(((self.stable or {}).get("spec") or {}).get("replicas") or 0)

    # Parsed once per World: a reconcile reads them in analysis_due, plan and report.
    @cached_property
    def status(self) -> ToolServiceStatus:
        """The stored status (empty when the ToolService has none yet)."""
        return ToolServiceStatus.model_validate(self.toolservice.get("status") or {})

    @cached_property
    def spec(self) -> ToolServiceSpec | str:
        """The spec, or a message naming each field that cannot be read."""
        try:
            return ToolServiceSpec.model_validate(self.toolservice.get("spec") or {})
        except ValidationError as err:
            return "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in err.errors())

    @cached_property
    def stored_revisions(self) -> dict[str, ToolServiceSpec]:
        """The spec of each revision kept in the revisions ConfigMap."""
        return read_revisions(self.revisions)

    @cached_property
    def incompatibilities(self) -> tuple[Incompatibility, ...]:
        """Breaking tool schema changes from the stable revision to the spec (none without one)."""
        spec, stable_revision = self.spec, self.status.stable_revision
        if isinstance(spec, str) or not stable_revision or stable_revision == revision_of(spec):
            return ()
        stable_spec = self.stored_revisions.get(stable_revision)
        if stable_spec is None:
            return ()
        return tuple(compare_tool_schemas(stable_spec.tools, spec.tools))

    def with_analysis(self, analysis: StepAnalysis) -> World:
        """This World with a measured analysis, keeping what was already parsed."""
        measured = replace(self, analysis=analysis)
        measured.__dict__.update({key: value for key, value in self.__dict__.items()
                                  if key in _PARSED})
        return measured


@dataclass(frozen=True)
class Plan:
    """What to apply and delete, and what the rollout decided; `invalid` when nothing can be."""

    children: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[tuple[str, str]] = field(default_factory=list)
    """(kind, name) of children to delete if they exist."""
    decision: Decision | None = None
    tracks: Tracks | None = None
    spec: ToolServiceSpec | None = None
    invalid: str | None = None
    """Why the spec cannot be read (the CRD schema should have refused it)."""
    lift: Lift | None = None
    """A stable Deployment to lift from 0 replicas, which turns its autoscaler off."""
    capacity: CapacityPlan | None = None
    """Where the canary's pods find room, and what status says of it."""
    stable_replicas: int | None = None
    """Scale the stable Deployment to this (a swap moves its GPUs); None: leave it."""


@dataclass(frozen=True)
class Lift:
    """Scale a Deployment the autoscaler cannot scale (at 0) back to its floor."""

    name: str
    replicas: int
    message: str


@dataclass(frozen=True)
class Applied:
    """How the writes of a plan went: failures by child, and the stable Deployment after."""

    errors: list[str] = field(default_factory=list)
    stable: Mapping[str, Any] | None = None
    lifted: str | None = None
    """What was said of a stable Deployment lifted from 0 replicas (see `Lift`)."""

    @property
    def retry(self) -> str | None:
        """Why the writes must be tried again (every failure is retried), or None."""
        return "; ".join(self.errors) or None


@dataclass(frozen=True)
class Report:
    """What to write after the children: status, annotations, events, the next reconcile."""

    status: ToolServiceStatus | None
    """The status to write; None when it equals the stored one."""
    annotations: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None
    """Seconds until the rollout's next decision is due; None: wait for a change."""


def owner(world: World, spec: ToolServiceSpec) -> Owner:
    """The ToolService as its children's ownerReference names it."""
    meta = world.toolservice["metadata"]
    return Owner(name=world.name, namespace=world.namespace, uid=meta["uid"], spec=spec)


def _rollout_observed(world: World, spec: ToolServiceSpec) -> RolloutObserved:
    canary = world.canary or {}
    failing = failure_state(world.canary, world.pods or (), Track.canary.value)
    return RolloutObserved(
        canary_problem=failing.message if failing else None,
        canary_stalled=failing is not None and failing.stalled,
        stable_deployed_revision=deployed_revision(world.stable),
        desired_revision=revision_of(spec),
        stable_revision=world.status.stable_revision,
        canary_ready_replicas=int((canary.get("status") or {}).get("readyReplicas") or 0),
        canary_wanted_replicas=int((canary.get("spec") or {}).get("replicas") or 0),
        control=world.annotations.get(CONTROL_ANNOTATION),
        applied_control=world.annotations.get(APPLIED_CONTROL_ANNOTATION),
        incompatibilities=world.incompatibilities,
        generation=world.generation,
        analysis=world.analysis,
    )


@dataclass(frozen=True)
class AnalysisRequest:
    """A canary analysis to measure: what to ask Prometheus, and the key to answer under."""

    key: AnalysisKey
    analysis: Analysis
    target: AnalysisTarget


def analysis_due(world: World, now: datetime) -> AnalysisRequest | None:
    """The canary analysis to measure before `plan`, if the rollout is at one."""
    spec = world.spec
    if isinstance(spec, str) or spec.rollout.analysis is None:
        return None
    observed = replace(_rollout_observed(world, spec), analysis=None)
    key = rollout_analysis_due(spec, world.status, observed, now)
    if key is None:
        return None
    target = AnalysisTarget(namespace=world.namespace, toolservice=world.name,
                            revision=key.revision)
    return AnalysisRequest(key=key, analysis=spec.rollout.analysis, target=target)


def plan(world: World, now: datetime) -> Plan:
    """The children to apply and delete, the rollout's decision, and where its pods fit.

    The capacity is planned twice: at the stored weight, to tell the rollout
    whether its canary has room (`RolloutObserved.insufficient_gpu`) and how
    many pods count as all of them; then at the weight decided, for the
    replicas of both Deployments.
    """
    spec = world.spec
    if isinstance(spec, str):
        return Plan(invalid=spec)
    before = _capacity(world, spec, _serving_weight(world.status.rollout),
                       world.status.stable_revision)
    observed = _rollout_observed(world, spec)
    if before.canary_goal > 0:
        observed = replace(observed, insufficient_gpu=before.blocked,
                           canary_wanted_replicas=before.canary_goal)
    decision = decide(spec, world.status, observed, now)
    capacity = _capacity(world, spec, decision.canary_weight, decision.stable_revision)
    if decision.rollout is not None:
        shown = capacity.swapping or decision.canary_weight > 0
        decision = replace(decision, rollout=decision.rollout.model_copy(
            update={"capacity": capacity.status() if shown else None}))
    stored = {**world.stored_revisions, revision_of(spec): spec}
    previous = decision.rollout.previous_revision if decision.rollout else None
    tracks = Tracks(
        retained={previous: stored[previous]} if previous in stored else {},
        stable_spec=stored.get(decision.stable_revision),
        stable_revision=decision.stable_revision,
        canary_revision=decision.canary_revision or _giving_back(world, spec, capacity),
        canary_replicas=capacity.canary_replicas,
        canary_weight=decision.canary_weight,
    )
    service = owner(world, spec)
    children = build_children(service, world.settings, tracks)
    deletes = retired_children(service, tracks)
    if capacity.swapping:
        # The operator sets the stable's replicas while GPUs move: its autoscaler
        # would scale them back to minReplicas. It returns when the swap is over.
        children = [c for c in children if c["kind"] != "HorizontalPodAutoscaler"]
        deletes.append(("HorizontalPodAutoscaler", world.name))
    return Plan(children=children, deletes=deletes, decision=decision, tracks=tracks,
                spec=spec, lift=None if capacity.swapping else _lift(world, spec),
                capacity=capacity, stable_replicas=_stable_scale(world, capacity))


def _serving_weight(rollout: RolloutStatus | None) -> int:
    """The canary's weight as stored: 0 unless a started rollout runs or is paused."""
    if rollout is None or rollout.phase not in ACTIVE_PHASES or rollout.step_started_at is None:
        return 0
    return rollout.weight


def _capacity(world: World, spec: ToolServiceSpec, weight: int,
              stable_revision: str | None) -> CapacityPlan:
    """Where the canary's pods find room at `weight` (see `rollout.capacity`).

    A stable Deployment that rolls to `stable_revision` (a promotion) may take
    maxUnavailable of its ready pods down on its own: those do not count
    towards the floor the canary's pods keep.
    """
    recorded = world.status.rollout.capacity if world.status.rollout else None
    full_replicas = None
    if recorded is not None and recorded.mode == CapacityMode.swap:
        # A swap under way: the stable's own count no longer says what to give back.
        full_replicas = recorded.full_replicas
    canary = world.canary or {}
    stable_ready = _ready(world.stable)
    if _rolling(world.stable, stable_revision, world.pods or ()):
        stable_ready = max(0, min(stable_ready, world.stable_replicas)
                           - spec.rollout.max_unavailable)
    found = gpu_fit(world, spec)
    room = None if found is None or spec.gpu is None else Room(
        slots=found.schedulable_replicas, free=found.free_on_matching,
        nodes=len(found.matching_nodes), resource=found.resource,
        per_replica=found.per_replica, products=tuple(spec.gpu.products))
    canary = world.canary or {}
    pods = Pods(stable_replicas=world.stable_replicas, stable_ready=stable_ready,
                canary_replicas=int((canary.get("spec") or {}).get("replicas") or 0),
                canary_ready=_ready(world.canary),
                held=None if found is None else held_by(
                    world.gpu_pods, world.namespace, world.name, found),
                stable_failing=_stable_failure(world) is not None)
    return plan_capacity(spec.rollout.capacity, weight,
                         min_replicas=spec.autoscaling.min_replicas,
                         max_unavailable=spec.rollout.max_unavailable, pods=pods, room=room,
                         full_replicas=full_replicas)


def _rolling(deployment: Mapping[str, Any] | None, revision: str | None,
             pods: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the stable Deployment's pods are not yet all of `revision`'s template.

    The Deployment's status is summed from its ReplicaSets' and lags them: for
    a moment after a new pod is ready it can show every replica updated while
    an old pod still serves, and the Deployment controller is about to take
    that pod down. So a status not yet observed for this generation, or a
    live stable pod of another revision, also says it rolls.
    """
    if deployment is None:
        return False
    meta = deployment.get("metadata") or {}
    status = deployment.get("status") or {}
    replicas = int(status.get("replicas") or 0)
    if (meta.get("labels") or {}).get(REVISION_LABEL) != revision or (
            int(status.get("updatedReplicas") or 0) < replicas) or (
            status.get("observedGeneration") != meta.get("generation")):
        return True
    return any(labels.get(TRACK_LABEL) == Track.stable.value
               and labels.get(REVISION_LABEL) != revision
               and not (pod.get("metadata") or {}).get("deletionTimestamp")
               for pod in pods
               if (labels := (pod.get("metadata") or {}).get("labels") or {}))


def _ready(deployment: Mapping[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0)


def _giving_back(world: World, spec: ToolServiceSpec, capacity: CapacityPlan) -> str | None:
    """The canary's revision while its pods wait for the stable's to take their GPUs back.

    Only the current spec's revision can be kept running (the canary
    Deployment is built from the spec): after a promotion or a rollback it
    is; after the spec changed again, the canary's pods go at once.
    """
    if capacity.canary_replicas == 0 or world.canary is None:
        return None
    live = ((world.canary.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL)
    return live if live == revision_of(spec) else None


def _stable_scale(world: World, capacity: CapacityPlan) -> int | None:
    """The replicas to set on the stable Deployment, when a swap changes them."""
    wanted = capacity.stable_replicas
    if wanted is None or world.stable is None or wanted == world.stable_replicas:
        return None
    return wanted


def _lift(world: World, spec: ToolServiceSpec) -> Lift | None:
    """A stable Deployment at 0 replicas while the autoscaler's floor is above 0.

    The HorizontalPodAutoscaler does not scale a target at 0 (scaling is off
    there by design), so a `kubectl scale --replicas=0` would hold the service
    down for good; the operator puts it back at minReplicas.
    """
    stable = world.stable
    if stable is None or "replicas" not in (stable.get("spec") or {}):
        return None
    floor = spec.autoscaling.min_replicas
    if world.stable_replicas != 0 or floor < 1:
        return None
    name = str(stable["metadata"]["name"])
    return Lift(name=name, replicas=floor, message=(
        f"Deployment {name} was found at 0 replicas, which turns its HorizontalPodAutoscaler "
        f"off; lifted to minReplicas ({floor})"))


def used_by_others(pods: GPUPods, namespace: str, name: str) -> dict[str, dict[str, int]]:
    """GPU resources held on each node by pods of anything but this ToolService."""
    used: dict[str, dict[str, int]] = {}
    for node, held in pods.items():
        for pod_namespace, service, resources in held:
            if (pod_namespace, service) == (namespace, name):
                continue
            per_node = used.setdefault(node, {})
            for key, value in resources.items():
                per_node[key] = per_node.get(key, 0) + value
    return used


def held_by(pods: GPUPods, namespace: str, name: str, found: Fit) -> int:
    """Pods of this ToolService holding `found.resource` on its matching nodes, terminating
    ones included (the index keeps a pod until it is deleted)."""
    units = sum(resources.get(found.resource, 0)
                for node in found.matching_nodes for pod_namespace, service, resources in
                pods.get(node, ()) if (pod_namespace, service) == (namespace, name))
    return units // max(found.per_replica, 1)


def gpu_fit(world: World, spec: ToolServiceSpec) -> Fit | None:
    """How the service's GPU pods fit the nodes now; None for a service without GPUs."""
    if spec.gpu is None:
        return None
    return fit(spec.gpu, spec.autoscaling.min_replicas, world.nodes,
               used_by_others(world.gpu_pods, world.namespace, world.name),
               node_selector=spec.node_selector)


def report(world: World, plan: Plan, applied: Applied, now: datetime) -> Report:
    """Status, events and annotations after the plan's writes went as `applied` says."""
    stamp = rfc3339(now)
    current = world.status
    if plan.invalid is not None or plan.spec is None or plan.decision is None:
        return _invalid_report(world, plan.invalid or "spec unreadable", stamp)
    spec, decision = plan.spec, plan.decision
    observed = Observed(
        generation=world.generation,
        revision=decision.stable_revision,
        endpoint=service_url(world.name, world.namespace, spec.port,
                             world.settings.cluster_domain),
        deployment=applied.stable if applied.stable is not None else world.stable,
        fit=gpu_fit(world, spec),
        apply_errors=applied.errors,
        tool_problems=[str(p) for p in validate_toolservice_spec(
            world.toolservice.get("spec") or {}) if p.severity == Severity.error],
        serving=None if world.pods is None else serving_versions(world.pods),
        stable_failure=_stable_failure(world),
        unschedulable=unschedulable(world.pods or ()),
        lifted=applied.lifted,
    )
    new = decision.apply(compute_status(spec, current, observed, stamp))
    if plan.capacity is not None:
        serving = (_ready(world.stable) + _ready(world.canary),
                   floor_of(spec.autoscaling.min_replicas, spec.rollout.max_unavailable))
        new = show_capacity(new, plan.capacity, spec.gpu is not None, current.conditions,
                            stamp, serving)
    changed = new.to_wire() != current.to_wire()
    said = {(c.type, c.reason) for c in decision.conditions} if (
        decision.events or decision.rollout) else set()
    events = condition_events(current.conditions, new.conditions, rollout_said=said)
    events = (events if changed else []) + [
        Event(EventType(e.type), e.reason, e.message) for e in decision.events]
    if applied.lifted:
        events.append(Event(EventType.warning, Reason.replicas_restored, applied.lifted))
    annotations = {}
    if decision.applied_control is not None and (
            decision.applied_control != world.annotations.get(APPLIED_CONTROL_ANNOTATION)):
        annotations[APPLIED_CONTROL_ANNOTATION] = decision.applied_control
    requeue = decision.requeue_after
    if plan.capacity is not None and (plan.capacity.swapping or plan.capacity.blocked):
        # GPUs move as pods become ready, or free up as other pods go: look
        # again soon even when the rollout itself waits for nothing (a
        # promotion or rollback giving GPUs back, a pause for InsufficientGPU).
        requeue = POLL_SECONDS if requeue is None else min(requeue, POLL_SECONDS)
    return Report(status=new if changed else None, annotations=annotations, events=events,
                  requeue_after=requeue)


def _stable_failure(world: World) -> str | None:
    """Why the stable's pods fail in a way waiting will not mend (Degraded
    DeploymentFailing, `Pods.stable_failing`); None when they do not.

    Not a pod the scheduler holds back: Schedulable reports it in the
    scheduler's words, and a GPU service's replacement pod waits so for the
    GPU of the pod it replaces at every in-place roll. One refused for good
    ends as the Deployment's ProgressDeadlineExceeded, which counts.
    """
    placed = [pod for pod in world.pods or () if unschedulable([pod]) is None]
    failing = failure_state(world.stable, placed, Track.stable.value)
    return None if failing is None else failing.message


def _invalid_report(world: World, problems: str, stamp: str) -> Report:
    current = world.status
    conditions = current.conditions
    for type_, status in ((ConditionType.ready, False), (ConditionType.degraded, True)):
        conditions = set_condition(conditions, condition(
            type_, status, Reason.invalid_spec, problems, generation=world.generation,
            now=stamp))
    new = current.model_copy(update={"conditions": conditions,
                                     "observed_generation": world.generation})
    if new.to_wire() == current.to_wire():
        return Report(status=None)
    return Report(status=new, events=condition_events(current.conditions, new.conditions))


def gpu_pods_snapshot(index: Mapping[str, Iterable[tuple[str, str, Mapping[str, int]]]]
                      ) -> dict[str, list[tuple[str, str, Mapping[str, int]]]]:
    """A plain copy of the GPU pods index, safe to read while its watch changes it."""
    return {node: list(values) for node, values in list(index.items())}
