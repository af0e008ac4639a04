"""Walking JSON Schemas (2020-12) by keyword, and naming places in them.

Validators and renderers both need to visit every subschema without mistaking
a property *named* "type" for the keyword `type`; this module is the one place
that knows which keywords hold subschemas.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PathPart = str | int
Path = tuple[PathPart, ...]

# Keywords whose value is one subschema, a list of them, or a map of name to subschema.
SINGLE_SUBSCHEMA_KEYWORDS = frozenset({
    "items", "additionalProperties", "not", "if", "then", "else", "contains",
    "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema",
})
LIST_SUBSCHEMA_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
MAP_SUBSCHEMA_KEYWORDS = frozenset({
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
})

# Keywords that only describe and never reject a value.
ANNOTATION_KEYWORDS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated",
    "readOnly", "writeOnly", "$schema",
})

_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True)
class Finding:
    """Something noticed at a place in a schema; `path` is relative to the schema root."""

    path: Path
    message: str


def subschemas(node: Mapping[str, Any]) -> Iterator[tuple[Path, Any]]:
    """The direct subschemas of a schema node, each with its path relative to the node.

    Boolean subschemas are yielded too; callers decide what they mean.
    """
    for keyword, value in node.items():
        if keyword in SINGLE_SUBSCHEMA_KEYWORDS and isinstance(value, Mapping | bool):
            yield (keyword,), value
        elif keyword in LIST_SUBSCHEMA_KEYWORDS and isinstance(value, list):
            for index, item in enumerate(value):
                yield (keyword, index), item
        elif keyword in MAP_SUBSCHEMA_KEYWORDS and isinstance(value, Mapping):
            for name, item in value.items():
                yield (keyword, name), item


def walk(schema: Any, path: Path = ()) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every object subschema (the root included), depth first, with its path."""
    if not isinstance(schema, Mapping):
        return
    yield path, schema
    for relative, child in subschemas(schema):
        yield from walk(child, path + relative)


def nesting_depth(schema: Any) -> int:
    """How deeply subschemas nest: 1 for a schema without subschemas."""
    if not isinstance(schema, Mapping):
        return 0
    return 1 + max((nesting_depth(child) for _, child in subschemas(schema)), default=0)


def without_keyword(schema: Any, keyword: str) -> Any:
    """A copy of the schema with `keyword` removed from every subschema.

    Property names are left alone: a property called like the keyword stays.
    """
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == keyword:
            continue
        if key in SINGLE_SUBSCHEMA_KEYWORDS:
            out[key] = without_keyword(value, keyword)
        elif key in LIST_SUBSCHEMA_KEYWORDS and isinstance(value, list):
            out[key] = [without_keyword(item, keyword) for item in value]
        elif key in MAP_SUBSCHEMA_KEYWORDS and isinstance(value, Mapping):
            out[key] = {name: without_keyword(item, keyword) for name, item in value.items()}
        else:
            out[key] = value
    return out


def resolve_local_ref(root: Mapping[str, Any], ref: str) -> Any | None:
    """The subschema a local reference ('#' or '#/json/pointer') points to, or None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def format_path(base: str, path: Path) -> str:
    """A readable location: format_path('tools[2].inputSchema', ('properties', 'a b'))
    gives 'tools[2].inputSchema.properties["a b"]'."""
    text = base
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_SEGMENT.match(part):
            text += f".{part}" if text else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            text += f'["{escaped}"]'
    return text
