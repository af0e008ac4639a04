"""The operator's HTTP server: catalogs, health, readiness and Prometheus metrics.

Every replica serves it, leader or not.

    GET /v1/catalogs                       names, hashes and tool counts
    GET /v1/catalogs/{name}?format=...     a catalog (canonical, openai, anthropic,
                                           gemini, mcp), with ETag/304 and gzip
    GET /v1/catalogs/{name}/events         server-sent events, one per change
    GET /healthz, /readyz, /metrics

Every error answers JSON, {"error": ..., "hint": ...}.

With TOOLFLEET_CATALOG_AUTH=true the catalog paths follow the gateway's rule
(toolfleet.runtime.access): a caller sends `Authorization: Bearer <token>`,
may read a catalog when RBAC lets it `call` that ToolCatalog, and the list
shows only those. 401 without a token or with one the API server rejects, 403
when not allowed (before any 404, so a denied caller learns nothing of what
a catalog holds), 503 with Retry-After when the API server does not answer.
Health, readiness and metrics stay open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from toolfleet.catalog.render import FORMATS
from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.runtime.access import AccessReviewer
from toolfleet.server.catalog import CatalogChange, CatalogStore, Subscription

log = logging.getLogger(__name__)

READY_KEY = web.AppKey("ready", dict)
STORE_KEY = web.AppKey("store", CatalogStore)
KEEPALIVE_KEY = web.AppKey("keepalive_seconds", float)
STREAMS_KEY: web.AppKey[set[Subscription]] = web.AppKey("streams")
ACCESS_KEY: web.AppKey[AccessReviewer | None] = web.AppKey("access")
# The routes TOOLFLEET_CATALOG_AUTH guards.
_GUARDED_ROUTES = frozenset({"catalogs", "catalog", "catalog-events"})

DEFAULT_FORMAT = "canonical"
# A comment line on an idle event stream this often keeps proxies from closing it.
SSE_KEEPALIVE_SECONDS = 15.0
# A router that loses the stream reconnects after this long (EventSource `retry`).
SSE_RETRY_MILLISECONDS = 2000

# An error quotes at most this much of a catalog name it was sent.
MAX_NAME_ECHOED = 253
_FORMATS_TEXT = ", ".join(FORMATS)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, error: str, hint: str,
                   headers: dict[str, str] | None = None) -> web.Response:
    """The JSON body every error has: what went wrong and what to do about it."""
    return web.json_response({"error": error, "hint": hint}, status=status, headers=headers)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors as JSON: aiohttp's own (unknown path, wrong method) and, logged with
    their traceback, the unexpected ones, which would otherwise be a bare 500."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return error_response(error.status, error.reason, _hint_for(error.status),
                              headers={"Allow": error.headers["Allow"]}
                              if "Allow" in error.headers else None)
    except Exception:
        # The one place that catches everything: a bug becomes a logged 500 with a
        # JSON body, and the server keeps serving.
        log.exception("%s %s failed", request.method, request.path_qs)
        return error_response(500, "internal error",
                              "this is a bug in toolfleet; the operator's log has the "
                              "traceback, please report it")


@web.middleware
async def catalog_access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authorize the catalog paths when a reviewer is set (TOOLFLEET_CATALOG_AUTH): the
    caller must be authenticated, and allowed to call the catalog named in the path."""
    reviewer = request.app[ACCESS_KEY]
    if reviewer is None or request.match_info.route.name not in _GUARDED_ROUTES:
        return await handler(request)
    verdict = await reviewer.authenticate(request.headers.get("Authorization"))
    name = request.match_info.get("name")
    if verdict.allowed and name is not None:
        verdict = await reviewer.authorize(verdict, name)
    if not verdict.allowed:
        return error_response(verdict.status, verdict.error, verdict.hint,
                              headers=dict(verdict.headers))
    return await handler(request)


def _hint_for(status: int) -> str:
    if status == 404:
        return ("the paths are /v1/catalogs, /v1/catalogs/{name}, /v1/catalogs/{name}/events, "
                "/healthz, /readyz and /metrics")
    if status == 405:
        return "these paths answer GET (and HEAD) only"
    return "check the request against the catalog API: GET /v1/catalogs/{name}?format=..."


async def healthz(request: web.Request) -> web.Response:
    """Alive: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the operator has started and published its first set of catalogs."""
    waiting = []
    if not request.app[READY_KEY].get("ready"):
        waiting.append("operator startup")
    if not request.app[STORE_KEY].synced:
        waiting.append("first catalog listing")
    if waiting:
        return web.json_response({"status": "starting", "waitingFor": waiting}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of the operator's metrics."""
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def list_catalogs(request: web.Request) -> web.Response:
    """Every catalog served (with TOOLFLEET_CATALOG_AUTH, every one the caller may call):
    name, hash, tool count and formats, sorted by name."""
    store = request.app[STORE_KEY]
    names = store.names()
    reviewer = request.app[ACCESS_KEY]
    if reviewer is not None:
        # catalog_access admitted the caller; this authentication is its cached answer.
        caller = await reviewer.authenticate(request.headers.get("Authorization"))
        verdicts = [caller] if not caller.allowed else await asyncio.gather(
            *(reviewer.authorize(caller, n) for n in names))
        refused = [v for v in verdicts if v.status != 200 and v.status != 403]
        if refused:
            return error_response(refused[0].status, refused[0].error, refused[0].hint,
                                  headers=dict(refused[0].headers))
        names = [n for n, v in zip(names, verdicts, strict=True) if v.allowed]
    catalogs = []
    for name in names:
        published = store.published(name)
        if published is not None:  # removed since names() was read
            catalogs.append({"name": name, "hash": published.hash, "tools": published.tools,
                             "formats": list(published.renderings)})
    return web.json_response({"catalogs": catalogs},
                             headers={"Cache-Control": "no-cache"})


async def get_catalog(request: web.Request) -> web.StreamResponse:
    """A catalog in one format: 304 when If-None-Match has its ETag, gzip when accepted.

    The bytes, their gzip and the ETag were computed when the catalog was
    published; a request only chooses among them.
    """
    name = request.match_info["name"]
    format = request.query.get("format", DEFAULT_FORMAT)
    store = request.app[STORE_KEY]
    if format not in FORMATS:
        return error_response(400, f"unknown format {format[:MAX_NAME_ECHOED]!r}",
                              f"use ?format= with one of {_FORMATS_TEXT} "
                              f"(default {DEFAULT_FORMAT})")
    published = store.published(name)
    if published is None:
        return _unknown_catalog(request, name)
    rendering = published.renderings.get(format)
    if rendering is None:
        return error_response(404, f"catalog {name!r} is not published as {format}",
                              "it is published as " + ", ".join(published.renderings))
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and _etag_matches(if_none_match, rendering.etag):
        return web.Response(status=304, headers=rendering.not_modified_headers)
    if _accepts_gzip(request.headers.get("Accept-Encoding")):
        return web.Response(body=rendering.gzip_body, headers=rendering.gzip_headers)
    return web.Response(body=rendering.body, headers=rendering.headers)


async def catalog_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `event: catalog` with {"name","hash","tools"} now, then on
    every change of the hash (hash null once the catalog is removed); a comment line
    keeps an idle stream open. Ends when the client leaves or the server stops."""
    name = request.match_info["name"]
    store = request.app[STORE_KEY]
    if store.published(name) is None:
        return _unknown_catalog(request, name)
    keepalive = request.app[KEEPALIVE_KEY]
    streams: set[Subscription] = request.app[STREAMS_KEY]
    with store.subscribe(name) as subscription:
        streams.add(subscription)
        try:
            response = web.StreamResponse(headers={
                "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                # Tells nginx-style proxies not to buffer the stream.
                "X-Accel-Buffering": "no"})
            await response.prepare(request)
            await response.write(f"retry: {SSE_RETRY_MILLISECONDS}\n\n".encode()
                                 + _event(subscription.current))
            last_hash = subscription.current.hash
            while True:
                try:
                    change = await asyncio.wait_for(anext(subscription, None), keepalive)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if change is None:  # the server is stopping
                    break
                if change.hash != last_hash:
                    last_hash = change.hash
                    await response.write(_event(change))
        except ConnectionResetError:  # the client left
            log.debug("event stream of catalog %s: client left", name)
            return response
        finally:
            streams.discard(subscription)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


def _event(change: CatalogChange) -> bytes:
    data = canonical_json(change.to_wire(), ensure_ascii=True)
    return f"event: catalog\ndata: {data}\n\n".encode()


def _unknown_catalog(request: web.Request, name: str) -> web.Response:
    store = request.app[STORE_KEY]
    if len(name) > MAX_NAME_ECHOED:
        name = name[:MAX_NAME_ECHOED] + "..."
    if not store.synced:
        return error_response(503, f"catalog {name!r} is not available yet",
                              "the operator has not finished its first listing; retry in a "
                              "few seconds", headers={"Retry-After": "2"})
    hint = ("GET /v1/catalogs lists the catalogs you may read; a ToolCatalog is published "
            "once it is Ready (kubectl get toolcatalog) and its namespace is watched")
    if request.app[ACCESS_KEY] is None:
        # With access reviews on, a caller sees only what it may call: no other names.
        names = store.names()
        known = ", ".join(names[:20]) + (f" and {len(names) - 20} more"
                                         if len(names) > 20 else "")
        hint = f"catalogs served: {known or 'none'}; {hint}"
    return error_response(404, f"no catalog named {name!r}", hint)


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match holds `etag` (weak comparison, as RFC 9110 asks for it) or `*`."""
    if header == etag:
        return True
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate in (etag, "*"):
            return True
    return False


def _accepts_gzip(header: str | None) -> bool:
    """Accept-Encoding names gzip (or *) with a non-zero q."""
    if not header or ("gzip" not in header and "*" not in header):
        return False
    for part in header.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower()
        if q.startswith("q="):
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
        return True
    return False


async def _close_streams(app: web.Application) -> None:
    """On shutdown: end every event stream, so each response finishes cleanly."""
    streams = app[STREAMS_KEY]
    for subscription in list(streams):
        subscription.close()


def build_app(store: CatalogStore, *, keepalive_seconds: float = SSE_KEEPALIVE_SECONDS,
              access: AccessReviewer | None = None) -> web.Application:
    """The aiohttp application serving `store`'s catalogs and the operator's probes.

    /readyz passes once app[READY_KEY]["ready"] is set (the operator started)
    and store.mark_synced() was called (its first catalogs are published).
    With `access`, the catalog paths serve only callers it allows (TOOLFLEET_CATALOG_AUTH).
    """
    app = web.Application(middlewares=[json_errors, catalog_access])
    app[ACCESS_KEY] = access
    app[READY_KEY] = {"ready": False}
    app[STORE_KEY] = store
    app[KEEPALIVE_KEY] = keepalive_seconds
    app[STREAMS_KEY] = set()
    app.on_shutdown.append(_close_streams)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/catalogs", list_catalogs, name="catalogs")
    app.router.add_get("/v1/catalogs/{name}", get_catalog, name="catalog")
    app.router.add_get("/v1/catalogs/{name}/events", catalog_events, name="catalog-events")
    return app


async def start(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve the app in the running event loop; the caller keeps the runner to stop it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("serving health, metrics and catalogs on %s:%d", host, port)
    return runner

