"""Exact rewrites: schema changes that keep the meaning, for forms a vendor refuses.

Each rewrite is a pure function from a schema to (new schema, where it
changed); an instance is valid against the new schema exactly when it is valid
against the old one (JSON Schema 2020-12), which tests/unit/catalog/dialects
checks with hypothesis. Property names are never mistaken for keywords: the
walk goes by keyword (see `toolfleet.jsonschema.walker`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from toolfleet.jsonschema.paths import Path
from toolfleet.jsonschema.walker import (
    LIST_SUBSCHEMA_KEYWORDS,
    MAP_SUBSCHEMA_KEYWORDS,
    SINGLE_SUBSCHEMA_KEYWORDS,
    walk,
)

NodeRewrite = Callable[[Mapping[str, Any]], dict[str, Any] | None]


def map_subschemas(schema: Any, rewrite: NodeRewrite, path: Path = ()
                   ) -> tuple[Any, list[Path]]:
    """The schema with `rewrite` applied to every object subschema, bottom up.

    `rewrite` returns the replacement of a node, or None to keep it. Returns the
    new schema and the places (paths in the schema) that changed.
    """
    if not isinstance(schema, Mapping):
        return schema, []
    changed: list[Path] = []
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SINGLE_SUBSCHEMA_KEYWORDS:
            out[key], places = map_subschemas(value, rewrite, (*path, key))
        elif key in LIST_SUBSCHEMA_KEYWORDS and isinstance(value, list):
            out[key], places = [], []
            for index, item in enumerate(value):
                new, found = map_subschemas(item, rewrite, (*path, key, index))
                out[key].append(new)
                places += found
        elif key in MAP_SUBSCHEMA_KEYWORDS and isinstance(value, Mapping):
            out[key], places = {}, []
            for name, item in value.items():
                out[key][name], found = map_subschemas(item, rewrite, (*path, key, name))
                places += found
        else:
            out[key], places = value, []
        changed += places
    replaced = rewrite(out)
    if replaced is not None:
        return replaced, [*changed, path]
    return out, changed


def _declares_array(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


def _uses_unevaluated_items(schema: Any) -> bool:
    return any("unevaluatedItems" in node for _, node in walk(schema))


def add_missing_items(schema: Any) -> tuple[Any, list[Path]]:
    """`items: {}` on every subschema that declares type array without `items`.

    Exact: an absent `items` constrains nothing (JSON Schema 2020-12 Core
    §10.3.1.2), and neither does `{}`, beside `prefixItems` too. Not applied
    when the schema uses `unevaluatedItems`, which `items` would change (Core
    §11.2): the schema comes back unchanged, and the vendor's check then says why.
    """
    if _uses_unevaluated_items(schema):
        return schema, []

    def rewrite(node: Mapping[str, Any]) -> dict[str, Any] | None:
        if _declares_array(node) and "items" not in node:
            return {**node, "items": {}}
        return None

    return map_subschemas(schema, rewrite)


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values as JSON Schema defines it (Core §4.2.2): numbers by
    value (1 equals 1.0), booleans apart from numbers, arrays in order, objects by
    their members."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def const_to_enum(schema: Any) -> tuple[Any, list[Path]]:
    """Every `const: c` written as `enum: [c]`; beside an `enum`, that enum keeps only
    the values equal to c.

    Exact: `const` is an `enum` of one value (Validation §6.1.3), and both
    together accept exactly the enum values equal to the const.
    """
    def rewrite(node: Mapping[str, Any]) -> dict[str, Any] | None:
        if "const" not in node:
            return None
        value = node["const"]
        out = {k: v for k, v in node.items() if k != "const"}
        enum = node.get("enum")
        if isinstance(enum, list):
            out["enum"] = [item for item in enum if json_equal(item, value)]
        else:
            out["enum"] = [value]
        return out

    return map_subschemas(schema, rewrite)
