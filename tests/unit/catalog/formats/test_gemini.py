"""Gemini rendering (operator/toolfleet/catalog/gemini.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from toolfleet.catalog.formats import gemini
from toolfleet.jsonschema.paths import format_path

from ..fixtures import catalog_of, corpus, tool
from ..sdk import assert_gemini_accepts, keys_anywhere
from ..strategies import Node, object_schemas

CORPUS = corpus()


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_accepted_by_the_gemini_sdk(name: str) -> None:
    rendered = gemini.render_catalog(catalog_of([CORPUS[name]]))
    assert_gemini_accepts(rendered)
    (declaration,) = rendered["functionDeclarations"]
    assert declaration["name"] == CORPUS[name]["name"]
    assert declaration["description"] == CORPUS[name]["description"]


def test_schema_keys_are_removed_at_every_level_but_properties_keep_their_names() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {"A": {"$schema": "https://json-schema.org/draft/2020-12/schema",
                        "type": "string"}},
        "properties": {
            "nested": {"type": "object", "properties": {"x": {"$ref": "#/$defs/A"}},
                       "$schema": "https://json-schema.org/draft/2020-12/schema"},
            "type": {"type": "string"},
        },
    }
    rendered = gemini.render_catalog(catalog_of([tool(schema=schema)]))
    assert_gemini_accepts(rendered)
    params = rendered["functionDeclarations"][0]["parametersJsonSchema"]
    assert "$schema" not in keys_anywhere(params)
    assert set(params["properties"]) == {"nested", "type"}
    assert params["$defs"]["A"] == {"type": "string"}


def test_output_schema_is_the_response_schema() -> None:
    rendered = gemini.render_catalog(catalog_of([CORPUS["get_weather"]]))
    assert_gemini_accepts(rendered)
    declaration = rendered["functionDeclarations"][0]
    assert declaration["responseJsonSchema"] == CORPUS["get_weather"]["outputSchema"]


def test_keywords_gemini_may_ignore_are_named_where_they_are() -> None:
    findings = gemini.unsupported_keywords(CORPUS["create_order"]["inputSchema"])
    # const is not among them: Gemini receives it as a one-value enum, which it reads.
    assert [f"{format_path('', f.path)}: {f.message}" for f in findings] == [
        "properties.items.items.properties.unit_price.multipleOf: Gemini does not support "
        "'multipleOf' and may ignore it, so the model is not held to it; state the constraint "
        "in the description too",
    ]


def test_const_reaches_gemini_as_a_one_value_enum() -> None:
    rendered = gemini.render_catalog(catalog_of([CORPUS["create_order"]]))
    assert_gemini_accepts(rendered)
    schema = rendered["functionDeclarations"][0]["parametersJsonSchema"]
    kind = schema["properties"]["fulfillment"]["anyOf"][0]["properties"]["kind"]
    assert "const" not in kind and kind["enum"] == [
        CORPUS["create_order"]["inputSchema"]["properties"]["fulfillment"]["anyOf"][0][
            "properties"]["kind"]["const"]]


def test_annotations_and_supported_keywords_raise_nothing() -> None:
    assert gemini.unsupported_keywords(CORPUS["plan_route"]["inputSchema"]) == []


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_every_generated_schema_renders_to_a_tool_the_sdk_accepts(node: Node) -> None:
    rendered = gemini.render_catalog(catalog_of([tool(schema=node.schema)]))
    assert_gemini_accepts(rendered)
