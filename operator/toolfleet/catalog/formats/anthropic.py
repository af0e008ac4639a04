"""Anthropic rendering: Messages API `tools[]` entries (name, description, input_schema)."""

from __future__ import annotations

from typing import Any

from toolfleet.catalog.model import Catalog, CatalogTool


def render_tool(tool: CatalogTool) -> dict[str, Any]:
    """One Messages API tool; the input schema passes through unchanged."""
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


def render_catalog(catalog: Catalog) -> list[dict[str, Any]]:
    """The catalog as the `tools` array of a Messages request."""
    return [render_tool(tool) for tool in catalog.tools]
