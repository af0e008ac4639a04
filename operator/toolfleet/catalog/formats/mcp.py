"""MCP rendering: the result of a `tools/list` request.

MCP requires structured tool results to be JSON objects, so an output schema
whose root is not an object is left out here (validation warns about it):
clients would otherwise reject every structured result of the tool.
"""

from __future__ import annotations

from typing import Any

from toolfleet.catalog.dialects.publish import adapt_tool
from toolfleet.catalog.model import Catalog, CatalogTool


def output_schema_for_mcp(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The output schema MCP can carry: only one whose root is an object."""
    if schema is None or schema.get("type") != "object":
        return None
    return schema


def render_tool(tool: CatalogTool) -> dict[str, Any]:
    """One MCP Tool: name, title, description, inputSchema, outputSchema, annotations."""
    rendered: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
    }
    if tool.title is not None:
        rendered["title"] = tool.title
    output_schema = output_schema_for_mcp(tool.output_schema)
    if output_schema is not None:
        rendered["outputSchema"] = output_schema
    if tool.annotations is not None:
        annotations = tool.annotations.to_wire()
        if annotations:
            rendered["annotations"] = annotations
    return rendered


# The `_meta` key naming the gateway; MCP reserves unprefixed and `modelcontextprotocol`
# names, so it carries toolfleet's own prefix (MCP 2025-11-25, "General fields: _meta").
GATEWAY_META = "toolfleet.io/gateway"


def render_catalog(catalog: Catalog) -> dict[str, Any]:
    """The catalog as a tools/list result: {"tools": [...]}.

    With a gateway installed, `_meta["toolfleet.io/gateway"]` holds its
    {"mcp", "calls"} URLs for this catalog.
    """
    result: dict[str, Any] = {"tools": [
        render_tool(tool) for tool in catalog.tools
        if adapt_tool(tool.name, tool.input_schema, "mcp").schema is not None]}
    if catalog.gateway is not None:
        result["_meta"] = {GATEWAY_META: catalog.gateway.to_wire()}
    return result
