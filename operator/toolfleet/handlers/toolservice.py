"""kopf handlers for ToolServices: every change queues a reconcile; a reconcile reads,
plans (`reconcile.toolservice`, pure), applies (`runtime.apply`) and reports.

Reconciles are queued by the ToolService itself, by its Deployments' status, by
GPU nodes changing, by the rollout's own pauses and by the periodic resync; the
work queue (`runtime.scheduler`) runs one reconcile per object at a time and
retries temporary failures with backoff. The ToolService carries no finalizer:
its children go with it through ownerReferences.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolservice import PLURAL
from toolfleet.metrics import RECONCILE_DURATION, RECONCILES, ROLLOUTS
from toolfleet.placement.inventory import gpu_change_matters, node_gpu
from toolfleet.reconcile import toolservice as reconcile
from toolfleet.resources.meta import MANAGED_BY, SERVICE_LABEL
from toolfleet.runtime import kube
from toolfleet.runtime.apply import apply_children, write_report
from toolfleet.runtime.indices import index_values
from toolfleet.runtime.observe import observe
from toolfleet.runtime.scheduler import Retry
from toolfleet.settings import Settings
from toolfleet.status.toolservice import rollout_phases

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
    world = observe(live, settings, index_values(indices["gpu_nodes"]),
                    reconcile.gpu_pods_snapshot(indices["gpu_pods"]), now)
    plan = reconcile.plan(world, now)
    applied = apply_children(live, plan, settings.field_manager)
    report = reconcile.report(world, plan, applied, now)
    write_report(live, report)
    return report.requeue_after


@kopf.on.event(GROUP, VERSION, PLURAL)
async def toolservice_changed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo,
                              **kwargs: Any) -> None:
    """A ToolService was created, changed or listed: queue its reconcile."""
    if event["type"] != "DELETED":
        memo.queue.add((body.metadata.namespace, body.metadata.name))
    for phase, count in rollout_phases(index_values(kwargs["toolservices"])).items():
        ROLLOUTS.labels(phase=phase).set(count)


@kopf.on.event("apps", "v1", "deployments", labels={
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT})
async def deployment_changed(body: kopf.Body, labels: kopf.Labels, memo: kopf.Memo,
                             **_: Any) -> None:
    """A child Deployment's status moved: the owner's readiness may have too."""
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
