"""The OpenAI strict-mode transform and its way back
(operator/toolfleet/catalog/formats/openai_strict.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolfleet.catalog.formats import openai_arguments, openai_strict
from toolfleet.jsonschema.paths import format_path
from toolfleet.jsonschema.walker import walk

from ..fixtures import corpus
from ..strategies import Node, object_schemas

CORPUS = corpus()


def assert_closed(schema: dict[str, Any]) -> None:
    """Every object closed and with every property required, as strict mode demands."""
    for _, node in walk(schema):
        if node.get("type") == "object" or "properties" in node:
            assert node["additionalProperties"] is False
            assert sorted(node["required"]) == sorted(node["properties"])


def test_optional_properties_become_required_and_nullable() -> None:
    schema = CORPUS["get_weather"]["inputSchema"]
    strict = openai_strict.strict_transform(schema).schema
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
    strict = openai_strict.strict_transform(schema).schema
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
    strict = openai_strict.strict_transform(CORPUS["search_logs"]["inputSchema"]).schema
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
    transform = openai_strict.strict_transform(schema)
    assert not transform.possible
    first = transform.reasons[0]
    assert f"{format_path('', first.path)}: {first.message}" == reason


def test_a_tool_without_arguments_is_strict() -> None:
    transform = openai_strict.strict_transform({"type": "object"})
    assert transform.schema == {"type": "object", "properties": {}, "required": [],
                                "additionalProperties": False}


def test_deep_nesting_is_refused() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(openai_strict.MAX_STRICT_NESTING + 1):
        schema = {"type": "object", "properties": {"n": schema}, "required": ["n"]}
    reasons = openai_strict.strict_transform(schema).reasons
    assert any("nested deeper than strict mode's limit" in r.message for r in reasons)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas(), data=st.data())
def test_a_claimed_strict_schema_is_closed_and_faithful(node: Node, data: st.DataObject) -> None:
    transform = openai_strict.strict_transform(node.schema)
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
    restored = openai_arguments.arguments_from_strict(node.schema, strict_document)
    assert original.is_valid(restored), list(original.iter_errors(restored))
