"""Anthropic rendering: Messages API `tools[]` entries (name, description, input_schema).

Property keys Anthropic refuses are renamed (see `catalog.dialects.renames`);
the canonical rendering publishes the mapping back, which the gateway applies.
A tool without a reversible rename is left out of this rendering.
"""

from __future__ import annotations

from typing import Any

from toolfleet.catalog.dialects.publish import adapt_tool
from toolfleet.catalog.model import Catalog, CatalogTool

FORMAT = "anthropic"


def render_tool(tool: CatalogTool) -> dict[str, Any]:
    """One Messages API tool, its input schema as Anthropic accepts it (as written when
    no form is accepted; `render_catalog` leaves such a tool out)."""
    adapted = adapt_tool(tool.name, tool.input_schema, FORMAT).schema
    return {"name": tool.name, "description": tool.description,
            "input_schema": tool.input_schema if adapted is None else adapted}


def render_catalog(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as the `tools` array of a Messages request."""
    return [render_tool(tool) for tool in catalog.tools
            if adapt_tool(tool.name, tool.input_schema, FORMAT).schema is not None]
