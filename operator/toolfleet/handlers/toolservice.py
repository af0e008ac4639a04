"""kopf handlers for ToolServices: every change queues a reconcile; a reconcile reads,
plans (`reconcile.toolservice`, pure), applies (`runtime.apply`) and reports.

Reconciles are queued by the ToolService itself, by its Deployments' status, by
another writer's change to its Services and HPA, by GPU nodes changing, by the
rollout's own pauses and by the periodic resync; the work queue
(`runtime.scheduler`) runs one reconcile per object at a time and retries
temporary failures with backoff. The ToolService carries no finalizer: its
children go with it through ownerReferences.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolservice import PLURAL
from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.metrics import RECONCILE_DURATION, RECONCILES
from toolfleet.placement.inventory import gpu_change_matters, node_gpu
from toolfleet.reconcile import toolservice as reconcile
from toolfleet.resources.meta import MANAGED_BY, SERVICE_LABEL
from toolfleet.runtime import kube
from toolfleet.runtime.apply import apply_children, write_report
from toolfleet.runtime.indices import index_get, index_values
from toolfleet.runtime.observe import observe
from toolfleet.runtime.scheduler import Retry
from toolfleet.settings import Settings
from toolfleet.status.pods import pod_problem

log = logging.getLogger(__name__)


def reconcile_toolservice(key: Hashable, memo: kopf.Memo) -> float | None:
    """The work queue's work: reconcile one (namespace, name); seconds until due again."""
    assert isinstance(key, tuple)
    namespace, name = key
    started = time.monotonic()
    result = "ok"
    try:
        live = kube.get("ToolService", namespace, name)
        if live is None or live["metadata"].get("deletionTimestamp"):
            result = "gone"
            return None
        return _reconcile(live, memo.settings, memo.indices)
    except kube.ApiError as err:
        if err.status == 404:
            result = "gone"  # deleted while we worked: its children go with it
            return None
        result = "error"
        raise Retry(str(err)) from err
    except Exception:
        result = "error"
        raise
    finally:
        RECONCILES.labels(kind="ToolService", result=result).inc()
        RECONCILE_DURATION.labels(kind="ToolService").observe(time.monotonic() - started)


def _reconcile(live: dict[str, Any], settings: Settings, indices: dict[str, Any]) -> float | None:
    now = datetime.now(UTC)
    key = (live["metadata"]["namespace"], live["metadata"]["name"])
    world = observe(live, settings, index_values(indices["gpu_nodes"]),
                    reconcile.gpu_pods_snapshot(indices["gpu_pods"]),
                    index_get(indices["service_pods"], key), now)
    plan = reconcile.plan(world, now)
    applied = apply_children(live, plan, settings.field_manager)
    report = reconcile.report(world, plan, applied, now)
    write_report(live, report)
    if applied.retry:
        # After the status says so: the work queue's backoff paces the next try.
        raise Retry(applied.retry, after=report.requeue_after)
    return report.requeue_after


@kopf.on.event(GROUP, VERSION, PLURAL)
async def toolservice_changed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo,
                              **kwargs: Any) -> None:
    """A ToolService was created, changed or listed: queue its reconcile."""
    if event["type"] != "DELETED":
        memo.queue.add((body.metadata.namespace, body.metadata.name))


@kopf.on.event("apps", "v1", "deployments", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
async def deployment_changed(body: kopf.Body, labels: kopf.Labels, memo: kopf.Memo,
                             **_: Any) -> None:
    """A child Deployment's status moved: the owner's readiness may have too."""
    memo.queue.add((body.metadata.namespace or "", labels[SERVICE_LABEL]))


# Another writer's change to a child (a deleted Service, an edited HPA) is corrected
# at once rather than at the next resync; the reconcile it queues writes nothing when
# the child is already as wanted, so the operator's own writes do not loop.
@kopf.on.event("", "v1", "services", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
async def service_changed(body: kopf.Body, labels: kopf.Labels, memo: kopf.Memo,
                          **_: Any) -> None:
    """A child Service changed or went: queue the owner's reconcile."""
    memo.queue.add((body.metadata.namespace or "", labels[SERVICE_LABEL]))


@kopf.on.event("autoscaling", "v2", "horizontalpodautoscalers", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
async def hpa_changed(event: kopf.RawEvent, body: kopf.Body, labels: kopf.Labels,
                      memo: kopf.Memo, **_: Any) -> None:
    """A child HorizontalPodAutoscaler's spec changed, or it went: queue the owner's reconcile.

    The autoscaler rewrites its status every few seconds under load; those writes
    need no reconcile. (The API server does not count an HPA's spec changes in
    metadata.generation, so the spec itself is compared.)
    """
    specs: dict[str, str] = memo.setdefault("hpa_specs", {})
    uid, spec = str(body.metadata.uid), canonical_json(dict(body.spec))
    if event["type"] == "DELETED":
        specs.pop(uid, None)
    elif specs.get(uid) == spec:
        return
    else:
        specs[uid] = spec
    memo.queue.add((body.metadata.namespace or "", labels[SERVICE_LABEL]))


@kopf.on.event("", "v1", "pods", labels={SERVICE_LABEL: kopf.PRESENT})
async def pod_changed(event: kopf.RawEvent, body: kopf.Body, labels: kopf.Labels,
                      memo: kopf.Memo, **_: Any) -> None:
    """A pod of a ToolService started or stopped failing: queue the owner's reconcile.

    The scheduler marking a pod Unschedulable, or the kubelet failing to pull its
    image, changes no Deployment status, so no other watch would tell. Only a change
    of the failure (`status.pods.pod_problem`) counts: a pod's other status writes
    need no reconcile.
    """
    problems: dict[str, str] = memo.setdefault("pod_problems", {})
    uid = str(body.metadata.uid)
    problem = None if event["type"] == "DELETED" else pod_problem(body)
    if problems.get(uid) == problem:
        return
    if problem is None:
        problems.pop(uid, None)
    else:
        problems[uid] = problem
    memo.queue.add((body.metadata.namespace or "", labels[SERVICE_LABEL]))


@kopf.on.event("nodes")
async def node_changed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo,
                       **kwargs: Any) -> None:
    """GPU capacity changed: every GPU service's Schedulable condition may have too."""
    name = body.metadata.name or ""
    facts = None if event["type"] == "DELETED" else node_gpu(body)
    previous = memo.node_facts.get(name)
    memo.node_facts[name] = facts
    if not gpu_change_matters(event["type"], previous, facts):
        return
    for owner in index_values(kwargs["toolservices"]):
        if (owner.get("spec") or {}).get("gpu"):
            memo.queue.add((owner["metadata"]["namespace"], owner["metadata"]["name"]))


def _apply_failed(body: Mapping[str, Any]) -> bool:
    return any(c.get("type") == "Degraded" and c.get("reason") == "ApplyFailed"
               for c in (body.get("status") or {}).get("conditions") or [])


def _requeue_apply_failed(memo: kopf.Memo, toolservices: kopf.Index[Any, Any],
                          namespace: str | None) -> None:
    for body in index_values(toolservices):
        meta = body["metadata"]
        if (namespace is None or meta["namespace"] == namespace) and _apply_failed(body):
            memo.queue.add((meta["namespace"], meta["name"]))


# What refuses a child most often (a quota, a LimitRange, an admission webhook)
# changes without any event on the ToolService: when it does, a ToolService whose
# apply failed is retried at once instead of at the end of its backoff.
@kopf.on.event("", "v1", "resourcequotas")
@kopf.on.event("", "v1", "limitranges")
async def namespace_policy_changed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo,
                                   **kwargs: Any) -> None:
    """A quota or LimitRange changed or went: retry its namespace's failed applies."""
    if event["type"] is not None:  # None: the initial listing, which changes nothing
        _requeue_apply_failed(memo, kwargs["toolservices"], body.metadata.namespace or "")


@kopf.on.event("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
@kopf.on.event("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations")
async def admission_changed(event: kopf.RawEvent, memo: kopf.Memo, **kwargs: Any) -> None:
    """An admission webhook's configuration changed or went: retry every failed apply."""
    if event["type"] is not None:
        _requeue_apply_failed(memo, kwargs["toolservices"], None)
