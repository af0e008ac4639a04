"""The gateway's HTTP server.

    POST /v1/catalogs/{catalog}/calls?format=openai|anthropic|gemini
        one call, or a list, exactly as the model produced it; answered with what the
        router sends back to the model, in the same order
    POST|GET|DELETE /mcp/{catalog}
        the catalog as an MCP server (streamable HTTP)
    GET /healthz, /readyz, /metrics

Headers: `X-Toolfleet-Revision` on a request pins a revision (track, revision
hash or version); on an answer it names the revision of each call, in order,
comma-separated. `traceparent` and `tracestate` are passed to the services.

Callers of a catalog are authorized by Kubernetes RBAC before anything else
(gateway/auth.py): 401, then 403, then 404.

Every failure is answered in the caller's protocol: the vendor's own error
envelope (with a `hint`) on /calls, JSON-RPC errors or `isError` results on
/mcp, `{"error", "hint"}` elsewhere. Never a stack trace.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NoReturn

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from toolfleet.gateway.auth import CatalogAccess, McpAccess, build_access
from toolfleet.gateway.backends import (
    AddressResolver,
    BackendLimits,
    BackendPool,
    ServiceUrlResolver,
)
from toolfleet.gateway.calls import (
    CallShapeError,
    ParsedCalls,
    parse_calls,
    render_answers,
    vendor_error_body,
    vendor_format,
)
from toolfleet.gateway.dispatch import CallRecord, Dispatcher
from toolfleet.gateway.mcp import CatalogMcpServers
from toolfleet.gateway.metrics import GatewayMetrics
from toolfleet.gateway.names import CallFormat, CatalogIndex, unpublished_hint
from toolfleet.gateway.routing import REVISION_HEADER, RevisionNotServed
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.gateway.upstream import RetryPolicy, Upstream
from toolfleet.runtime.access import Reviews
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)

# Names quoted in a "not in this catalog" hint; the rest are counted.
MAX_NAMES_OFFERED = 20
_PATHS = ("POST /v1/catalogs/{catalog}/calls?format=openai|anthropic|gemini, /mcp/{catalog}, "
          "GET /healthz, /readyz, /metrics")


class RequestRefused(Exception):
    """A /calls request answered with an error before any tool is called."""

    def __init__(self, status: int, message: str, hint: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.headers = headers


@dataclass(frozen=True)
class Gateway:
    """The parts of a running gateway, for the app's handlers and for tests."""

    store: CatalogStore
    settings: GatewaySettings
    dispatcher: Dispatcher
    mcp: CatalogMcpServers
    metrics: GatewayMetrics
    access: CatalogAccess


def build_gateway(store: CatalogStore, settings: GatewaySettings,
                  resolver: AddressResolver | None = None,
                  reviews: Reviews | None = None) -> Gateway:
    """A gateway serving the catalogs of `store` under `settings`.

    `resolver` turns catalog endpoints into addresses to call (default: the
    endpoint URL itself); `reviews` carries out the access reviews when
    settings.auth is on (default: the API server's; raises kube.NoCredentials
    when there is none to reach).
    """
    metrics = GatewayMetrics()
    pool = BackendPool(BackendLimits(max_in_flight=settings.max_in_flight_per_backend,
                                     consecutive_failures=settings.ejection_failures,
                                     base_ejection_seconds=settings.ejection_seconds))
    upstream = Upstream(pool, resolver or ServiceUrlResolver(),
                        RetryPolicy(max_attempts=settings.max_attempts))
    dispatcher = Dispatcher(store, upstream, metrics)
    servers = CatalogMcpServers(dispatcher, store, max_request_bytes=settings.max_request_bytes,
                                operator_namespace=settings.operator_namespace,
                                tools_list_ttl_seconds=settings.tools_list_ttl_seconds,
                                sessions=settings.mcp_sessions)
    return Gateway(store, settings, dispatcher, servers, metrics,
                   build_access(settings, reviews))


def build_app(gateway: Gateway) -> Starlette:
    """The ASGI app of `gateway`."""

    async def calls(request: Request) -> Response:
        format: CallFormat | None = None
        catalog = request.path_params["catalog"]
        try:
            # Known before the review, so that a refusal has the caller's envelope too.
            with contextlib.suppress(CallShapeError):
                format = vendor_format(request.query_params.get("format"))
            verdict = await gateway.access.review(request.headers, catalog)
            if not verdict.allowed:
                raise RequestRefused(verdict.status, verdict.error, verdict.hint,
                                     dict(verdict.headers))
            format = vendor_format(request.query_params.get("format"))
            return await _serve_calls(gateway, request, catalog, format, verdict.consumer)
        except CallShapeError as error:
            refused = RequestRefused(error.status, str(error), error.hint)
        except RequestRefused as error:
            refused = error
        # Only published names become label values: any other text would let callers
        # grow the metric without bound.
        known = catalog if gateway.store.published(catalog) is not None else ""
        gateway.metrics.rejected.labels(known, str(refused.status)).inc()
        return JSONResponse(vendor_error_body(format, refused.status, refused.message,
                                              refused.hint),
                            refused.status, headers=refused.headers)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        if gateway.store.synced:
            return JSONResponse({"status": "ready", "catalogs": gateway.store.names()})
        return JSONResponse({"status": "waiting for the first catalogs"}, 503)

    async def metrics(_request: Request) -> Response:
        return Response(gateway.metrics.exposition(), media_type=gateway.metrics.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        gateway.access.announce()
        try:
            async with gateway.mcp.run():
                yield
        finally:
            await gateway.dispatcher.upstream.aclose()

    return Starlette(
        routes=[
            Route("/v1/catalogs/{catalog}/calls", calls, methods=["POST"]),
            Route("/mcp/{catalog}", McpAccess(gateway.access, _McpEndpoint(gateway)),
                  methods=["GET", "POST", "DELETE"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ],
        exception_handlers={404: _not_found, 405: _not_allowed, Exception: _internal},
        lifespan=lifespan,
    )


async def _not_found(request: Request, _error: Exception) -> Response:
    return JSONResponse({"error": f"no route for {request.method} {request.url.path[:200]}",
                         "hint": f"the paths are {_PATHS}"}, 404)

async def _not_allowed(request: Request, error: Exception) -> Response:
    allowed = error.headers.get("Allow", "") if isinstance(error, HTTPException) \
        and error.headers else ""
    return JSONResponse({"error": f"{request.method} is not allowed on "
                                  f"{request.url.path[:200]}", "hint": f"use {allowed}"},
                        405, headers={"Allow": allowed} if allowed else None)

async def _internal(request: Request, _error: Exception) -> Response:
    # The one catch-all: a bug answers JSON and is logged with its traceback.
    log.exception("%s %s failed", request.method, request.url.path[:200])
    return JSONResponse({"error": "internal error in the gateway",
                         "hint": "this is a bug in toolfleet; the gateway's log has the "
                                 "details, please report it"}, 500)


class _McpEndpoint:
    """ASGI endpoint handing `/mcp/{catalog}` to that catalog's MCP server."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        catalog = str(scope.get("path_params", {}).get("catalog", ""))
        await self.gateway.mcp.handle(catalog, scope, receive, send)


async def _serve_calls(gateway: Gateway, request: Request, catalog: str,
                       format: CallFormat, consumer: str) -> Response:
    index = gateway.dispatcher.index(catalog)
    if index is None:
        raise RequestRefused(404, f"no catalog {catalog[:253]!r} is published here",
                             unpublished_hint(gateway.settings.operator_namespace))
    body = await _read_body(request, gateway.settings.max_request_bytes)
    parsed = parse_calls(format, _decode(body))
    tools = _resolve(index, format, parsed)
    pin = request.headers.get(REVISION_HEADER)
    try:
        endpoints = [gateway.dispatcher.route(tool, pin) for tool in tools]
    except RevisionNotServed as error:
        raise RequestRefused(404, str(error), "pin a revision the service serves, or send "
                             f"no {REVISION_HEADER} header to follow the rollout's weights"
                             ) from None

    records: list[CallRecord | None] = [None] * len(tools)

    async def run(i: int) -> None:
        records[i] = await gateway.dispatcher.call(
            index, tools[i], endpoints[i], parsed.calls[i].arguments, format=format,
            headers=request.headers, consumer=consumer)

    if len(tools) == 1:
        await run(0)
    else:
        async with anyio.create_task_group() as tasks:
            for i in range(len(tools)):
                tasks.start_soon(run, i)
    done = [r for r in records if r is not None]
    headers = {REVISION_HEADER: ",".join(r.revision for r in done)}
    waits = [r.result.retry_after for r in done if r.result.retry_after is not None]
    if waits:
        headers["Retry-After"] = str(max(1, round(max(waits))))
    if len(waits) == len(done):
        # Nothing ran: the caller may simply try again later.
        raise RequestRefused(429, done[0].result.text(), "every backend of the tool's service "
                             "has its in-flight limit of calls; retry after Retry-After "
                             "seconds", headers=headers)
    return JSONResponse(render_answers(format, parsed, [r.result for r in done]),
                        headers=headers)


def _resolve(index: CatalogIndex, format: CallFormat, parsed: ParsedCalls) -> list[Any]:
    tools = []
    missing = []
    for call in parsed.calls:
        tool = index.resolve(format, call.name)
        if tool is None:
            missing.append(call.name[:128])
        else:
            tools.append(tool)
    if missing:
        names = index.names(format)
        offered = ", ".join(names[:MAX_NAMES_OFFERED])
        more = len(names) - MAX_NAMES_OFFERED
        raise RequestRefused(404, f"catalog {index.catalog.name!r} has no tool "
                             f"{', '.join(repr(m) for m in missing)}",
                             f"call a tool of this catalog: {offered or 'it has none'}"
                             + (f" and {more} more" if more > 0 else ""))
    return tools


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> NoReturn:
    raise RequestRefused(413, f"the request body is over {limit} bytes",
                         "send fewer or smaller calls; the limit is "
                         "TOOLFLEET_GATEWAY_MAX_REQUEST_BYTES")


def _decode(body: bytes) -> Any:
    if not body.strip():
        raise RequestRefused(400, "the request body is empty",
                             "send the call exactly as the model produced it, as JSON")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RequestRefused(400, f"the request body is not valid JSON: {str(error)[:200]}",
                             "send the call exactly as the model produced it, as JSON"
                             ) from None


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")
