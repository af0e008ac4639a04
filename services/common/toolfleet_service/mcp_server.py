"""The service's tools over MCP (streamable HTTP at /mcp), with the official MCP SDK.

MCP is a second door to the same tools: `tools/list` shows the schemas the
HTTP routes use, and `tools/call` goes through the same ToolInvoker, so limits,
validation messages, metrics and injected faults are identical.

The session manager runs stateless, answering in plain JSON: a ToolService
runs several replicas behind one Kubernetes Service with no session affinity,
so any replica must be able to answer any request.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

# Checked before the SDK imports below, whose failure under 1.x would not say why.
if int(version("mcp").split(".")[0]) < 2:
    raise ImportError(
        f"toolfleet services need the MCP Python SDK 2.x (mcp_types, the lowlevel Server's "
        f"on_* handlers); mcp {version('mcp')} is installed: pip install 'mcp>=2'"
    )

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.exceptions import MCPError

from toolfleet_service.errors import LimitExceededError
from toolfleet_service.invocation import ToolInvoker
from toolfleet_service.tool import ToolDefinition

# The JSON-RPC envelope around the arguments; the arguments themselves get the
# same TOOLFLEET_MAX_BODY_BYTES as an HTTP body.
ENVELOPE_ALLOWANCE_BYTES = 64 * 1024


def build_mcp_server(invoker: ToolInvoker) -> Server[Any]:
    """An MCP server that lists and calls the service's tools."""
    service = invoker.service
    listed = [_mcp_tool(tool) for tool in service.tools]
    schemas = {tool.name: tool.input_schema for tool in service.tools}

    async def list_tools(
        _ctx: Any, _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = service.tool(params.name)
        if tool is None:
            offered = ", ".join(t.name for t in service.tools)
            raise MCPError(
                types.INVALID_PARAMS,
                f"unknown tool {params.name!r}; {service.name} offers: {offered}",
            )
        arguments = params.arguments if params.arguments is not None else {}

        async def load() -> Any:
            size = len(json.dumps(arguments, separators=(",", ":")).encode())
            limit = invoker.settings.max_body_bytes
            if size > limit:
                raise LimitExceededError(
                    limit="TOOLFLEET_MAX_BODY_BYTES", maximum=limit, actual=size,
                    field="arguments", what="bytes",
                )
            return arguments

        response = await invoker.invoke(tool, load, transport="mcp")
        text = json.dumps(response.body, separators=(",", ":"))
        if not response.ok:
            # A failed call is a result with isError, not a protocol error, so the
            # calling model sees the message and can correct its arguments.
            return types.CallToolResult(
                content=[types.TextContent(text=text)], is_error=True
            )
        return types.CallToolResult(
            content=[types.TextContent(text=text)], structured_content=response.body
        )

    return Server(
        service.name,
        version=invoker.settings.version,
        description=service.description,
        get_tool_input_schema=schemas.get,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def build_session_manager(invoker: ToolInvoker) -> StreamableHTTPSessionManager:
    """The streamable HTTP transport for the MCP server: stateless, JSON responses."""
    return StreamableHTTPSessionManager(
        app=build_mcp_server(invoker),
        stateless=True,
        json_response=True,
        max_request_body_size=invoker.settings.max_body_bytes + ENVELOPE_ALLOWANCE_BYTES,
        # No DNS-rebinding checks: in a cluster the Host header is the Service's
        # name, and the service is not meant to be reached from a browser.
        security_settings=None,
    )


def _mcp_tool(tool: ToolDefinition[Any, Any]) -> types.Tool:
    hints = tool.hints
    return types.Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        annotations=types.ToolAnnotations(
            title=tool.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )
