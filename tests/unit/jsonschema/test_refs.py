"""The one local $ref resolver (operator/toolfleet/jsonschema/refs.py)."""

from __future__ import annotations

from typing import Any

import pytest
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from toolfleet.jsonschema.refs import (
    RefProblem,
    UnresolvableRef,
    inline_ref,
    lookup_local_ref,
    recursive_refs,
    resolve_local_ref,
)

SCHEMA = {
    "type": "object",
    "$defs": {"A": {"type": "string"}},
    "properties": {
        "type": {"type": "array", "items": {"$ref": "#/$defs/A"}},
        "a/b": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
    },
}

DOCUMENT: dict[str, Any] = {
    "$defs": {
        "a b": {"type": "integer"},
        "50%": {"type": "number"},
        "x~y": {"type": "boolean"},
        "~1": {"const": "tilde-one"},
        "nothing": None,
        "pair": {"anyOf": [{"type": "null"}, {"prefixItems": [{"const": 1}, {"const": 2}]}]},
    },
}


def test_local_references_resolve_with_pointer_escapes() -> None:
    assert resolve_local_ref(SCHEMA, "#/$defs/A") == {"type": "string"}
    assert resolve_local_ref(SCHEMA, "#/properties/a~1b/anyOf/1") == {"type": "integer"}
    assert resolve_local_ref(SCHEMA, "#") is SCHEMA
    assert resolve_local_ref(SCHEMA, "#/$defs/B") is None
    assert resolve_local_ref(SCHEMA, "other.json#/x") is None


def test_a_nested_pointer_walks_objects_and_arrays() -> None:
    assert lookup_local_ref(DOCUMENT, "#/$defs/pair/anyOf/1/prefixItems/1") == {"const": 2}


def test_tilde_escapes_decode_one_then_zero() -> None:
    assert lookup_local_ref(DOCUMENT, "#/$defs/x~0y") == {"type": "boolean"}
    # "~01" is "~1" spelled out, not "/": ~1 is decoded before ~0 (RFC 6901 §4).
    assert lookup_local_ref(DOCUMENT, "#/$defs/~01") == {"const": "tilde-one"}


def test_the_fragment_is_percent_decoded_before_the_pointer_is_read() -> None:
    assert lookup_local_ref(DOCUMENT, "#/$defs/a%20b") == {"type": "integer"}
    assert lookup_local_ref(DOCUMENT, "#/$defs/50%25") == {"type": "number"}
    assert lookup_local_ref(DOCUMENT, "#%2F%24defs%2Fa%20b") == {"type": "integer"}


@pytest.mark.parametrize("ref", [
    "#", "#/$defs/a%20b", "#/$defs/50%25", "#/$defs/x~0y", "#/$defs/~01",
    "#/$defs/pair/anyOf/1/prefixItems/0",
])
def test_resolves_as_the_validator_library_does(ref: str) -> None:
    resolver = Registry().resolver_with_root(DRAFT202012.create_resource(DOCUMENT))
    assert lookup_local_ref(DOCUMENT, ref) == resolver.lookup(ref).contents


@pytest.mark.parametrize(("ref", "problem"), [
    ("#/$defs/B", RefProblem.missing),
    ("#/$defs/pair/anyOf/2", RefProblem.missing),
    ("#/$defs/pair/anyOf/01", RefProblem.missing),  # RFC 6901: no leading zeros
    ("#/$defs/pair/anyOf/-1", RefProblem.missing),
    ("#/$defs/a%20b/type/x", RefProblem.missing),  # a string has no members
    ("#/$defs/a b ", RefProblem.missing),
    ("#anchor", RefProblem.anchor),
    ("other.json#/$defs/A", RefProblem.not_local),
    ("", RefProblem.not_local),
    (42, RefProblem.not_local),
])
def test_an_unresolvable_reference_says_why(ref: object, problem: RefProblem) -> None:
    with pytest.raises(UnresolvableRef) as raised:
        lookup_local_ref(DOCUMENT, ref)
    assert raised.value.problem is problem
    assert raised.value.ref == ref
    assert str(raised.value) == f"$ref {ref!r} {problem.value}"
    assert resolve_local_ref(DOCUMENT, ref) is None


def test_a_null_target_is_found_by_lookup() -> None:
    assert lookup_local_ref(DOCUMENT, "#/$defs/nothing") is None


def test_inline_ref_follows_the_chain_and_siblings_win() -> None:
    root = {"$defs": {"A": {"$ref": "#/$defs/B", "description": "A"},
                      "B": {"type": "string", "description": "B", "maxLength": 3}}}
    node = {"$ref": "#/$defs/A", "maxLength": 5}
    assert inline_ref(node, root) == {"type": "string", "description": "A", "maxLength": 5}
    assert node == {"$ref": "#/$defs/A", "maxLength": 5}  # not modified


def test_inline_ref_stops_at_a_cycle_or_a_dangling_reference() -> None:
    root = {"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A", "title": "B"}}}
    assert inline_ref({"$ref": "#/$defs/A"}, root) == {"$ref": "#/$defs/A", "title": "B"}
    assert inline_ref({"$ref": "#/$defs/gone", "type": "string"}, root) == {
        "$ref": "#/$defs/gone", "type": "string"}


def test_recursive_refs_names_the_definitions_that_reach_themselves() -> None:
    root = {
        "type": "object",
        "properties": {"tree": {"$ref": "#/$defs/Tree"}, "leaf": {"$ref": "#/$defs/Leaf"},
                       "self": {"$ref": "#"}},
        "$defs": {
            "Tree": {"type": "object",
                     "properties": {"children": {"items": {"$ref": "#/$defs/Forest"}}}},
            "Forest": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
            "Leaf": {"type": "string"},
        },
    }
    assert recursive_refs(root) == {"#", "#/$defs/Tree", "#/$defs/Forest"}
    assert recursive_refs({"type": "object", "$defs": {"L": {"$ref": "#/$defs/L2"}}}) == set()
