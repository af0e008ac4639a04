"""Operator-wide handlers: settings, the HTTP server, and the periodic resync."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from toolfleet.handlers.toolservice import SETTINGS, reconcile
from toolfleet.server.app import READY_KEY, build_app, start
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)


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
            bodies = [b for entries in list(toolservices.values()) for b in entries]
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
