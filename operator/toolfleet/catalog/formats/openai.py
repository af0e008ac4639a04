"""OpenAI rendering: Chat Completions `tools[]` entries of type function.

A tool whose input schema has a faithful strict form (see `openai_strict`) is
published with that form and `strict: true`; any other tool as written, without
`strict`.
"""

from __future__ import annotations

from typing import Any

from toolfleet.catalog.dialects.adapt import Verdict
from toolfleet.catalog.dialects.publish import adapt_tool
from toolfleet.catalog.formats.openai_strict import strict_transform
from toolfleet.catalog.model import Catalog, CatalogTool

FORMAT = "openai"


def render_tool(tool: CatalogTool) -> dict[str, Any]:
    """One Chat Completions tool: {"type": "function", "function": {...}}."""
    function: dict[str, Any] = {"name": tool.name, "description": tool.description}
    transform = strict_transform(tool.input_schema)
    if transform.schema is not None:
        function["parameters"] = transform.schema
        function["strict"] = True
    else:
        adapted = adapt_tool(tool.name, tool.input_schema, FORMAT).schema
        function["parameters"] = tool.input_schema if adapted is None else adapted
    return {"type": "function", "function": function}


def render_catalog(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as the `tools` array of a Chat Completions request, without the
    tools OpenAI would refuse (see `catalog.dialects`)."""
    return [render_tool(tool) for tool in catalog.tools if _published(tool)]


def _published(tool: CatalogTool) -> bool:
    return adapt_tool(tool.name, tool.input_schema, FORMAT).verdict != Verdict.excluded
