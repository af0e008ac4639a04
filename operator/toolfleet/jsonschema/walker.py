"""Walking a JSON Schema by keyword: the one place that knows which keywords
hold subschemas.

Validators and renderers both need to visit every subschema without mistaking
a property *named* "type" for the keyword `type`. The keywords come from JSON
Schema 2020-12: the applicators of Core §10 (`allOf`, `anyOf`, `oneOf`, `not`,
`if`/`then`/`else`, `dependentSchemas`, `prefixItems`, `items`, `contains`,
`properties`, `patternProperties`, `additionalProperties`, `propertyNames`),
the unevaluated vocabulary of Core §11, `contentSchema` (Validation §8.5) and
`$defs` (Core §8.2.4), plus draft-07's `definitions`, which tools still use.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from toolfleet.jsonschema.paths import Path

# Keywords whose value is one subschema, a list of them, or a map of name to subschema.
SINGLE_SUBSCHEMA_KEYWORDS = frozenset({
    "items", "additionalProperties", "not", "if", "then", "else", "contains",
    "propertyNames", "unevaluatedItems", "unevaluatedProperties", "contentSchema",
})
LIST_SUBSCHEMA_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
MAP_SUBSCHEMA_KEYWORDS = frozenset({
    "properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
})

# Keywords that only describe and never reject a value: the meta-data
# vocabulary (Validation §9), `$comment` (Core §8.3) and `$schema` (Core §8.1.1).
ANNOTATION_KEYWORDS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated",
    "readOnly", "writeOnly", "$schema",
})


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
    """Every object subschema (the root included), depth first, with its path.

    References are not followed: each subschema is visited where it is written.
    """
    if not isinstance(schema, Mapping):
        return
    yield path, schema
    for relative, child in subschemas(schema):
        yield from walk(child, path + relative)


def nesting_depth(schema: Any) -> int:
    """How deeply subschemas nest: 1 for a schema without subschemas, 0 for a boolean."""
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
