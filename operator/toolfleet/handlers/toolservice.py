"""kopf handlers for ToolServices: read, decide (pure), apply, report.

Reconciles are triggered by the ToolService itself, by its Deployments' status,
by GPU nodes changing, and by a periodic resync. The ToolService carries no
finalizer: its children go with it through ownerReferences.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from toolfleet.api.common import GROUP, VERSION, Condition, now_rfc3339
from toolfleet.api.toolservice import PLURAL, RolloutPhase, ToolServiceSpec, ToolServiceStatus
from toolfleet.catalog.validate import Severity, validate_toolservice_spec
from toolfleet.jsonschema.compat import Incompatibility, compare_tool_schemas
from toolfleet.metrics import RECONCILE_DURATION, RECONCILES, ROLLOUTS
from toolfleet.placement.inventory import NodeGPU, fit, node_gpu, pod_gpu_usage
from toolfleet.resources.children import Tracks, build_children, retired_children
from toolfleet.resources.meta import MANAGED_BY, SERVICE_LABEL, Owner
from toolfleet.resources.revisions import read_revisions, revisions_name
from toolfleet.resources.tracks import Track, deployment_name, service_url
from toolfleet.rollout.analysis import AnalysisTarget, StepAnalysis
from toolfleet.rollout.canary import Decision, decide
from toolfleet.rollout.canary import Observed as RolloutObserved
from toolfleet.rollout.control import APPLIED_CONTROL_ANNOTATION, CONTROL_ANNOTATION
from toolfleet.rollout.prometheus import measure
from toolfleet.rollout.revision import revision_of
from toolfleet.rollout.traffic import replica_split
from toolfleet.runtime import kube
from toolfleet.settings import Settings
from toolfleet.status.conditions import find, set_condition, transitions
from toolfleet.status.toolservice import Observed, compute_status

log = logging.getLogger(__name__)
SETTINGS = Settings.from_env()

_locks: dict[tuple[str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
_last_node_facts: dict[str, NodeGPU | None] = {}

# Condition states worth a Warning event; and first states too ordinary for any event.
WARNINGS = {("Ready", "False"), ("Degraded", "True"), ("Schedulable", "False"),
            ("RolloutHealthy", "False")}
QUIET_FIRST = {("Degraded", "False"), ("Progressing", "True"), ("Progressing", "False"),
               ("RolloutHealthy", "True")}
ROLLOUT_CONDITIONS = {"Progressing", "Degraded", "RolloutHealthy"}

_timers: dict[tuple[str, str], threading.Timer] = {}
_indices: dict[str, Any] = {}


def _requeue(namespace: str, name: str, delay: float) -> None:
    """Reconcile again after `delay` seconds (the canary's pause), once per object."""
    key = (namespace, name)

    def fire() -> None:
        with _locks_guard:
            _timers.pop(key, None)
        if "gpu_nodes" not in _indices:
            return
        try:
            reconcile({"metadata": {"namespace": namespace, "name": name}},
                      _indices["gpu_nodes"], _indices["gpu_pods"])
        except (kube.ApiError, kopf.TemporaryError) as err:
            log.warning("scheduled reconcile of %s/%s: %s; retrying", namespace, name, err)
            _requeue(namespace, name, 5)

    with _locks_guard:
        old = _timers.pop(key, None)
        if old is not None:
            old.cancel()
        timer = threading.Timer(max(delay, 0.5), fire)
        timer.daemon = True
        _timers[key] = timer
    timer.start()


def index_values(index: Mapping[Any, Iterable[Any]]) -> list[Any]:
    """Every value of a kopf index, copied while its watch threads may change it."""
    for _ in range(10):
        try:
            return [value for values in list(index.values()) for value in list(values)]
        except RuntimeError:  # changed size during iteration: take it again
            continue
    return [value for values in list(index.values()) for value in list(values)]


def _lock(namespace: str, name: str) -> threading.Lock:
    # Handlers for one ToolService run from several watch streams (its own, its
    # Deployments', the nodes'), so reconciles of one object are serialised here.
    with _locks_guard:
        return _locks.setdefault((namespace, name), threading.Lock())


@kopf.index("nodes")
def gpu_nodes(body: kopf.Body, **_: Any) -> dict[str, NodeGPU]:
    """Node name to its GPU facts, for nodes that offer any GPU resource."""
    facts = node_gpu(body)
    return {facts.name: facts} if facts.allocatable else {}


@kopf.index("pods", field="spec.nodeName", value=kopf.PRESENT)
def gpu_pods(body: kopf.Body, spec: kopf.Spec, labels: kopf.Labels,
             **_: Any) -> dict[str, tuple[str, str, dict[str, int]]]:
    """Node name to (namespace, owning ToolService, GPU resources) of each GPU pod on it."""
    used = pod_gpu_usage(body)
    if not used:
        return {}
    return {spec["nodeName"]: (body.metadata.namespace or "", labels.get(SERVICE_LABEL, ""), used)}


@kopf.index(GROUP, VERSION, PLURAL)
def toolservices(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) to the latest ToolService body."""
    return {(body.metadata.namespace or "", body.metadata.name or ""): dict(body)}


def used_by_others(pods: Mapping[str, Iterable[tuple[str, str, dict[str, int]]]],
                   namespace: str, name: str) -> dict[str, dict[str, int]]:
    """GPU resources held on each node by pods of anything but this ToolService."""
    used: dict[str, dict[str, int]] = {}
    for node in list(pods):
        for pod_ns, service, resources in index_values({node: pods.get(node, [])}):
            if (pod_ns, service) == (namespace, name):
                continue
            per_node = used.setdefault(node, {})
            for key, value in resources.items():
                per_node[key] = per_node.get(key, 0) + value
    return used


def reconcile(body: Mapping[str, Any], nodes: Mapping[str, Iterable[NodeGPU]],
              pods: Mapping[str, Iterable[tuple[str, str, dict[str, int]]]]) -> None:
    """Bring one ToolService's children and status in line with its spec."""
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    started = time.monotonic()
    with _lock(namespace, name):
        # Re-read: the body a handler got may be older than the last reconcile's write.
        live = kube.get("ToolService", namespace, name)
        if live is None or live["metadata"].get("deletionTimestamp"):
            return
        try:
            _reconcile(live, nodes, pods)
            RECONCILES.labels(kind="ToolService", result="ok").inc()
        except kube.ApiError as err:
            if err.status == 404:
                # Deleted while we worked: its children go with it.
                RECONCILES.labels(kind="ToolService", result="gone").inc()
                return
            RECONCILES.labels(kind="ToolService", result="error").inc()
            raise
        except Exception:
            RECONCILES.labels(kind="ToolService", result="error").inc()
            raise
        finally:
            RECONCILE_DURATION.labels(kind="ToolService").observe(time.monotonic() - started)


def _reconcile(body: dict[str, Any], nodes: Mapping[str, Iterable[NodeGPU]],
               pods: Mapping[str, Iterable[tuple[str, str, dict[str, int]]]]) -> None:
    meta = body["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    current = ToolServiceStatus.model_validate(body.get("status") or {})
    try:
        spec = ToolServiceSpec.model_validate(body.get("spec") or {})
    except ValidationError as err:
        # The CRD schema should have refused this; report rather than crash-loop.
        _report_invalid(body, current, err)
        return
    owner = Owner(name=name, namespace=namespace, uid=meta["uid"], spec=spec)
    stable = kube.get("Deployment", namespace, deployment_name(name, Track.stable))
    decision, tracks = _decide_rollout(body, owner, current, stable)

    errors: list[str] = []
    for child in build_children(owner, SETTINGS, tracks):
        try:
            if kube.apply_if_changed(child, SETTINGS.field_manager):
                log.info("applied %s %s/%s", child["kind"], namespace, child["metadata"]["name"])
                if (child["kind"], child["metadata"]["name"]) == ("Deployment", name):
                    stable = None  # written just now: read it again for the status
        except kube.ApiError as err:
            if not err.permanent:
                raise kopf.TemporaryError(f"applying {child['kind']}: {err}", delay=5) from err
            errors.append(f"{child['kind']} {child['metadata']['name']}: {err}")
    for kind, child_name in retired_children(owner, tracks):
        if kube.get(kind, namespace, child_name) is not None:
            kube.delete(kind, namespace, child_name)
            log.info("deleted %s %s/%s", kind, namespace, child_name)

    gpu_fit = None
    if spec.gpu is not None:
        node_facts = index_values(nodes)
        gpu_fit = fit(spec.gpu, spec.autoscaling.min_replicas, node_facts,
                      used_by_others(pods, namespace, name))
    observed = Observed(
        generation=int(meta.get("generation") or 0),
        revision=tracks.stable_revision,
        endpoint=service_url(name, namespace, spec.port, SETTINGS.cluster_domain),
        deployment=stable or kube.get("Deployment", namespace, name),
        fit=gpu_fit,
        apply_errors=errors,
        tool_problems=[str(p) for p in validate_toolservice_spec(body.get("spec") or {})
                       if p.severity == Severity.error],
    )
    new = decision.apply(compute_status(spec, current, observed, now_rfc3339()))
    _write_status(body, current, new, decision)
    if decision.applied_control is not None and decision.applied_control != \
            (meta.get("annotations") or {}).get(APPLIED_CONTROL_ANNOTATION):
        kube.patch_metadata("ToolService", namespace, name,
                            {APPLIED_CONTROL_ANNOTATION: decision.applied_control})
    for event in decision.events:
        kube.emit_event(body, event.type, event.reason, event.message)
    if decision.requeue_after is not None:
        _requeue(namespace, name, decision.requeue_after)


def _decide_rollout(body: Mapping[str, Any], owner: Owner, current: ToolServiceStatus,
                    stable: Mapping[str, Any] | None) -> tuple[Decision, Tracks]:
    """The canary state machine's next step, with analysis run when it asks for one."""
    spec, namespace, name = owner.spec, owner.namespace, owner.name
    desired = revision_of(spec)
    stored = read_revisions(kube.get("ConfigMap", namespace, revisions_name(name)))
    stored[desired] = spec
    stable_revision = current.stable_revision
    stable_spec = stored.get(stable_revision) if stable_revision else None
    canary = kube.get("Deployment", namespace, deployment_name(name, Track.canary))
    annotations = body["metadata"].get("annotations") or {}
    incompatibilities: tuple[Incompatibility, ...] = ()
    if stable_spec is not None and stable_revision != desired:
        incompatibilities = tuple(compare_tool_schemas(stable_spec.tools, spec.tools))
    observed = RolloutObserved(
        desired_revision=desired,
        stable_revision=stable_revision,
        canary_ready_replicas=int(((canary or {}).get("status") or {}).get("readyReplicas") or 0),
        canary_wanted_replicas=int(((canary or {}).get("spec") or {}).get("replicas") or 0),
        control=annotations.get(CONTROL_ANNOTATION),
        applied_control=annotations.get(APPLIED_CONTROL_ANNOTATION),
        incompatibilities=incompatibilities,
        generation=int(body["metadata"].get("generation") or 0),
    )
    now = datetime.now(UTC)
    decision = decide(spec, current, observed, now)
    if decision.analyze is not None and spec.rollout.analysis is not None:
        target = AnalysisTarget(namespace=namespace, toolservice=name,
                                revision=decision.analyze.revision)
        result = measure(spec.rollout.analysis, target)
        log.info("analysis of %s/%s step %d: %s", namespace, name, decision.analyze.step + 1,
                 result.message)
        observed = replace(observed, analysis=StepAnalysis(key=decision.analyze, result=result))
        decision = decide(spec, current, observed, now)

    # The stable Deployment's replicas are the autoscaler's; the canary gets its
    # share of them (at least 2 in all, so a canary always has a pod), see replica_split.
    total = max(2, spec.autoscaling.min_replicas,
                int(((stable or {}).get("spec") or {}).get("replicas") or 0))
    _, canary_replicas = replica_split(total, decision.canary_weight)
    tracks = Tracks(
        stable_spec=stored.get(decision.stable_revision),
        stable_revision=decision.stable_revision,
        canary_revision=decision.canary_revision,
        canary_replicas=canary_replicas,
        canary_weight=decision.canary_weight,
    )
    return decision, tracks


def _write_status(body: dict[str, Any], current: ToolServiceStatus,
                  new: ToolServiceStatus, decision: Decision | None = None) -> None:
    if new.to_wire() == current.to_wire():
        return
    meta = body["metadata"]
    kube.patch_status("ToolService", meta["namespace"], meta["name"],
                      new.model_dump(by_alias=True, mode="json"))
    for cond in transitions(current.conditions, new.conditions):
        # The rollout reports its own transitions as events (decision.events).
        if cond.type in ROLLOUT_CONDITIONS and decision is not None and \
                (decision.events or decision.rollout is not None):
            continue
        first = find(current.conditions, cond.type) is None
        if first and (cond.type, cond.status) in QUIET_FIRST:
            continue
        kind = "Warning" if (cond.type, cond.status) in WARNINGS else "Normal"
        kube.emit_event(body, kind, cond.reason,
                        f"{cond.type}={cond.status}: {cond.message}".rstrip(": "))


def _report_invalid(body: dict[str, Any], current: ToolServiceStatus,
                    err: ValidationError) -> None:
    problems = "; ".join(
        f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())
    gen = int(body["metadata"].get("generation") or 0)
    now = now_rfc3339()
    conditions = current.conditions
    for type_, status in (("Ready", "False"), ("Degraded", "True")):
        conditions = set_condition(conditions, Condition(
            type=type_, status=status, reason="InvalidSpec", message=problems,
            last_transition_time=now, observed_generation=gen))
    _write_status(body, current, current.model_copy(update={
        "conditions": conditions, "observed_generation": gen}))


@kopf.on.event(GROUP, VERSION, PLURAL)
def toolservice_changed(event: kopf.RawEvent, body: kopf.Body, **kwargs: Any) -> None:
    """A ToolService was created, changed or listed: reconcile it."""
    if event["type"] == "DELETED":
        return
    _indices.update(gpu_nodes=kwargs["gpu_nodes"], gpu_pods=kwargs["gpu_pods"])
    reconcile(body, kwargs["gpu_nodes"], kwargs["gpu_pods"])
    _count_rollouts(kwargs["toolservices"])


def _count_rollouts(index: Mapping[Any, Iterable[Mapping[str, Any]]]) -> None:
    phases = dict.fromkeys((p.value for p in RolloutPhase), 0)
    for body in index_values(index):
        rollout = (body.get("status") or {}).get("rollout") or {}
        if rollout.get("phase") in phases:
            phases[rollout["phase"]] += 1
    for phase, count in phases.items():
        ROLLOUTS.labels(phase=phase).set(count)


@kopf.on.event("apps", "v1", "deployments", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
def deployment_changed(body: kopf.Body, labels: kopf.Labels, **kwargs: Any) -> None:
    """A child Deployment's status moved: the owner's readiness may have too."""
    key = (body.metadata.namespace or "", labels[SERVICE_LABEL])
    owners = index_values({key: kwargs["toolservices"].get(key, [])})
    for owner in owners:
        reconcile(owner, kwargs["gpu_nodes"], kwargs["gpu_pods"])


@kopf.on.event("nodes")
def node_changed(event: kopf.RawEvent, body: kopf.Body, **kwargs: Any) -> None:
    """GPU capacity changed: every GPU service's Schedulable condition may have too."""
    name = body.metadata.name or ""
    facts = None if event["type"] == "DELETED" else node_gpu(body)
    if event["type"] is None:
        # The initial listing: the ToolServices' own listing reconciles them all.
        with _locks_guard:
            _last_node_facts[name] = facts
        return
    # Nodes report heartbeats all the time; only a change in GPU facts matters.
    with _locks_guard:
        if _last_node_facts.get(name) == facts:
            return
        _last_node_facts[name] = facts
    if facts is not None and not facts.allocatable and event["type"] != "DELETED":
        return
    for owner in index_values(kwargs["toolservices"]):
        if (owner.get("spec") or {}).get("gpu"):
            reconcile(owner, kwargs["gpu_nodes"], kwargs["gpu_pods"])
