"""Schemas read as sets of values: following references, intersecting (`allOf`),
splitting by type, and telling schemas that share no value apart.

`allOf` is a conjunction and a `$ref` applies its target beside its sibling
keywords (JSON Schema 2020-12 Core §10.2.1.1 and §8.2.3.1), so both read as an
intersection here. The intersection is approximated from above (`merge`): it
is used only on the side whose values are enumerated, where allowing more can
report more but never hide a break. `disjoint` errs the other way: it answers
True only when it can show that no value satisfies both schemas.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing.exceptions import Unresolvable

from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.jsonschema.compat.values import (
    ALL_TYPES,
    NON_CONSTRAINING,
    Schema,
    are_numbers,
    as_list,
    as_mapping,
    as_types,
    finite_values,
    type_accepts,
    type_order,
    types_of,
)
from toolfleet.jsonschema.refs import RefProblem, UnresolvableRef, lookup_local_ref

# How deep the checker follows nested and recursive schemas before giving up
# (and saying so): tool schemas are rarely deeper than a handful of levels.
MAX_DEPTH = 48

# How an unfollowed reference reads in a message ("uses $ref 'x', ...").
_REF_PROBLEMS = {
    RefProblem.not_local: "which is not a local reference",
    RefProblem.anchor: "an anchor the checker does not follow",
    RefProblem.missing: "which points nowhere",
}


class Unprovable(Exception):
    """A reference or construct the checker cannot follow; the message says which."""


def follow_refs(node: Any, root: Schema) -> Any:
    """Follow local `$ref`s; a ref with sibling keywords becomes an allOf of both.

    Raises Unprovable for a reference that does not resolve or a chain that never ends.
    """
    for _ in range(MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        try:
            target = lookup_local_ref(root, node["$ref"])
        except UnresolvableRef as err:
            raise Unprovable(f"uses $ref {err.ref!r}, {_REF_PROBLEMS[err.problem]}") from err
        siblings = {k: v for k, v in node.items() if k != "$ref" and k not in NON_CONSTRAINING}
        if siblings:
            return {"allOf": [target, siblings]}
        node = target
    raise Unprovable("has a $ref chain that never ends")


def fold_all_of(schema: dict[str, Any], root: Schema) -> Schema:
    """Merge a sub-side allOf into one schema that allows at least what it allows."""
    result: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    for part in as_list(schema.get("allOf")):
        resolved = follow_refs(part, root)
        if isinstance(resolved, dict) and "allOf" in resolved:
            resolved = fold_all_of(resolved, root)
        result = merge(result, resolved)
    return result


def merge(first: Any, second: Any) -> Schema:
    """Approximate `first AND second` by a schema that allows no less.

    Used only on the side whose values are enumerated (the sub), where allowing
    more can only report more, never hide a break.
    """
    if first is False or second is False:
        return False
    if not isinstance(first, dict):
        return second if isinstance(second, dict) else True
    if not isinstance(second, dict):
        return first
    merged = dict(first)
    for key, value in second.items():
        if key not in merged or canonical_json(merged[key]) == canonical_json(value):
            merged[key] = value
        else:
            merged[key] = _merge_keyword(key, merged[key], value)
    return merged


# Keywords whose values combine as the tighter bound when both schemas set them.
_LOWER_BOUNDS = ("minimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "maxLength", "maxItems", "maxProperties")


def _merge_keyword(key: str, first: Any, second: Any) -> Any:
    """The value of `key` in `merge` when the two schemas give it different values."""
    if key == "type":
        return _intersect_types(first, second)
    if key == "required":
        return sorted({*as_list(first), *as_list(second)}, key=str)
    if key == "enum":
        keep = {canonical_json(v) for v in as_list(second)}
        return [v for v in as_list(first) if canonical_json(v) in keep]
    if key == "properties":
        return _merge_properties(first, second)
    if key in _LOWER_BOUNDS and are_numbers(first, second):
        return max(first, second)
    if key in _UPPER_BOUNDS and are_numbers(first, second):
        return min(first, second)
    # Any other conflict keeps the first value: dropping a constraint
    # allows more, which is the safe direction here.
    return first


def _intersect_types(first: Any, second: Any) -> list[str]:
    """The types both `type` values allow, an integer counting as a number."""
    both = [t for t in as_types(first) if type_accepts(as_types(second), t)]
    both += [t for t in as_types(second) if t == "integer" and "number" in as_types(first)]
    return sorted(set(both), key=type_order)


def _merge_properties(first: Any, second: Any) -> dict[str, Any]:
    """Both `properties` maps; a name in both must satisfy both its schemas."""
    props = dict(as_mapping(first))
    for name, schema in as_mapping(second).items():
        props[name] = {"allOf": [props[name], schema]} if name in props else schema
    return props


def split_by_type(schema: dict[str, Any]) -> list[Schema]:
    """One schema per type it allows, so a union can be matched type by type."""
    if finite_values(schema) is not None:
        return [schema]
    types = types_of(schema)
    if types is None:
        types = ALL_TYPES
    if len(types) < 2:
        return [schema]
    return [{**schema, "type": t} for t in types]


def disjoint(first: Any, first_root: Schema, second: Any, second_root: Schema,
             depth: int) -> bool:
    """True when no value can satisfy both schemas (a cheap, sound test).

    Raises Unprovable for a reference it cannot follow.
    """
    if depth > MAX_DEPTH:
        return False
    a = follow_refs(first, first_root)
    b = follow_refs(second, second_root)
    if a is False or b is False:
        return True
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    if _types_disjoint(a, b):
        return True
    for values, other, root in ((finite_values(a), b, second_root),
                                (finite_values(b), a, first_root)):
        if values is not None:
            try:
                validator = Draft202012Validator(root).evolve(schema=other)
                if not any(validator.is_valid(v) for v in values):
                    return True
            except (SchemaError, Unresolvable, re.error):
                return False
    return _required_property_disjoint(a, first_root, b, second_root, depth)


def _types_disjoint(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """True when both schemas list their types and no type of one fits the other."""
    types_first, types_second = types_of(first), types_of(second)
    return types_first is not None and types_second is not None and not any(
        type_accepts(types_second, t) or (t == "number" and "integer" in types_second)
        for t in types_first)


def _required_property_disjoint(first: dict[str, Any], first_root: Schema,
                                second: dict[str, Any], second_root: Schema,
                                depth: int) -> bool:
    """True when a property both schemas declare, and one requires, is disjoint:
    no object can then satisfy both."""
    props_first = as_mapping(first.get("properties"))
    props_second = as_mapping(second.get("properties"))
    required = set(as_list(first.get("required"))) | set(as_list(second.get("required")))
    for name in set(props_first) & set(props_second):
        if name in required and disjoint(
                props_first[name], first_root, props_second[name], second_root, depth + 1):
            return True
    return False
