"""One MCP server per catalog at `/mcp/{catalog}`, over streamable HTTP, with the official SDK.

Protocol revisions: those of the SDK's session manager (mcp 2.3: 2024-11-05 to
2025-11-25 through the initialize handshake, and the stateless 2026-07-28,
chosen by the `MCP-Protocol-Version` header). With `mcp_sessions` on, a
handshake client keeps a session and gets `notifications/tools/list_changed`
on its GET stream when the catalog changes; a 2026-07-28 client gets the same
on a `subscriptions/listen` stream. `tools/list` answers exactly the catalog's
MCP rendering (`toolfleet.catalog.formats.mcp`), with the 2026-07-28 cache
hints (`ttlMs`, `cacheScope: private`: with authorization, what a consumer
may see is its own).

Each result names the revision that answered in `_meta["toolfleet.io/revision"]`;
`X-Toolfleet-Revision` on the HTTP request pins one, as on /calls.

`tools/call` of a name this catalog does not publish is the JSON-RPC error
-32602 the specification gives for an unknown tool (MCP 2025-11-25, Tools,
"Error Handling"); a failure of the tool or of the call is a result with
`isError`, so the model reads it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup, TaskStatus
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.session import ServerSession
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from toolfleet import __version__
from toolfleet.catalog.formats import mcp as mcp_format
from toolfleet.gateway.auth import consumer_of
from toolfleet.gateway.dispatch import Dispatcher
from toolfleet.gateway.names import CallFormat, unpublished_hint
from toolfleet.gateway.results import json_rpc_error
from toolfleet.gateway.routing import REVISION_HEADER, RevisionNotServed
from toolfleet.runtime.access import ANONYMOUS
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
# Where an MCP result names the revision that answered (what X-Toolfleet-Revision says on
# /calls); a prefixed _meta key, as MCP 2025-11-25 "General fields: _meta" asks.
REVISION_META_KEY = "toolfleet.io/revision"
# Sessions remembered per catalog for list_changed; the SDK's own default cap.
MAX_SESSIONS = 10_000


class _CatalogServer(Server[Any]):
    """The lowlevel Server, advertising tools.listChanged to handshake clients too.

    The session manager builds initialization options with no arguments, which
    would advertise listChanged false although the gateway sends it.
    """

    def create_initialization_options(
        self, notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True),
            experimental_capabilities, extensions)


@dataclass
class _CatalogMcp:
    """A running MCP server of one catalog, and who to tell when the catalog changes."""

    name: str
    manager: StreamableHTTPSessionManager
    bus: InMemorySubscriptionBus
    stop: anyio.Event = field(default_factory=anyio.Event)
    # Handshake sessions by id: the session of their latest request.
    sessions: dict[str, ServerSession] = field(default_factory=dict)


class CatalogMcpServers:
    """Every catalog's MCP server, started on its first request and stopped with it."""

    def __init__(self, dispatcher: Dispatcher, store: CatalogStore, *, max_request_bytes: int,
                 tools_list_ttl_seconds: float, sessions: bool,
                 operator_namespace: str = "toolfleet-system") -> None:
        self.dispatcher = dispatcher
        self.store = store
        self.operator_namespace = operator_namespace
        self.max_request_bytes = max_request_bytes
        self.ttl_ms = int(tools_list_ttl_seconds * 1000)
        self.sessions = sessions
        self._running: dict[str, _CatalogMcp] = {}
        self._starting = anyio.Lock()
        self._tasks: TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve while inside: the servers' tasks live in this context."""
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                for server in self._running.values():
                    server.stop.set()
                tasks.cancel_scope.cancel()
                self._tasks = None

    async def handle(self, catalog: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request to `/mcp/{catalog}` (ASGI)."""
        if self.store.published(catalog) is None:
            body = json_rpc_error(types.INVALID_REQUEST,
                                  f"no catalog {catalog[:253]!r} is published here",
                                  unpublished_hint(self.operator_namespace))
            await JSONResponse(body, 404)(scope, receive, send)
            return
        server = await self._server(catalog)
        await server.manager.handle_request(scope, receive, _json_rpc_errors(send))

    async def _server(self, catalog: str) -> _CatalogMcp:
        running = self._running.get(catalog)
        if running is not None:
            return running
        async with self._starting:
            running = self._running.get(catalog)
            if running is None:
                if self._tasks is None:
                    raise RuntimeError("CatalogMcpServers.run() is not entered")
                running = await self._tasks.start(self._serve_catalog, catalog)
        return running

    async def _serve_catalog(self, catalog: str,
                             task_status: TaskStatus[_CatalogMcp]) -> None:
        bus = InMemorySubscriptionBus()
        holder: dict[str, _CatalogMcp] = {}
        server = self._build_server(catalog, bus, holder)
        manager = StreamableHTTPSessionManager(
            app=server, json_response=True, stateless=not self.sessions,
            max_request_body_size=self.max_request_bytes,
            # The gateway is an API for routers in the cluster, not for browsers: no
            # DNS-rebinding checks of Host and Origin (auth comes with TokenReview).
            security_settings=None)
        running = holder["self"] = _CatalogMcp(catalog, manager, bus)
        with self.store.subscribe(catalog) as changes:
            async with manager.run(), anyio.create_task_group() as tasks:
                self._running[catalog] = running
                task_status.started(running)
                tasks.start_soon(self._follow, running, changes)
                await running.stop.wait()
                tasks.cancel_scope.cancel()
        # A server started for the same name meanwhile (the catalog came back) stays.
        if self._running.get(catalog) is running:
            del self._running[catalog]

    async def _follow(self, running: _CatalogMcp, changes: Any) -> None:
        """Tell clients of every change of the catalog; stop the server once it is removed."""
        async for change in changes:
            if change.hash is None:
                running.stop.set()
                return
            await running.bus.publish(ToolsListChanged())
            for session_id, session in list(running.sessions.items()):
                try:
                    await session.send_tool_list_changed()
                except Exception:  # a session that ended: forget it
                    running.sessions.pop(session_id, None)

    def _build_server(self, catalog: str, bus: InMemorySubscriptionBus,
                      holder: dict[str, _CatalogMcp]) -> Server[Any]:
        dispatcher = self.dispatcher

        def remember(ctx: ServerRequestContext[Any]) -> None:
            request = ctx.request
            if not isinstance(request, Request) or "self" not in holder:
                return
            session_id = request.headers.get(SESSION_HEADER)
            sessions = holder["self"].sessions
            if session_id and (session_id in sessions or len(sessions) < MAX_SESSIONS):
                sessions[session_id] = ctx.session

        async def list_tools(ctx: ServerRequestContext[Any],
                             _params: types.PaginatedRequestParams | None,
                             ) -> types.ListToolsResult:
            remember(ctx)
            index = dispatcher.index(catalog)
            if index is None:
                raise MCPError(types.INVALID_REQUEST, f"catalog {catalog!r} is no longer "
                               "published")
            return types.ListToolsResult.model_validate(
                mcp_format.render_catalog(index.catalog))

        async def call_tool(ctx: ServerRequestContext[Any],
                            params: types.CallToolRequestParams) -> types.CallToolResult:
            remember(ctx)
            index = dispatcher.index(catalog)
            tool = None if index is None else index.resolve(CallFormat.mcp, params.name)
            if index is None or tool is None:
                raise MCPError(types.INVALID_PARAMS, f"Unknown tool: {params.name[:128]}")
            request = ctx.request if isinstance(ctx.request, Request) else None
            headers = request.headers if request is not None else {}
            try:
                endpoint = dispatcher.route(tool, headers.get(REVISION_HEADER))
            except RevisionNotServed as error:
                raise MCPError(types.INVALID_PARAMS, str(error)) from None
            record = await dispatcher.call(
                index, tool, endpoint, dict(params.arguments or {}), format=CallFormat.mcp,
                headers=headers,
                consumer=consumer_of(request.scope) if request is not None else ANONYMOUS)
            # An MCP answer has no headers of its own: the revision rides in _meta.
            return types.CallToolResult.model_validate(
                {**record.result.to_mcp(), "_meta": {REVISION_META_KEY: record.revision}})

        def input_schema(name: str) -> dict[str, Any] | None:
            # Without this the SDK runs the whole tools/list on every stateless
            # tools/call to find one schema: a cost growing with the catalog
            # (12 CPU ms per call at 1,000 tools, bench_gateway --tools).
            index = dispatcher.index(catalog)
            tool = None if index is None else index.resolve(CallFormat.mcp, name)
            return None if tool is None else tool.input_schema

        return _CatalogServer(
            f"toolfleet-gateway/{catalog}",
            version=__version__,
            description=f"The tools of toolfleet catalog {catalog}.",
            cache_hints={"tools/list": CacheHint(ttl_ms=self.ttl_ms, scope="private")},
            get_tool_input_schema=input_schema,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_subscriptions_listen=ListenHandler(bus),
        )


def _json_rpc_errors(send: Send) -> Send:
    """`send`, turning the SDK's plain-text HTTP errors (a wrong Content-Type, a missing
    Accept) into JSON-RPC error bodies, so an MCP caller always gets its protocol."""
    held: dict[str, Any] = {}

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            headers = dict(message.get("headers") or [])
            if not headers.get(b"content-type", b"").startswith(b"application/json"):
                held["start"] = message
                held["body"] = b""
                return
        if "start" in held and message["type"] == "http.response.body":
            held["body"] += message.get("body", b"")
            if message.get("more_body"):
                return
            start = held.pop("start")
            text = held.pop("body").decode(errors="replace")[:500] or "HTTP error"
            body = json.dumps(json_rpc_error(types.INVALID_REQUEST, text)).encode()
            kept = [(k, v) for k, v in start.get("headers") or []
                    if k.lower() not in (b"content-type", b"content-length")]
            await send({**start, "headers": [*kept, (b"content-type", b"application/json"),
                                             (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await send(message)

    return wrapped
