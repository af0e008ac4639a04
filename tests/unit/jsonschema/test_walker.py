"""Walking schemas by keyword (operator/toolfleet/jsonschema/walker.py)."""

from __future__ import annotations

from toolfleet.jsonschema.walker import nesting_depth, subschemas, walk, without_keyword

SCHEMA = {
    "type": "object",
    "$defs": {"A": {"type": "string"}},
    "properties": {
        "type": {"type": "array", "items": {"$ref": "#/$defs/A"}},
        "a/b": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
    },
}


def test_walk_visits_subschemas_not_property_names() -> None:
    paths = [path for path, _ in walk(SCHEMA)]
    assert paths == [
        (), ("$defs", "A"), ("properties", "type"), ("properties", "type", "items"),
        ("properties", "a/b"), ("properties", "a/b", "anyOf", 0),
        ("properties", "a/b", "anyOf", 1),
    ]


def test_without_keyword_keeps_a_property_of_that_name() -> None:
    stripped = without_keyword(SCHEMA, "type")
    assert "type" not in stripped
    assert "type" in stripped["properties"]
    assert stripped["properties"]["type"] == {"items": {"$ref": "#/$defs/A"}}


def test_nesting_depth_counts_levels() -> None:
    assert nesting_depth({"type": "string"}) == 1
    assert nesting_depth(SCHEMA) == 3


def test_subschemas_include_booleans_and_skip_values_that_are_not_schemas() -> None:
    node = {"additionalProperties": False, "items": {"type": "string"}, "enum": [{"a": 1}],
            "const": {"type": "x"}, "prefixItems": [True]}
    assert list(subschemas(node)) == [
        (("additionalProperties",), False), (("items",), {"type": "string"}),
        (("prefixItems", 0), True),
    ]
