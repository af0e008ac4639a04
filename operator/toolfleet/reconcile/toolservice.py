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
from toolfleet.api.toolservice import Analysis, ToolServiceSpec, ToolServiceStatus
from toolfleet.catalog.validate import Severity, validate_toolservice_spec
from toolfleet.jsonschema.compat import Incompatibility, compare_tool_schemas
from toolfleet.placement.inventory import Fit, NodeGPU, fit
from toolfleet.resources.children import Tracks, build_children, retired_children
from toolfleet.resources.meta import Owner
from toolfleet.resources.revisions import read_revisions
from toolfleet.resources.tracks import service_url
from toolfleet.rollout.analysis import AnalysisKey, AnalysisTarget, StepAnalysis
from toolfleet.rollout.canary import Decision, decide
from toolfleet.rollout.canary import Observed as RolloutObserved
from toolfleet.rollout.canary import analysis_due as rollout_analysis_due
from toolfleet.rollout.control import APPLIED_CONTROL_ANNOTATION, CONTROL_ANNOTATION
from toolfleet.rollout.revision import revision_of
from toolfleet.rollout.traffic import canary_replicas
from toolfleet.settings import Settings
from toolfleet.status.conditions import set_condition
from toolfleet.status.events import Event, EventType, condition_events
from toolfleet.status.toolservice import Observed, compute_status

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


@dataclass(frozen=True)
class Applied:
    """How the writes of a plan went: failures by child, and the stable Deployment after."""

    errors: list[str] = field(default_factory=list)
    stable: Mapping[str, Any] | None = None


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
    return RolloutObserved(
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
    """The children to apply and delete, and the rollout's decision."""
    spec = world.spec
    if isinstance(spec, str):
        return Plan(invalid=spec)
    decision = decide(spec, world.status, _rollout_observed(world, spec), now)
    stored = {**world.stored_revisions, revision_of(spec): spec}
    tracks = Tracks(
        stable_spec=stored.get(decision.stable_revision),
        stable_revision=decision.stable_revision,
        canary_revision=decision.canary_revision,
        canary_replicas=canary_replicas(spec.autoscaling.min_replicas, world.stable_replicas,
                                        decision.canary_weight),
        canary_weight=decision.canary_weight,
    )
    service = owner(world, spec)
    return Plan(children=build_children(service, world.settings, tracks),
                deletes=retired_children(service, tracks), decision=decision, tracks=tracks,
                spec=spec)


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


def gpu_fit(world: World, spec: ToolServiceSpec) -> Fit | None:
    """How the service's GPU pods fit the nodes now; None for a service without GPUs."""
    if spec.gpu is None:
        return None
    return fit(spec.gpu, spec.autoscaling.min_replicas, world.nodes,
               used_by_others(world.gpu_pods, world.namespace, world.name))


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
    )
    new = decision.apply(compute_status(spec, current, observed, stamp))
    changed = new.to_wire() != current.to_wire()
    events = condition_events(current.conditions, new.conditions,
                              rollout_reports=bool(decision.events or decision.rollout))
    events = (events if changed else []) + [
        Event(EventType(e.type), e.reason, e.message) for e in decision.events]
    annotations = {}
    if decision.applied_control is not None and (
            decision.applied_control != world.annotations.get(APPLIED_CONTROL_ANNOTATION)):
        annotations[APPLIED_CONTROL_ANNOTATION] = decision.applied_control
    return Report(status=new if changed else None, annotations=annotations, events=events,
                  requeue_after=decision.requeue_after)


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
