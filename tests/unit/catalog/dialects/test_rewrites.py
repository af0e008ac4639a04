"""Exact rewrites (operator/toolfleet/catalog/dialects/rewrites.py): an instance is valid
against the rewritten schema exactly when it is valid against the original."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolfleet.catalog.dialects.rewrites import add_missing_items, const_to_enum, json_equal
from toolfleet.jsonschema.walker import walk

from .strategies import json_values, schemas

PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _valid(schema: Any, instance: Any) -> bool:
    return bool(Draft202012Validator(schema).is_valid(instance))


@PROPERTY
@given(schema=schemas(), instances=st.lists(json_values(), min_size=1, max_size=6))
def test_items_added_to_arrays_accept_exactly_what_the_original_accepts(
        schema: Any, instances: list[Any]) -> None:
    rewritten, _ = add_missing_items(schema)
    for instance in instances:
        assert _valid(rewritten, instance) == _valid(schema, instance)


@PROPERTY
@given(schema=schemas())
def test_after_the_rewrite_no_array_lacks_items(schema: Any) -> None:
    rewritten, places = add_missing_items(schema)
    for _, node in walk(rewritten):
        kind = node.get("type")
        if kind == "array" or (isinstance(kind, list) and "array" in kind):
            assert "items" in node
    assert bool(places) == (rewritten != schema)


@PROPERTY
@given(schema=schemas(), instances=st.lists(json_values(), min_size=1, max_size=6))
def test_const_as_enum_accepts_exactly_what_the_original_accepts(
        schema: Any, instances: list[Any]) -> None:
    rewritten, _ = const_to_enum(schema)
    assert not any("const" in node for _, node in walk(rewritten))
    for instance in instances:
        assert _valid(rewritten, instance) == _valid(schema, instance)


def test_a_path_array_without_items_gets_items_of_anything() -> None:
    schema = {"type": "object", "properties": {
        "paths": {"type": "array", "description": "files to read"}}}
    rewritten, places = add_missing_items(schema)
    assert rewritten["properties"]["paths"] == {
        "type": "array", "description": "files to read", "items": {}}
    assert places == [("properties", "paths")]


def test_a_property_named_items_or_const_is_not_taken_for_the_keyword() -> None:
    schema = {"type": "object", "properties": {"const": {"type": "string"},
                                               "items": {"type": "string"}}}
    assert const_to_enum(schema) == (schema, [])
    assert add_missing_items(schema) == (schema, [])


def test_unevaluated_items_keeps_the_array_as_written() -> None:
    schema = {"type": "array", "prefixItems": [{}], "unevaluatedItems": False}
    assert add_missing_items(schema) == (schema, [])


def test_json_equality_tells_booleans_from_numbers() -> None:
    assert json_equal(1, 1.0) and not json_equal(True, 1) and not json_equal(0, False)
    assert json_equal({"a": [1]}, {"a": [1.0]}) and not json_equal([1], [1, 1])
    assert const_to_enum({"const": 1, "enum": [True, 1.0, 2]})[0] == {"enum": [1.0]}
