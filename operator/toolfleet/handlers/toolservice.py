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
from typing import Any

import kopf
from pydantic import ValidationError

from toolfleet import kube
from toolfleet.api.common import GROUP, VERSION, Condition, now_rfc3339
from toolfleet.api.toolservice import PLURAL, ToolServiceSpec, ToolServiceStatus
from toolfleet.catalog.validate import Severity, validate_toolservice_spec
from toolfleet.metrics import RECONCILE_DURATION, RECONCILES
from toolfleet.placement.inventory import NodeGPU, fit, node_gpu, pod_gpu_usage
from toolfleet.resources.children import build_children
from toolfleet.resources.meta import MANAGED_BY, SERVICE_LABEL, Owner
from toolfleet.resources.service import service_url
from toolfleet.rollout.revision import revision_of
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
QUIET_FIRST = {("Degraded", "False"), ("Progressing", "True"), ("Progressing", "False")}


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
    for node, entries in pods.items():
        for pod_ns, service, resources in entries:
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
    revision = revision_of(spec)

    errors: list[str] = []
    for child in build_children(owner, SETTINGS):
        try:
            if kube.apply_if_changed(child, SETTINGS.field_manager):
                log.info("applied %s %s/%s", child["kind"], namespace, child["metadata"]["name"])
        except kube.ApiError as err:
            if not err.permanent:
                raise kopf.TemporaryError(f"applying {child['kind']}: {err}", delay=5) from err
            errors.append(f"{child['kind']} {child['metadata']['name']}: {err}")

    gpu_fit = None
    if spec.gpu is not None:
        node_facts = [facts for entries in nodes.values() for facts in entries]
        gpu_fit = fit(spec.gpu, spec.autoscaling.min_replicas, node_facts,
                      used_by_others(pods, namespace, name))
    observed = Observed(
        generation=int(meta.get("generation") or 0),
        revision=revision,
        endpoint=service_url(owner, SETTINGS.cluster_domain),
        deployment=kube.get("Deployment", namespace, name),
        fit=gpu_fit,
        apply_errors=errors,
        tool_problems=[str(p) for p in validate_toolservice_spec(body.get("spec") or {})
                       if p.severity == Severity.error],
    )
    new = compute_status(spec, current, observed, now_rfc3339())
    _write_status(body, current, new)


def _write_status(body: dict[str, Any], current: ToolServiceStatus,
                  new: ToolServiceStatus) -> None:
    if new.to_wire() == current.to_wire():
        return
    meta = body["metadata"]
    kube.patch_status("ToolService", meta["namespace"], meta["name"],
                      new.model_dump(by_alias=True, mode="json"))
    for cond in transitions(current.conditions, new.conditions):
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
    reconcile(body, kwargs["gpu_nodes"], kwargs["gpu_pods"])


@kopf.on.event("apps", "v1", "deployments", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
def deployment_changed(body: kopf.Body, labels: kopf.Labels, **kwargs: Any) -> None:
    """A child Deployment's status moved: the owner's readiness may have too."""
    key = (body.metadata.namespace or "", labels[SERVICE_LABEL])
    for owner in kwargs["toolservices"].get(key, []):
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
    for entries in list(kwargs["toolservices"].values()):
        for owner in entries:
            if (owner.get("spec") or {}).get("gpu"):
                reconcile(owner, kwargs["gpu_nodes"], kwargs["gpu_pods"])
