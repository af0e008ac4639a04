"""Keyword by keyword: where the sub allows a value the sup rejects, once
references, `allOf` and unions are out of the way (see `checker`).

Each family follows its definition in JSON Schema 2020-12 Validation §6: a
narrower `type` or an added `enum`/`const` (§6.1); a tighter numeric bound or
a `multipleOf` the old numbers need not meet (§6.2); string lengths, `pattern`
and `format` (§6.3, §7); array items and counts (§6.4, Core §10.3.1); object
properties, `required`, `additionalProperties` and `patternProperties` (§6.5,
Core §10.3.2). Keywords outside these families are compared only for equality
(`check_opaque`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.jsonschema.compat.differences import Direction
from toolfleet.jsonschema.compat.messages import bound_change, keyword_change, summary, type_text
from toolfleet.jsonschema.compat.values import (
    ALL_TYPES,
    NON_CONSTRAINING,
    array_parts,
    as_list,
    as_mapping,
    bound,
    bound_keyword,
    bound_within,
    count,
    is_anything,
    is_multiple,
    type_accepts,
    type_order,
    types_of,
)
from toolfleet.jsonschema.paths import Path

if TYPE_CHECKING:
    from toolfleet.jsonschema.compat.checker import Checker

# Keywords the checker compares; any other constraining keyword that differs is
# reported as a possible break.
HANDLED = frozenset({
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "pattern", "format", "items", "prefixItems",
    "additionalItems", "minItems", "maxItems", "uniqueItems", "properties", "required",
    "additionalProperties", "patternProperties", "minProperties", "maxProperties", "anyOf",
    "oneOf", "allOf", "$ref",
})


def check_keywords(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                   depth: int) -> None:
    """Compare every keyword family that applies to the types both schemas allow."""
    kept = check_type(checker, sub, sup, path)
    check_enum(checker, sup, path)
    if "number" in kept or "integer" in kept:
        check_numbers(checker, sub, sup, path, integer_only="number" not in kept)
    if "string" in kept:
        check_counts(checker, sub, sup, path, "minLength", "maxLength")
        check_exact(checker, sub, sup, path, "pattern")
        check_exact(checker, sub, sup, path, "format")
    if "array" in kept:
        check_array(checker, sub, sup, path, depth)
    if "object" in kept:
        check_object(checker, sub, sup, path, depth)
    check_opaque(checker, sub, sup, path)


def check_type(checker: Checker, sub: dict[str, Any], sup: dict[str, Any],
               path: Path) -> set[str]:
    """Report types the sub allows and the sup does not; return the types both allow."""
    sub_types = types_of(sub)
    sup_types = types_of(sup)
    allowed = set(ALL_TYPES) if sub_types is None else set(sub_types)
    lost = sorted((t for t in allowed if not type_accepts(sup_types, t)), key=type_order)
    if lost:
        old, new = checker.old_new(type_text(sub_types), type_text(sup_types))
        if sub_types is None:
            detail = checker.pick(f"now must be {new} (any type was accepted)",
                                  f"may now be any type (was {old})")
        else:
            detail = checker.pick(f"no longer accepts {' or '.join(lost)} (type narrowed from "
                                  f"{old} to {new})",
                                  f"may now be {' or '.join(lost)} (type widened from {old} to "
                                  f"{new})")
        checker.report((*path, "type"), detail, subject=path)
    return {t for t in allowed if type_accepts(sup_types, t)} | (
        {"integer"} if "number" in allowed and type_accepts(sup_types, "integer") else set()
    )


def check_enum(checker: Checker, sup: dict[str, Any], path: Path) -> None:
    """A sup `const` or `enum` narrows a sub that lists no values of its own."""
    # Only reached when the sub is not finite, so any sup enum narrows it.
    for keyword in ("const", "enum"):
        if keyword not in sup:
            continue
        listed = [sup["const"]] if keyword == "const" else as_list(sup["enum"])
        shown = ", ".join(summary(v) for v in listed)
        checker.report((*path, keyword), checker.pick(f"is now limited to {shown}",
                                                      f"is no longer limited to {shown}"),
                       subject=path)
        return


def check_numbers(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path, *,
                  integer_only: bool) -> None:
    """Bounds on both sides, then `multipleOf`; integers round their bounds inwards."""
    for side in ("minimum", "maximum"):
        sub_bound = bound(sub, side)
        sup_bound = bound(sup, side)
        if sup_bound is None:
            continue
        if sub_bound is not None and bound_within(sub_bound, sup_bound, side, integer_only):
            continue
        keyword = bound_keyword(sup, side)
        old, new = checker.old_new(sub_bound, sup_bound)
        checker.report((*path, keyword), bound_change(side, old, new), subject=path)
    divisor = sup.get("multipleOf")
    if isinstance(divisor, int | float) and not isinstance(divisor, bool) and divisor > 0:
        mine = sub.get("multipleOf")
        if integer_only and mine is None:
            mine = 1
        if not (isinstance(mine, int | float) and is_multiple(mine, divisor)):
            old, new = checker.old_new(sub.get("multipleOf"), divisor)
            checker.report((*path, "multipleOf"), keyword_change("multipleOf", old, new),
                           subject=path)


def check_counts(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                 low: str, high: str) -> None:
    """A pair of count keywords (minLength/maxLength, ...): the sup's range must hold the sub's."""
    sub_low, sup_low = count(sub.get(low)), count(sup.get(low))
    if sup_low is not None and sup_low > (sub_low or 0):
        old, new = checker.old_new(sub_low, sup_low)
        checker.report((*path, low), keyword_change(low, old, new), subject=path)
    sub_high, sup_high = count(sub.get(high)), count(sup.get(high))
    if sup_high is not None and (sub_high is None or sub_high > sup_high):
        old, new = checker.old_new(sub_high, sup_high)
        checker.report((*path, high), keyword_change(high, old, new), subject=path)


def check_exact(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                keyword: str) -> None:
    """Keywords whose values cannot be ordered (pattern, format): any change narrows."""
    if keyword in sup and canonical_json(sub.get(keyword)) != canonical_json(sup[keyword]):
        old, new = checker.old_new(sub.get(keyword), sup[keyword])
        checker.report((*path, keyword), keyword_change(keyword, old, new), subject=path)


def check_array(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                depth: int) -> None:
    """Items position by position, the rest, counts, and `uniqueItems`."""
    sub_prefix, sub_items = array_parts(sub)
    sup_prefix, sup_items = array_parts(sup)
    for index in range(max(len(sub_prefix), len(sup_prefix))):
        mine = sub_prefix[index] if index < len(sub_prefix) else sub_items
        theirs = sup_prefix[index] if index < len(sup_prefix) else sup_items
        if mine is False or is_anything(theirs):
            continue
        checker.check(mine, theirs, (*path, "prefixItems", index), depth + 1)
    if not is_anything(sup_items) and sub_items is not False:
        checker.check(sub_items, sup_items, (*path, "items"), depth + 1)
    check_counts(checker, sub, sup, path, "minItems", "maxItems")
    if sup.get("uniqueItems") is True and sub.get("uniqueItems") is not True:
        checker.report((*path, "uniqueItems"), checker.pick("now requires unique items",
                                                            "may now contain duplicate items"),
                       subject=path)


def check_object(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                 depth: int) -> None:
    """Properties name by name, `required`, additional and patterned properties, counts."""
    sub_props = as_mapping(sub.get("properties"))
    sup_props = as_mapping(sup.get("properties"))
    # Differing patternProperties on the sup side cannot be compared name by
    # name; without them, the sub's patterned names fall to additionalProperties.
    patterns_same = (canonical_json(sub.get("patternProperties"))
                     == canonical_json(sup.get("patternProperties")))
    patterns_opaque = not patterns_same and "patternProperties" in sup
    if patterns_opaque:
        checker.report((*path, "patternProperties"), "patternProperties changed; it could not "
                       "be proven compatible", proven=False, subject=path)
    for name in sorted(set(sub_props) | set(sup_props)):
        where = (*path, "properties", name)
        if name in sub_props and name in sup_props:
            checker.check(sub_props[name], sup_props[name], where, depth + 1)
        elif name in sup_props and checker.direction is Direction.output:
            checker.report(where, "was removed; callers reading it would miss it")
        elif name in sub_props:
            target = additional_for(checker, sup, name, where)
            if target is False:
                checker.report(where, checker.pick(
                    "was removed and additional properties are not allowed",
                    "was added but the old schema allowed no other properties"))
            elif not is_anything(target):
                checker.check(sub_props[name], target, where, depth + 1)
        else:
            source = additional_for(checker, sub, name, where)
            # An open schema did not promise anything about an undeclared name.
            if isinstance(source, dict) and source:
                checker.check(source, sup_props[name], where, depth + 1)
    check_required(checker, sub, sup, sub_props, sup_props, path)
    if not patterns_opaque:
        _check_additional(checker, sub, sup, path, depth, patterns_same=patterns_same)
    check_counts(checker, sub, sup, path, "minProperties", "maxProperties")


def _check_additional(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                      depth: int, *, patterns_same: bool) -> None:
    """Properties neither schema declares: the sup's additionalProperties must take the sub's."""
    sup_extra = sup.get("additionalProperties", True)
    if is_anything(sup_extra):
        return
    sub_extra = sub.get("additionalProperties", True)
    extra_path = (*path, "additionalProperties")
    if sup_extra is False:
        if sub_extra is not False:
            checker.report(extra_path, checker.pick("no longer allows additional properties",
                                                    "may now include additional properties"),
                           subject=path)
    else:
        checker.check(sub_extra, sup_extra, extra_path, depth + 1)
    if not patterns_same:
        for pattern, schema in as_mapping(sub.get("patternProperties")).items():
            if sup_extra is False:
                checker.report(extra_path, checker.pick(
                    f"no longer allows properties matching '{pattern}'",
                    f"may now include properties matching '{pattern}'"), subject=path)
            else:
                checker.check(schema, sup_extra, extra_path, depth + 1)


def check_required(checker: Checker, sub: dict[str, Any], sup: dict[str, Any],
                   sub_props: Mapping[str, Any], sup_props: Mapping[str, Any],
                   path: Path) -> None:
    """Names the sup requires and the sub did not: new for input, optional for output."""
    sub_required = {n for n in as_list(sub.get("required")) if isinstance(n, str)}
    for name in as_list(sup.get("required")):
        if not isinstance(name, str) or name in sub_required:
            continue
        subject = (*path, "properties", name)
        if checker.direction is Direction.input:
            detail = "became required" if name in sub_props else "is a new required property"
        elif name in sup_props and name not in sub_props:
            continue  # reported as removed
        else:
            detail = "became optional; callers may find it missing"
        checker.report((*path, "required"), detail, subject=subject)


def additional_for(checker: Checker, schema: dict[str, Any], name: str, where: Path) -> Any:
    """What `schema` says about a property it does not declare (None: nothing)."""
    matched: list[Any] = []
    for pattern, sub_schema in as_mapping(schema.get("patternProperties")).items():
        try:
            if re.search(pattern, name):
                matched.append(sub_schema)
        except re.error:
            checker.report(where, f"patternProperties pattern '{pattern}' could not be read; it "
                                  "could not be proven compatible", proven=False)
    if matched:
        return matched[0] if len(matched) == 1 else {"allOf": matched}
    return schema.get("additionalProperties")


def check_opaque(checker: Checker, sub: dict[str, Any], sup: dict[str, Any], path: Path) -> None:
    """Keywords the checker cannot reason about: a difference may be a break."""
    for keyword, value in sup.items():
        if keyword in HANDLED or keyword in NON_CONSTRAINING or keyword.startswith("x-"):
            continue
        if canonical_json(sub.get(keyword)) != canonical_json(value):
            checker.report((*path, keyword), f"'{keyword}' changed; it could not be proven "
                                             "compatible", proven=False, subject=path)
