"""The one place that writes a ToolService reconcile: children, deletes, status, events.

Order matters: children first (the status reports how they went), then the
status, then annotations, then events, as `reconcile.toolservice` plans them.
A failure the same request cannot escape (a 4xx: quota, admission, invalid) is
recorded per child and shown in status; one that may pass (5xx, 409, 429,
unreachable) raises `Retry`, so the work queue tries again with backoff.
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

    Raises `Retry` on the first temporary failure (nothing after it is written).
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
            if not err.permanent:
                raise Retry(f"applying {kind} {child_name}: {err}") from err
            errors.append(f"{kind} {child_name}: {err}")
    for kind, child_name in plan.deletes:
        try:
            if kube.get(kind, namespace, child_name) is not None:
                kube.delete(kind, namespace, child_name)
                log.info("deleted %s %s/%s", kind, namespace, child_name)
        except kube.ApiError as err:
            if not err.permanent:
                raise Retry(f"deleting {kind} {child_name}: {err}") from err
            errors.append(f"{kind} {child_name}: {err}")
    return Applied(errors=errors, stable=stable)


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
