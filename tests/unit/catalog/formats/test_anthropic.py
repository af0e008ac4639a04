"""Anthropic rendering (operator/toolfleet/catalog/anthropic.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from toolfleet.catalog.formats import anthropic

from ..fixtures import catalog_of, corpus, tool
from ..sdk import assert_anthropic_accepts
from ..strategies import Node, object_schemas

CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_accepted_by_the_anthropic_sdk(name: str) -> None:
    (rendered,) = anthropic.render_catalog(catalog_of([CORPUS[name]]))
    assert_anthropic_accepts(rendered)
    assert rendered == {
        "name": CORPUS[name]["name"],
        "description": CORPUS[name]["description"],
        "input_schema": CORPUS[name]["inputSchema"],
    }


def test_tools_come_in_catalog_order() -> None:
    catalog = catalog_of([tool("b_tool"), tool("a_tool")])
    assert [t["name"] for t in anthropic.render_catalog(catalog)] == ["a_tool", "b_tool"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_every_generated_schema_renders_to_a_tool_the_sdk_accepts(node: Node) -> None:
    (rendered,) = anthropic.render_catalog(catalog_of([tool(schema=node.schema)]))
    assert_anthropic_accepts(rendered)
    assert rendered["input_schema"] == node.schema
