"""Reading a schema node's keywords as values: types, numeric bounds, counts,
array parts, and the values a node lists outright.

The keyword meanings are JSON Schema 2020-12's (Validation §6): `type` names
one of seven primitive types, `integer` being the numbers with no fractional
part; `minimum`/`exclusiveMinimum` and their upper twins bound numbers; `enum`
and `const` list values. Two older spellings that tool schemas still carry are
read too: draft 4's boolean `exclusiveMinimum` beside `minimum`, and draft
2019's array form of `items` with `additionalItems`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from toolfleet.jsonschema.walker import ANNOTATION_KEYWORDS

Schema = bool | dict[str, Any]
"""A JSON Schema node: an object, or true (anything) / false (nothing)."""

# Keywords that never constrain a value: annotations, identifiers and anchors
# (Core §8.2), definitions, and the content vocabulary (Validation §8), which
# 2020-12 makes an annotation too.
NON_CONSTRAINING = ANNOTATION_KEYWORDS | {
    "$id", "$anchor", "$dynamicAnchor", "$vocabulary", "$defs", "definitions",
    "contentMediaType", "contentEncoding",
}

ALL_TYPES = ("null", "boolean", "object", "array", "number", "string")
_ORDER = {t: i for i, t in enumerate(("null", "boolean", "object", "array", "integer", "number",
                                      "string"))}

Bound = tuple[float, bool]
"""A numeric bound as (value, exclusive)."""


def type_order(name: str) -> int:
    """Sort key listing types in one fixed order, unknown names last."""
    return _ORDER.get(name, len(_ORDER))


def types_of(schema: dict[str, Any]) -> tuple[str, ...] | None:
    """The types a node's `type` allows, in type order; None without a `type`."""
    if "type" not in schema:
        return None
    return as_types(schema["type"])


def as_types(value: Any) -> tuple[str, ...]:
    """A `type` value (one name or a list) as a sorted tuple of names."""
    listed = [value] if isinstance(value, str) else as_list(value)
    return tuple(sorted({t for t in listed if isinstance(t, str)}, key=type_order))


def type_accepts(types: Iterable[str] | None, value_type: str) -> bool:
    """Whether `types` (None: any) allow values of `value_type`; number allows integer."""
    if types is None:
        return True
    allowed = set(types)
    return value_type in allowed or (value_type == "integer" and "number" in allowed)


def finite_values(schema: dict[str, Any]) -> list[Any] | None:
    """The values a schema lists outright (const, enum, boolean, null), or None."""
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema and isinstance(schema["enum"], list):
        return list(schema["enum"])
    types = types_of(schema)
    if types is not None and set(types) <= {"null", "boolean"}:
        return ([None] if "null" in types else []) + (
            [True, False] if "boolean" in types else [])
    return None


def bound(schema: dict[str, Any], side: str) -> Bound | None:
    """The tightest lower (`minimum`) or upper (`maximum`) bound, as (value, exclusive)."""
    inclusive: Any = schema.get(side)
    exclusive: Any = schema.get("exclusiveMinimum" if side == "minimum" else "exclusiveMaximum")
    bounds: list[Bound] = []
    if are_numbers(inclusive):
        # Draft 4 spelled exclusivity as a boolean beside the bound.
        bounds.append((float(inclusive), exclusive is True))
    if are_numbers(exclusive):
        bounds.append((float(exclusive), True))
    if not bounds:
        return None
    if side == "minimum":
        return max(bounds, key=lambda b: (b[0], b[1]))
    return min(bounds, key=lambda b: (b[0], not b[1]))


def bound_keyword(schema: dict[str, Any], side: str) -> str:
    """The keyword that sets the node's bound on `side`: the exclusive one when present."""
    exclusive = "exclusiveMinimum" if side == "minimum" else "exclusiveMaximum"
    return exclusive if are_numbers(schema.get(exclusive)) else side


def bound_within(inner: Bound, outer: Bound, side: str, integer_only: bool) -> bool:
    """Whether every number within `inner` is within `outer` (on one side)."""
    if integer_only:
        inner, outer = _integer_bound(inner, side), _integer_bound(outer, side)
    if side == "minimum":
        return outer[0] < inner[0] or (outer[0] == inner[0] and (not outer[1] or inner[1]))
    return outer[0] > inner[0] or (outer[0] == inner[0] and (not outer[1] or inner[1]))


def _integer_bound(limit: Bound, side: str) -> Bound:
    value, exclusive = limit
    if side == "minimum":
        return float(math.floor(value) + 1 if exclusive else math.ceil(value)), False
    return float(math.ceil(value) - 1 if exclusive else math.floor(value)), False


def is_multiple(value: float, divisor: float) -> bool:
    """Whether `value` is a multiple of `divisor`, up to float rounding."""
    quotient = value / divisor
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def array_parts(schema: dict[str, Any]) -> tuple[list[Any], Any]:
    """(positional item schemas, schema of the rest) in 2020-12 terms."""
    items = schema.get("items", True)
    if isinstance(items, list):  # draft 2019 and earlier: tuple form
        return items, schema.get("additionalItems", True)
    return as_list(schema.get("prefixItems")), items


def is_anything(schema: Any) -> bool:
    """Whether a node (None meaning absent) accepts every value."""
    if schema is None or schema is True:
        return True
    return isinstance(schema, dict) and all(k in NON_CONSTRAINING for k in schema)


def has_ref(node: Any) -> bool:
    """Whether any reference keyword appears anywhere inside `node`."""
    if isinstance(node, dict):
        return any(k in ("$ref", "$dynamicRef", "$recursiveRef") or has_ref(v)
                   for k, v in node.items())
    if isinstance(node, list):
        return any(has_ref(v) for v in node)
    return False


def as_list(value: Any) -> list[Any]:
    """The value if it is a list, else an empty one (a malformed keyword says nothing)."""
    return value if isinstance(value, list) else []


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value if it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def are_numbers(*values: Any) -> bool:
    """Whether every value is a JSON number (booleans are not)."""
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def count(value: Any) -> int | None:
    """A count keyword (minLength, maxItems...) as an int, or None when it is not a number."""
    return int(value) if are_numbers(value) else None
