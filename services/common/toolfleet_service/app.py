"""The HTTP application of a toolfleet service: tools over HTTP and MCP, probes, metrics.

Routes:
    POST /tools/<name>  a tool: JSON arguments in, JSON result out
    GET  /tools         the tools with their schemas, as a ToolService lists them
    POST /mcp           the same tools over MCP (streamable HTTP)
    GET  /healthz       liveness: the process answers
    GET  /readyz        readiness: warm-up done and not shutting down
    GET  /metrics       Prometheus metrics

Every response carries `X-Toolfleet-Version`, so that a caller, or a test,
can tell a canary from the stable revision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn

import anyio
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from toolfleet_service.errors import BadRequestError, LimitExceededError
from toolfleet_service.invocation import ToolInvoker
from toolfleet_service.mcp_server import build_session_manager
from toolfleet_service.metrics import ServiceMetrics
from toolfleet_service.settings import ServiceSettings
from toolfleet_service.tool import ServiceDefinition, ToolDefinition

log = logging.getLogger(__name__)

VERSION_HEADER = "X-Toolfleet-Version"
# An oversized body is still read to its end (and thrown away) so the client
# receives the 413 instead of a reset connection; past this many times the
# limit the service stops reading and lets the connection drop.
_DRAIN_FACTOR = 16


@dataclass
class ServiceState:
    """What the probes report: warm-up progress and shutdown."""

    ready: bool = False
    draining: bool = False
    failure: str | None = None

    def unready_reason(self) -> str | None:
        """Why /readyz answers 503, or None when the service is ready."""
        if self.failure:
            return f"failed: {self.failure}"
        if self.draining:
            return "draining: shutting down, finishing in-flight calls"
        if not self.ready:
            return "warming up"
        return None


def build_app(service: ServiceDefinition, settings: ServiceSettings) -> Starlette:
    """The ASGI app serving `service` under `settings`."""
    metrics = ServiceMetrics()
    invoker = ToolInvoker(service, settings, metrics)
    session_manager = build_session_manager(invoker)
    state = ServiceState()
    identity = {"service": service.name, "version": settings.version}

    async def healthz(_request: Request) -> Response:
        if state.failure:
            return JSONResponse({"status": "failed", "error": state.failure, **identity}, 500)
        return JSONResponse({"status": "ok", **identity})

    async def readyz(_request: Request) -> Response:
        reason = state.unready_reason()
        if reason is None:
            return JSONResponse({"status": "ready", **identity})
        return JSONResponse({"status": reason, **identity}, 503)

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=metrics.content_type)

    async def list_tools(_request: Request) -> Response:
        return JSONResponse({"tools": [tool.descriptor() for tool in service.tools], **identity})

    async def not_found(request: Request, _error: Exception) -> Response:
        offered = ", ".join(f"POST {tool.path}" for tool in service.tools)
        return JSONResponse(
            {"error": f"no route for {request.method} {request.url.path}; "
                      f"tools: {offered}; MCP: POST /mcp"},
            404,
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with session_manager.run(), anyio.create_task_group() as tasks:
            # In the background, so /healthz answers while the warm-up runs.
            tasks.start_soon(_warm_up, service, settings, invoker, state)
            yield
            tasks.cancel_scope.cancel()

    routes = [
        *(Route(tool.path, _tool_endpoint(tool, invoker), methods=["POST"])
          for tool in service.tools),
        Route("/tools", list_tools, methods=["GET"]),
        Route("/mcp", StreamableHTTPASGIApp(session_manager)),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: _method_not_allowed},
    )
    app.add_middleware(VersionHeaderMiddleware, version=settings.version)
    app.state.service_state = state
    app.state.metrics = metrics
    return app


async def _warm_up(service: ServiceDefinition, settings: ServiceSettings, invoker: ToolInvoker,
                   state: ServiceState) -> None:
    """Calls every tool with its example once, then marks the service ready (or failed)."""
    # Readiness means "a call would succeed now": every tool has answered its
    # example once, so imports, thread pools and native code are all loaded.
    for tool in service.tools:
        response = await invoker.execute(tool, dict(tool.example))
        if not response.ok:
            state.failure = (
                f"warm-up call of tool {tool.name} failed with {response.status}: "
                f"{response.body.get('error')}"
            )
            log.error("%s", state.failure)
            return
    state.ready = True
    log.info("%s %s ready: %d tools warmed up", service.name, settings.version,
             len(service.tools))


async def _method_not_allowed(request: Request, error: Exception) -> Response:
    allowed = (error.headers or {}).get("Allow", "") if isinstance(error, HTTPException) else ""
    headers = {"Allow": allowed} if allowed else None
    return JSONResponse(
        {"error": f"{request.method} is not allowed on {request.url.path}; use {allowed}"},
        405, headers=headers,
    )


def _tool_endpoint(
    tool: ToolDefinition[Any, Any], invoker: ToolInvoker
) -> Callable[[Request], Awaitable[Response]]:
    limit = invoker.settings.max_body_bytes

    async def endpoint(request: Request) -> Response:
        async def load() -> Any:
            return _parse_json(await read_body(request, limit))

        response = await invoker.invoke(tool, load, transport="http")
        return JSONResponse(response.body, response.status)

    return endpoint


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or LimitExceededError when it is longer than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    size = int(declared) if declared.isdigit() else 0
    if size > limit * _DRAIN_FACTOR:
        _too_large(limit, size)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit * _DRAIN_FACTOR:
            _too_large(limit, max(received, size))
        if received <= limit:
            chunks.append(chunk)
    if received > limit:
        _too_large(limit, received)
    return b"".join(chunks)


def _too_large(limit: int, actual: int) -> NoReturn:
    raise LimitExceededError(
        limit="TOOLFLEET_MAX_BODY_BYTES", maximum=limit, actual=actual, field="body",
        what="bytes",
    )


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequestError("the request body is empty; send the arguments as a JSON object")
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequestError(f"the request body is not valid JSON: {error}") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number; send finite numbers only")


class VersionHeaderMiddleware:
    """Adds X-Toolfleet-Version to every HTTP response."""

    def __init__(self, app: ASGIApp, version: str) -> None:
        self.app = app
        self.version = version

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(VERSION_HEADER, self.version)
            await send(message)

        await self.app(scope, receive, send_with_version)
