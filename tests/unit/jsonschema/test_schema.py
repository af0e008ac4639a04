"""Walking schemas by keyword (operator/toolfleet/catalog/schema.py)."""

from __future__ import annotations

from toolfleet.jsonschema.schema import (
    format_path,
    nesting_depth,
    resolve_local_ref,
    walk,
    without_keyword,
)

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


def test_local_references_resolve_with_pointer_escapes() -> None:
    assert resolve_local_ref(SCHEMA, "#/$defs/A") == {"type": "string"}
    assert resolve_local_ref(SCHEMA, "#/properties/a~1b/anyOf/1") == {"type": "integer"}
    assert resolve_local_ref(SCHEMA, "#") is SCHEMA
    assert resolve_local_ref(SCHEMA, "#/$defs/B") is None
    assert resolve_local_ref(SCHEMA, "other.json#/x") is None


def test_paths_read_like_the_document() -> None:
    assert format_path("spec.tools[2].inputSchema", ("properties", "a b", "items", "anyOf", 1)) \
        == 'spec.tools[2].inputSchema.properties["a b"].items.anyOf[1]'
    assert format_path("", ("$defs", "A")) == "$defs.A"


def test_nesting_depth_counts_levels() -> None:
    assert nesting_depth({"type": "string"}) == 1
    assert nesting_depth(SCHEMA) == 3
