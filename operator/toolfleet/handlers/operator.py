"""Operator-wide handlers: kopf's settings, the HTTP server, the work queue and the resync."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any

import kopf

from toolfleet.handlers.toolservice import reconcile_toolservice
from toolfleet.runtime.indices import index_values
from toolfleet.runtime.peering import Peering, may_work
from toolfleet.runtime.scheduler import WorkQueue, resync
from toolfleet.server.app import READY_KEY, build_app, start
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings

log = logging.getLogger(__name__)


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Tune kopf and start serving health and metrics."""
    # `toolfleet run` builds the settings once and passes them in the memo; an
    # operator started another way (kopf run) reads them from the environment here.
    if "settings" not in memo:
        memo["settings"] = Settings.from_env()
    memo.setdefault("peering", None)
    # Our own Events say what happened; kopf's per-handler chatter stays in the log.
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 8
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 60
    store = memo.setdefault("store", CatalogStore())
    app = build_app(store)
    memo["app"] = app
    memo["runner"] = await start(app, memo.settings.http_host, memo.settings.http_port)


@kopf.on.startup()
async def start_work_queue(memo: kopf.Memo, **kwargs: Any) -> None:
    """Start the work queue that runs every ToolService reconcile, and the periodic resync.

    The resync is a task of our own rather than a kopf timer: timers put a
    finalizer on every object, which would block deletion whenever the operator
    is down.
    """
    memo["indices"] = {name: kwargs[name] for name in ("gpu_nodes", "gpu_pods", "toolservices")}
    memo["node_facts"] = {}
    queue = WorkQueue(functools.partial(reconcile_toolservice, memo=memo),
                      workers=memo.settings.reconcile_workers)
    memo["queue"] = queue
    peering: Peering | None = memo.peering
    memo["tasks"] = [
        asyncio.create_task(queue.run(), name="work-queue"),
        asyncio.create_task(resync(
            queue, lambda: [(b["metadata"]["namespace"], b["metadata"]["name"])
                            for b in index_values(memo.indices["toolservices"])],
            every=memo.settings.resync_seconds,
            active=None if peering is None else functools.partial(may_work, peering)),
            name="resync"),
    ]
    # Startup handlers finish before any watch starts; from here on we serve.
    memo["app"][READY_KEY]["ready"] = True


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_: Any) -> None:
    """Stop the work queue, the resync and the HTTP server."""
    for task in memo.get("tasks", []):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    runner = memo.get("runner")
    if runner is not None:
        await runner.cleanup()
