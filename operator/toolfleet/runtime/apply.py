"""The one place that writes a ToolService reconcile: children, deletes, status, events.

Order matters: children first (the status reports how they went), then the
status, then annotations, then events, as `reconcile.toolservice` plans them.
Every failure to write a child is recorded per child, quoting the API server,
and the other children are still written: a Service refused its IP does not
hold back the Deployment. The status shows the failures at once; the caller
then raises `Retry` (`Applied.retry`), so the work queue tries again with
capped backoff. Failures that may pass by themselves (5xx, 409, 429,
unreachable) and those waiting on someone's change (a quota, an admission
webhook, an invalid field) are retried alike: the backoff keeps either from
being hot-looped, and the watches on quotas and webhook configurations bring the
retry forward when such a change is made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from toolfleet.reconcile.toolservice import Applied, Plan, Report
from toolfleet.resources.tracks import Track, deployment_name
from toolfleet.runtime import kube
from toolfleet.runtime.scheduler import Retry

log = logging.getLogger(__name__)


def apply_children(toolservice: Mapping[str, Any], plan: Plan, field_manager: str) -> Applied:
    """Apply each planned child unless unchanged, delete retired ones; report failures.

    Never raises for a child: each failure becomes one `Applied.errors` line,
    "<Kind> <name>: <the API server's message>".
    """
    meta = toolservice["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    errors: list[str] = []
    stable: dict[str, Any] | None = None
    for child in plan.children:
        kind, child_name = child["kind"], child["metadata"]["name"]
        try:
            if kube.apply_if_changed(child, field_manager):
                log.info("applied %s %s/%s", kind, namespace, child_name)
                if (kind, child_name) == ("Deployment", deployment_name(name, Track.stable)):
                    stable = kube.get(kind, namespace, child_name)
        except kube.ApiError as err:
            log.warning("applying %s %s/%s failed: %s", kind, namespace, child_name, err)
            errors.append(f"{kind} {child_name}: {err}")
    lifted = _lift(namespace, plan, field_manager, errors)
    _scale_stable(namespace, name, plan, field_manager, errors)
    for kind, child_name in plan.deletes:
        try:
            if kube.get(kind, namespace, child_name) is not None:
                kube.delete(kind, namespace, child_name)
                log.info("deleted %s %s/%s", kind, namespace, child_name)
        except kube.ApiError as err:
            log.warning("deleting %s %s/%s failed: %s", kind, namespace, child_name, err)
            errors.append(f"{kind} {child_name}: {err}")
    return Applied(errors=errors, stable=stable, lifted=lifted)


def _lift(namespace: str, plan: Plan, field_manager: str, errors: list[str]) -> str | None:
    """Scale a Deployment found at 0 under its autoscaler back up; what status says of it."""
    if plan.lift is None:
        return None
    try:
        kube.scale("Deployment", namespace, plan.lift.name, plan.lift.replicas, field_manager)
    except kube.ApiError as err:
        log.warning("scaling Deployment %s/%s failed: %s", namespace, plan.lift.name, err)
        errors.append(f"Deployment {plan.lift.name}: {err}")
        return None
    log.info("%s: %s", namespace, plan.lift.message)
    return plan.lift.message


def _scale_stable(namespace: str, name: str, plan: Plan, field_manager: str,
                  errors: list[str]) -> None:
    """Set the stable Deployment's replicas where a swap moves its GPUs (`Plan.stable_replicas`).

    A scale, not an apply: the field stays out of our applied set, so the
    autoscaler takes it over again when the swap is over.
    """
    if plan.stable_replicas is None:
        return
    stable = deployment_name(name, Track.stable)
    try:
        kube.scale("Deployment", namespace, stable, plan.stable_replicas, field_manager)
    except kube.ApiError as err:
        log.warning("scaling Deployment %s/%s failed: %s", namespace, stable, err)
        errors.append(f"Deployment {stable}: {err}")
        return
    log.info("scaled Deployment %s/%s to %d replicas (GPU swap)", namespace, stable,
             plan.stable_replicas)


def write_report(toolservice: Mapping[str, Any], report: Report) -> None:
    """Write the status (if it changed), then annotations, then record the events."""
    meta = toolservice["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    try:
        if report.status is not None:
            kube.patch_status("ToolService", namespace, name,
                              report.status.model_dump(by_alias=True, mode="json"))
        if report.annotations:
            kube.patch_metadata("ToolService", namespace, name, report.annotations)
    except kube.ApiError as err:
        if err.status == 404:
            return  # deleted while we worked: its children go with it
        if err.permanent:
            raise
        raise Retry(f"writing the status of {namespace}/{name}: {err}") from err
    for event in report.events:
        kube.emit_event(toolservice, event.type, event.reason, event.message)
