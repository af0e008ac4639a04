"""OpenAI rendering and the strict-mode transform (operator/toolfleet/catalog/openai.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolfleet.catalog.formats import openai
from toolfleet.jsonschema.paths import format_path
from toolfleet.jsonschema.walker import walk

from ..fixtures import catalog_of, corpus, tool
from ..sdk import assert_openai_accepts
from ..strategies import Node, object_schemas

CORPUS = corpus()
# Whether a faithful strict form exists, and the first reason when not.
EXPECTED_STRICT = {
    "book_flight": "'oneOf' is not supported in strict mode",
    "classify_image": "format 'uri' is not supported in strict mode",
    "create_calendar_event": None,
    "create_order": None,
    "edit_file": None,
    "get_current_time": None,
    "get_weather": None,
    "github_create_issue": None,
    "plan_route": None,
    "run_python": "'uniqueItems' is not supported in strict mode",
    "run_sql_query": None,
    "scale_deployment": "'maxLength' is not supported in strict mode",
    "search_logs": None,
    "send_email": "'uniqueItems' is not supported in strict mode",
    "set_thermostat": "an object that allows arbitrary keys cannot be strict",
    "store_document": "a free-form object (no properties) cannot be strict",
    "summarize_document": None,
    "translate_text": None,
    "web_search": "'minLength' is not supported in strict mode",
}


def assert_closed(schema: dict[str, Any]) -> None:
    """Every object closed and with every property required, as strict mode demands."""
    for _, node in walk(schema):
        if node.get("type") == "object" or "properties" in node:
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])


def test_the_corpus_covers_every_case_it_expects() -> None:
    assert set(CORPUS) == set(EXPECTED_STRICT)
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_accepted_by_the_openai_sdk(name: str) -> None:
    catalog = catalog_of([CORPUS[name]])
    (rendered,) = openai.render_catalog(catalog)
    assert_openai_accepts(rendered)
    function = rendered["function"]
    assert function["name"] == CORPUS[name]["name"]
    assert function["description"] == CORPUS[name]["description"]
    expected = EXPECTED_STRICT[name]
    if expected is None:
        assert function["strict"] is True
        assert_closed(function["parameters"])
    else:
        assert "strict" not in function
        assert function["parameters"] == CORPUS[name]["inputSchema"]
        reasons = openai.strict_transform(CORPUS[name]["inputSchema"]).reasons
        assert expected in reasons[0].message


def test_optional_properties_become_required_and_nullable() -> None:
    schema = CORPUS["get_weather"]["inputSchema"]
    strict = openai.strict_transform(schema).schema
    assert strict == {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "City and country, e.g. Paris, France"},
            # default is dropped: strict mode refuses it and it never rejects a value.
            "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
        },
        "required": ["location", "unit"],
        "additionalProperties": False,
    }


def test_optional_objects_references_and_constants_are_made_nullable_by_any_of() -> None:
    schema = {
        "type": "object",
        "$defs": {"P": {"type": "object", "properties": {"x": {"type": "number"}},
                        "required": ["x"]}},
        "properties": {
            "point": {"$ref": "#/$defs/P", "description": "Where."},
            "box": {"type": "object", "properties": {"w": {"type": "integer"}},
                    "required": ["w"]},
            "kind": {"const": "a"},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "maybe": {"type": ["string", "null"]},
        },
    }
    strict = openai.strict_transform(schema).schema
    assert strict is not None
    props = strict["properties"]
    # $ref with a sibling is inlined: strict mode refuses keywords beside $ref.
    assert props["point"] == {"anyOf": [
        {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"],
         "additionalProperties": False},
        {"type": "null"},
    ], "description": "Where."}
    assert props["box"]["anyOf"][1] == {"type": "null"}
    assert props["kind"] == {"anyOf": [{"const": "a"}, {"type": "null"}]}
    assert props["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"},
                                         {"type": "null"}]}
    assert props["maybe"] == {"type": ["string", "null"]}  # accepts null already
    assert strict["$defs"]["P"]["additionalProperties"] is False
    assert_closed(strict)


def test_recursive_references_stay_references() -> None:
    strict = openai.strict_transform(CORPUS["search_logs"]["inputSchema"]).schema
    assert strict is not None
    branches = strict["$defs"]["Filter"]["anyOf"]
    assert branches[1]["properties"]["all"]["items"] == {"$ref": "#/$defs/Filter"}


@pytest.mark.parametrize(("schema", "reason"), [
    ({"type": "object", "properties": {"a": {"type": "string", "minLength": 1}}},
     "properties.a.minLength: 'minLength' is not supported in strict mode"),
    ({"type": "object", "properties": {"a": {"type": "object"}}},
     "properties.a: a free-form object (no properties) cannot be strict; declare its "
     "properties"),
    ({"type": "object", "properties": {"a": {}}},
     "properties.a: strict mode needs every value to declare a type (or anyOf, $ref, enum, "
     "const)"),
    ({"type": "object", "properties": {"a": {"type": ["string", "integer"]}}},
     "properties.a.type: a type list with several non-null types is not supported in strict "
     "mode; use anyOf"),
    ({"type": "object", "properties": {"a": {"type": "array"}}},
     "properties.a: arrays need 'items' in strict mode"),
    ({"type": "object", "properties": {}, "required": ["ghost"]},
     "required: required ['ghost'] not declared in properties; strict mode closes the object, "
     "so they could never be sent"),
    ({"type": "object", "additionalProperties": True},
     "additionalProperties: an object that allows arbitrary keys cannot be strict; strict "
     "mode needs additionalProperties false"),
])
def test_strict_is_refused_with_a_reason_that_names_the_place(schema: dict[str, Any],
                                                               reason: str) -> None:
    transform = openai.strict_transform(schema)
    assert not transform.possible
    first = transform.reasons[0]
    assert f"{format_path('', first.path)}: {first.message}" == reason


def test_a_tool_without_arguments_is_strict() -> None:
    transform = openai.strict_transform({"type": "object"})
    assert transform.schema == {"type": "object", "properties": {}, "required": [],
                                "additionalProperties": False}


def test_deep_nesting_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(openai.MAX_STRICT_NESTING + 1):
        schema = {"type": "object", "properties": {"n": schema}, "required": ["n"]}
    reasons = openai.strict_transform(schema).reasons
    assert any("nested deeper than strict mode's limit" in r.message for r in reasons)


def test_arguments_from_strict_drops_the_nulls_of_left_out_properties() -> None:
    schema = CORPUS["create_order"]["inputSchema"]
    sent = {
        "customer_id": "0b6f1d9e-4c4e-4d8a-9f0e-6a1c2b3d4e5f",
        "items": [{"sku": "A1", "quantity": 2, "unit_price": None}],
        "fulfillment": {"kind": "delivery", "instructions": None,
                        "address": {"street": "1 Main St", "city": "Springfield",
                                    "postal_code": "12345", "country": "US"}},
    }
    assert openai.arguments_from_strict(schema, sent) == {
        "customer_id": "0b6f1d9e-4c4e-4d8a-9f0e-6a1c2b3d4e5f",
        "items": [{"sku": "A1", "quantity": 2}],
        "fulfillment": {"kind": "delivery",
                        "address": {"street": "1 Main St", "city": "Springfield",
                                    "postal_code": "12345", "country": "US"}},
    }


def test_arguments_from_strict_keeps_nulls_the_original_accepts() -> None:
    schema = CORPUS["summarize_document"]["inputSchema"]
    sent = {"text": "t", "max_words": None, "style": None, "language": None}
    assert openai.arguments_from_strict(schema, sent) == {"text": "t", "language": None}


def test_strict_is_never_claimed_for_a_schema_the_transform_refuses() -> None:
    catalog = catalog_of([tool(schema=CORPUS["store_document"]["inputSchema"])])
    (rendered,) = openai.render_catalog(catalog)
    assert "strict" not in rendered["function"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas(), data=st.data())
def test_a_claimed_strict_schema_is_closed_and_faithful(node: Node, data: st.DataObject) -> None:
    transform = openai.strict_transform(node.schema)
    original = Draft202012Validator(node.schema)
    document, strict_document = data.draw(node.docs)
    assert original.is_valid(document), list(original.iter_errors(document))
    if transform.schema is None:
        assert transform.reasons
        return
    assert not transform.reasons
    Draft202012Validator.check_schema(transform.schema)
    assert_closed(transform.schema)
    strict = Draft202012Validator(transform.schema)
    # What the original accepts, strict mode can send (nulls for what was left out)...
    assert strict.is_valid(strict_document), list(strict.iter_errors(strict_document))
    # ...and what strict mode sends maps back to what the original accepts.
    restored = openai.arguments_from_strict(node.schema, strict_document)
    assert original.is_valid(restored), list(original.iter_errors(restored))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_every_generated_schema_renders_to_a_tool_the_sdk_accepts(node: Node) -> None:
    (rendered,) = openai.render_catalog(catalog_of([tool(schema=node.schema)]))
    assert_openai_accepts(rendered)
    assert rendered["function"].get("strict", False) == openai.strict_transform(
        node.schema).possible
