"""Schemas that exercise the rewrites and renames, and JSON instances to judge them by."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

# Keys Anthropic refuses, keys it accepts, and keys that a rename could produce.
KEYS = ["$top", "@odata.type", "filter[id]", "a b", "_top", "_odata.type", "a", "b"]
SCALARS: SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.sampled_from([0, 1, 2, 1.0, 2.5, -1]),
    st.sampled_from(["", "x", "fast"]))


def json_values(keys: list[str] | None = None) -> SearchStrategy[Any]:
    """Small JSON values whose object keys come from `keys` (default KEYS)."""
    names = st.sampled_from(keys or KEYS)
    return st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(names, inner, max_size=3)), max_leaves=8)


def _leaves() -> SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([{}, True, {"type": "string"}, {"type": "integer"},
                         {"type": "number"}, {"type": "null"}, {"type": "boolean"},
                         {"type": "array"}, {"type": ["array", "null"]},
                         {"type": "array", "minItems": 1}, {"type": "object"}]),
        SCALARS.map(lambda v: {"const": v}),
        st.tuples(SCALARS, st.lists(SCALARS, max_size=3)).map(
            lambda pair: {"const": pair[0], "enum": pair[1]}),
        st.lists(SCALARS, min_size=1, max_size=3).map(lambda v: {"enum": v}))


def _compound(children: SearchStrategy[Any]) -> SearchStrategy[Any]:
    names = st.sampled_from(KEYS)
    return st.one_of(
        children.map(lambda c: {"type": "array", "items": c}),
        st.lists(children, min_size=1, max_size=2).map(
            lambda cs: {"type": "array", "prefixItems": cs}),
        st.tuples(st.dictionaries(names, children, max_size=3),
                  st.one_of(st.none(), st.just(False), children),
                  st.lists(names, max_size=2, unique=True)).map(_object),
        st.lists(children, min_size=1, max_size=2).map(lambda cs: {"anyOf": cs}),
        st.lists(children, min_size=1, max_size=2).map(lambda cs: {"allOf": cs}),
        children.map(lambda c: {"not": c}))


def _object(parts: tuple[dict[str, Any], Any, list[str]]) -> dict[str, Any]:
    properties, additional, required = parts
    node: dict[str, Any] = {"type": "object", "properties": properties}
    if additional is not None:
        node["additionalProperties"] = additional
    if required:
        node["required"] = required
    return node


def schemas() -> SearchStrategy[Any]:
    """Schemas of arrays (with and without items), tuples, const, enum, objects with
    refused keys, open maps and combinators, up to a few levels deep."""
    return st.recursive(_leaves(), _compound, max_leaves=6)
