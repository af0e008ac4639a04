"""Deterministic rendering in every format (operator/toolfleet/catalog/render.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog import render
from toolfleet.catalog.build import build_catalog

from .fixtures import catalog_of, corpus, entry, tool
from .sdk import (
    assert_anthropic_accepts,
    assert_gemini_accepts,
    assert_mcp_accepts,
    assert_openai_accepts,
)
from .strategies import Node, object_schemas, reorder_keys

CORPUS = corpus()


def test_formats_are_the_ones_the_api_offers() -> None:
    assert render.FORMATS == ("canonical", "openai", "anthropic", "gemini", "mcp")


@pytest.mark.parametrize("format", render.FORMATS)
def test_output_is_compact_json_with_sorted_keys(format: str) -> None:
    catalog = catalog_of(list(CORPUS.values()))
    output = render.render(catalog, format)
    value = json.loads(output)
    assert output == json.dumps(value, sort_keys=True, separators=(",", ":"),
                                ensure_ascii=False).encode()


@pytest.mark.parametrize("format", render.FORMATS)
def test_equal_catalogs_render_to_identical_bytes(format: str) -> None:
    tools = list(CORPUS.values())
    reordered = [reorder_keys(t, reverse=True) for t in tools]
    first = build_catalog("c", [entry("a", tools=tools[:9]), entry("b", tools=tools[9:])],
                          ToolCatalogSpec(), "team-a")
    # The same services listed the other way round, every object's keys reordered.
    second = build_catalog("c", [entry("b", tools=reordered[9:]),
                                 entry("a", tools=reordered[:9])], ToolCatalogSpec(), "team-a")
    assert render.render(first, format) == render.render(second, format)


def test_the_canonical_format_is_the_catalog_document() -> None:
    catalog = catalog_of([CORPUS["get_weather"]])
    assert json.loads(render.render(catalog, "canonical")) == catalog.to_wire()


def test_an_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown catalog format 'yaml'; use one of canonical, "
                                         "openai, anthropic, gemini, mcp"):
        render.render(catalog_of([tool()]), "yaml")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_any_valid_schema_renders_in_every_format_and_every_sdk_accepts_it(node: Node) -> None:
    catalog = catalog_of([tool(schema=node.schema), tool("other")])
    documents = {f: json.loads(render.render(catalog, f)) for f in render.FORMATS}
    for rendered in documents["openai"]:
        assert_openai_accepts(rendered)
    for rendered in documents["anthropic"]:
        assert_anthropic_accepts(rendered)
    assert_gemini_accepts(documents["gemini"])
    assert_mcp_accepts(documents["mcp"])
