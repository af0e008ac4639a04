"""Operator-wide handlers: settings, the HTTP server, and the periodic resync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from toolfleet.handlers.toolservice import SETTINGS, index_values, reconcile
from toolfleet.runtime import kube
from toolfleet.server.app import READY_KEY, build_app, start
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peering:
    """How this replica takes part in kopf peering (set by `toolfleet run --peering`)."""

    name: str
    namespace: str | None  # None: the ClusterKopfPeering
    identity: str
    priority: int


PEERING: Peering | None = None


def is_active(peering: Peering) -> bool:
    """Whether kopf lets this replica work: no live peer has an equal or higher priority.

    kopf pauses the watches of a replica that steps back, but not our own resync
    task, which must then stand aside too.
    """
    kind = "KopfPeering" if peering.namespace else "ClusterKopfPeering"
    body = kube.get(kind, peering.namespace, peering.name)
    now = datetime.now(UTC)
    for identity, peer in ((body or {}).get("status") or {}).items():
        if identity == peering.identity or not isinstance(peer, dict):
            continue
        try:
            deadline = (datetime.fromisoformat(str(peer["lastseen"]))
                        + timedelta(seconds=int(peer.get("lifetime", 60))))
        except (KeyError, ValueError):
            continue
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if deadline > now and int(peer.get("priority", 0)) >= peering.priority:
            return False
    return True


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Tune kopf and start serving health and metrics."""
    # Our own Events say what happened; kopf's per-handler chatter stays in the log.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    store = memo.setdefault("store", CatalogStore())
    app = build_app(store)
    memo["app"] = app
    memo["runner"] = await start(app, SETTINGS.http_host, SETTINGS.http_port)


@kopf.on.startup()
async def start_resync(memo: kopf.Memo, **kwargs: Any) -> None:
    """Reconcile every ToolService periodically, to repair what no event reported.

    A task of our own rather than a kopf timer: timers put a finalizer on every
    object, which would block deletion whenever the operator is down.
    """
    toolservices, gpu_nodes, gpu_pods = (
        kwargs["toolservices"], kwargs["gpu_nodes"], kwargs["gpu_pods"])

    async def loop() -> None:
        while True:
            await asyncio.sleep(SETTINGS.resync_seconds)
            if PEERING is not None:
                try:
                    if not await asyncio.to_thread(is_active, PEERING):
                        continue
                except kube.ApiError as err:
                    log.warning("resync skipped: reading the peering object: %s", err)
                    continue
            bodies = index_values(toolservices)
            log.debug("resync of %d ToolService(s)", len(bodies))
            for body in bodies:
                try:
                    await asyncio.to_thread(reconcile, body, gpu_nodes, gpu_pods)
                except (kopf.TemporaryError, kopf.PermanentError) as err:
                    log.warning("resync of %s/%s: %s", body["metadata"]["namespace"],
                                body["metadata"]["name"], err)
    memo["resync"] = asyncio.create_task(loop())
    # Startup handlers finish before any watch starts; from here on we serve.
    memo["app"][READY_KEY]["ready"] = True


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the resync and the HTTP server."""
    task = memo.get("resync")
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runner = memo.get("runner")
    if runner is not None:
        await runner.cleanup()
