"""MCP rendering (operator/toolfleet/catalog/mcp.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from toolfleet.catalog.formats import mcp

from ..fixtures import catalog_of, corpus, tool
from ..sdk import assert_mcp_accepts
from ..strategies import Node, object_schemas

CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_accepted_by_the_mcp_sdk(name: str) -> None:
    rendered = mcp.render_catalog(catalog_of([CORPUS[name]]))
    assert_mcp_accepts(rendered)
    (item,) = rendered["tools"]
    source = CORPUS[name]
    assert item["name"] == source["name"]
    assert item["inputSchema"] == source["inputSchema"]
    assert item.get("title") == source.get("title")
    assert item.get("annotations") == source.get("annotations")


def test_every_field_is_carried() -> None:
    rendered = mcp.render_catalog(catalog_of([CORPUS["get_weather"]]))
    assert rendered == {"tools": [{
        "name": "get_weather",
        "title": "Current weather",
        "description": CORPUS["get_weather"]["description"],
        "inputSchema": CORPUS["get_weather"]["inputSchema"],
        "outputSchema": CORPUS["get_weather"]["outputSchema"],
        "annotations": {"readOnlyHint": True, "openWorldHint": True},
    }]}


def test_an_output_schema_that_is_not_an_object_is_left_out() -> None:
    rendered = mcp.render_catalog(catalog_of([CORPUS["get_current_time"]]))
    assert_mcp_accepts(rendered)
    assert "outputSchema" not in rendered["tools"][0]


def test_unset_title_and_annotations_are_left_out() -> None:
    (item,) = mcp.render_catalog(catalog_of([tool("bare")]))["tools"]
    assert set(item) == {"name", "description", "inputSchema"}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_every_generated_schema_renders_to_a_tool_the_sdk_accepts(node: Node) -> None:
    rendered = mcp.render_catalog(catalog_of([tool(schema=node.schema)]))
    assert_mcp_accepts(rendered)
