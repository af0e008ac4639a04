"""The operator's HTTP server: health, readiness and Prometheus metrics.

Every replica serves it, leader or not.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

READY_KEY = web.AppKey("ready", dict)


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the operator has started (indices listed, handlers registered)."""
    state = request.app[READY_KEY]
    if not state.get("ready"):
        return web.json_response({"status": "starting"}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of the operator's metrics."""
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_app() -> web.Application:
    """The aiohttp application with the operator's routes."""
    app = web.Application()
    app[READY_KEY] = {"ready": False}
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve the app in the running event loop; the caller keeps the runner to stop it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("serving health, metrics and catalogs on %s:%d", host, port)
    return runner
