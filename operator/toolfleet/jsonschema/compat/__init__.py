"""Whether a new revision's tool schemas still serve the callers of the stable one.

Two directions, because a tool's two schemas face callers differently:

- **input** (`inputSchema`): the caller writes, the tool reads. The change is
  breaking when the new schema rejects some value the old one accepted: a new
  required property, a narrowed type or enum, a tightened bound, a closed
  `additionalProperties`, a removed `anyOf` branch. The check asks: is every
  value valid under the old schema valid under the new one?
- **output** (`outputSchema`): the tool writes, the caller reads. The change is
  breaking when a caller may lose something it reads or meet something it did
  not expect: a removed property, a required property made optional, a widened
  type, bound or enum. The check asks the same question the other way round
  (is every value the new schema allows valid under the old one?), and in
  addition reports every output property the old schema declared and the new
  one no longer does.

One deliberate leniency: a property that an *open* schema (no
`additionalProperties`) did not declare is not part of the contract, so
declaring it later is not a break. Without it every added optional input
property would count as breaking, which no tool author expects.

The checker is sound where it can be and honest where it cannot: keywords whose
effect it cannot compare (`not`, `if`/`then`/`else`, `dependentSchemas`,
`$dynamicRef`, `unevaluatedProperties`, ...) are reported as possible breaks
with `proven=False` when they differ, and so are changed `oneOf` sets whose
branches might overlap. Enumerated values (`enum`, `const`, `boolean`, `null`)
are decided exactly, by validating each old value against the new schema.
Local `$ref`s (`#/$defs/...`, `#/definitions/...`, `#`) are resolved, recursion
included; other references are reported as unprovable.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Literal
from urllib.parse import unquote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from referencing.exceptions import Unresolvable

from toolfleet.api.toolservice import Tool

Schema = bool | dict[str, Any]
"""A JSON Schema node: an object, or true (anything) / false (nothing)."""

SchemaKind = Literal["input", "output", "tool"]

# How deep the checker follows nested and recursive schemas before giving up
# (and saying so): tool schemas are rarely deeper than a handful of levels.
MAX_DEPTH = 48
# Longest rendering of a value or schema inside a message.
SUMMARY_LENGTH = 80

_Path = tuple[str | int, ...]

# Keywords that never constrain a value.
_ANNOTATIONS = frozenset({
    "title", "description", "default", "examples", "$comment", "deprecated", "readOnly",
    "writeOnly", "$schema", "$id", "$anchor", "$dynamicAnchor", "$vocabulary", "$defs",
    "definitions", "contentMediaType", "contentEncoding",
})
# Keywords this module compares; any other constraining keyword that differs is
# reported as a possible break.
_HANDLED = frozenset({
    "type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "multipleOf", "minLength", "maxLength", "pattern", "format", "items", "prefixItems",
    "additionalItems", "minItems", "maxItems", "uniqueItems", "properties", "required",
    "additionalProperties", "patternProperties", "minProperties", "maxProperties", "anyOf",
    "oneOf", "allOf", "$ref",
})
_ALL_TYPES = ("null", "boolean", "object", "array", "number", "string")
_ORDER = {t: i for i, t in enumerate(("null", "boolean", "object", "array", "integer", "number",
                                      "string"))}


def _type_order(name: str) -> int:
    return _ORDER.get(name, len(_ORDER))
_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True)
class Incompatibility:
    """One way a new revision may break callers of the stable one."""

    tool: str
    """The tool's name ("" from the schema-level functions, which know no tool)."""
    schema: SchemaKind
    """input, output, or tool (the tool itself was removed)."""
    path: str
    """JSON path of the keyword in the schema, e.g. `$.properties.filters.items.enum`."""
    message: str
    """A sentence for status conditions and events."""
    proven: bool = True
    """False when the change could not be proven compatible rather than proven breaking."""


def compare_tool_schemas(old_tools: Sequence[Tool], new_tools: Sequence[Tool],
                         ) -> list[Incompatibility]:
    """Every way `new_tools` may break callers of `old_tools`; empty when compatible.

    Tools are matched by name. A removed tool is breaking; an added tool is not.
    """
    new_by_name = {tool.name: tool for tool in new_tools}
    found: list[Incompatibility] = []
    for old in old_tools:
        new = new_by_name.get(old.name)
        if new is None:
            found.append(Incompatibility(
                tool=old.name, schema="tool", path="$",
                message=f"tool '{old.name}' was removed; callers of it would fail",
            ))
            continue
        changes = [
            *compare_input_schema(_input_schema(old), _input_schema(new)),
            *compare_output_schema(old.output_schema, new.output_schema),
        ]
        found.extend(
            replace(change, tool=old.name, message=f"tool '{old.name}': {change.message}")
            for change in changes
        )
    return found


def is_compatible(old_tools: Sequence[Tool], new_tools: Sequence[Tool]) -> bool:
    """Whether `new_tools` serves every caller of `old_tools`: no incompatibility, even unproven."""
    return not compare_tool_schemas(old_tools, new_tools)


def compare_input_schema(old: Schema, new: Schema, path: str = "$") -> list[Incompatibility]:
    """Ways the `new` input schema rejects values the `old` one accepted.

    `path` prefixes the JSON paths in the result, for a schema nested in a larger document.
    """
    checker = _Checker(_Direction.input, sub_root=old, sup_root=new)
    checker.check(old, new, ())
    return checker.incompatibilities(path)


def compare_output_schema(old: Schema | None, new: Schema | None, path: str = "$",
                          ) -> list[Incompatibility]:
    """Ways the `new` output schema may give callers less, or other, than the `old` one.

    No old schema promised nothing, so anything new is compatible; dropping the
    schema is breaking, since callers lose the structure they read.
    """
    if old is None:
        return []
    if new is None:
        return [Incompatibility(
            tool="", schema="output", path=path,
            message="output schema was removed; callers reading structured results would lose "
                    "them",
        )]
    checker = _Checker(_Direction.output, sub_root=new, sup_root=old)
    checker.check(new, old, ())
    return checker.incompatibilities(path)


def _input_schema(tool: Tool) -> dict[str, Any]:
    # InputSchema keeps the user's keywords as extra fields, spelled as written.
    return tool.input_schema.model_dump(mode="json", by_alias=True)


class _Direction(Enum):
    # input: sub = old, sup = new (new must accept all old accepted).
    # output: sub = new, sup = old (old readers must accept all new produces).
    input = "input"
    output = "output"


@dataclass(frozen=True)
class _Finding:
    path: _Path
    subject: _Path
    detail: str
    proven: bool


class _Unprovable(Exception):
    """A reference or construct the checker cannot follow."""


class _Checker:
    """Checks that every value valid under `sub` is valid under `sup`, with messages."""

    def __init__(self, direction: _Direction, sub_root: Schema, sup_root: Schema) -> None:
        self.direction = direction
        self.sub_root = sub_root
        self.sup_root = sup_root
        self.findings: list[_Finding] = []
        # Pairs being compared further up the stack: meeting one again means a
        # recursive schema, assumed compatible (the rest of the check decides).
        self._active: set[tuple[str, str]] = set()
        self._validators: dict[int, Any] = {}

    def fork(self) -> _Checker:
        """A checker for a trial comparison whose findings may be discarded."""
        child = _Checker(self.direction, self.sub_root, self.sup_root)
        child._active = set(self._active)
        child._validators = self._validators
        return child

    def incompatibilities(self, prefix: str) -> list[Incompatibility]:
        """The findings as Incompatibility records, duplicates dropped, in order found."""
        seen: set[tuple[str, str]] = set()
        result: list[Incompatibility] = []
        for finding in self.findings:
            path = prefix + _render_path(finding.path)
            message = f"{self.direction.value} {_subject(finding.subject)} {finding.detail}"
            if (path, message) in seen:
                continue
            seen.add((path, message))
            result.append(Incompatibility(tool="", schema=self.direction.value, path=path,
                                          message=message, proven=finding.proven))
        return result

    # -- reporting helpers -------------------------------------------------

    def report(self, path: _Path, detail: str, *, proven: bool = True,
               subject: _Path | None = None) -> None:
        self.findings.append(_Finding(path, path if subject is None else subject, detail, proven))

    def pick(self, for_input: str, for_output: str) -> str:
        return for_input if self.direction is _Direction.input else for_output

    def old_new(self, sub_value: Any, sup_value: Any) -> tuple[Any, Any]:
        if self.direction is _Direction.input:
            return sub_value, sup_value
        return sup_value, sub_value

    # -- the comparison ----------------------------------------------------

    def check(self, sub: Any, sup: Any, path: _Path, depth: int = 0) -> None:
        """Report where a value valid under `sub` may be invalid under `sup`."""
        if depth > MAX_DEPTH:
            self.report(path, "is nested or recursive too deeply to be checked; it could not be "
                              "proven compatible", proven=False)
            return
        key = _cycle_key(sub, sup)
        if key is not None:
            if key in self._active:
                return
            self._active.add(key)
        try:
            self._check(sub, sup, path, depth)
        finally:
            if key is not None:
                self._active.discard(key)

    def _check(self, sub_node: Any, sup_node: Any, path: _Path, depth: int) -> None:
        try:
            sub = _resolve(sub_node, self.sub_root)
            sup = _resolve(sup_node, self.sup_root)
        except _Unprovable as err:
            self.report(path, f"{err}; it could not be proven compatible", proven=False)
            return
        if _is_anything(sup) or sub is False:
            return
        if sup is False:
            self.report(path, self.pick("is no longer accepted at all",
                                        "may now be present although the old schema forbade it"))
            return
        sub_d: dict[str, Any] = {} if sub is True else dict(sub)
        sup_d: dict[str, Any] = dict(sup)
        if _canon(sub_d) == _canon(sup_d) and not _has_ref(sub_d) and not _has_ref(sup_d):
            return  # identical and self-contained: nothing can differ

        # allOf on the sup side is a conjunction: the sub must fit every part.
        if "allOf" in sup_d:
            for index, part in enumerate(_list(sup_d.pop("allOf"))):
                self.check(sub_d, part, (*path, "allOf", index), depth + 1)
        if "allOf" in sub_d:
            try:
                folded = _fold_all_of(sub_d, self.sub_root)
            except _Unprovable as err:
                self.report(path, f"{err}; it could not be proven compatible", proven=False)
                return
            if folded is False:
                return
            sub_d = folded if isinstance(folded, dict) else {}

        values = _finite_values(sub_d)
        if values is not None:
            self._check_values(values, sub_d, sup_d, path)
            return

        sup_unions = [(kw, _list(sup_d.pop(kw))) for kw in ("anyOf", "oneOf") if kw in sup_d]
        sub_union = next((kw for kw in ("anyOf", "oneOf") if kw in sub_d), None)
        if sub_union is not None:
            base = {k: v for k, v in sub_d.items() if k != sub_union}
            parts: list[Schema] = []
            for branch in _list(sub_d[sub_union]):
                try:
                    parts.append(_merge(base, _resolve(branch, self.sub_root)))
                except _Unprovable as err:
                    self.report(path, f"{err}; it could not be proven compatible", proven=False)
            for kw, branches in sup_unions:
                known = {_canon(b) for b in _list(sub_d[sub_union])} if kw == sub_union else set()
                for part in parts:
                    self._cover(part, branches, kw, (*path, kw), depth, known)
            for part in parts:
                self.check(part, sup_d, path, depth + 1)
            return
        for kw, branches in sup_unions:
            self._cover(sub_d, branches, kw, (*path, kw), depth, set())

        kept = self._check_type(sub_d, sup_d, path)
        self._check_enum(sub_d, sup_d, path)
        if "number" in kept or "integer" in kept:
            self._check_numbers(sub_d, sup_d, path, integer_only="number" not in kept)
        if "string" in kept:
            self._check_counts(sub_d, sup_d, path, "minLength", "maxLength")
            self._check_exact(sub_d, sup_d, path, "pattern")
            self._check_exact(sub_d, sup_d, path, "format")
        if "array" in kept:
            self._check_array(sub_d, sup_d, path, depth)
        if "object" in kept:
            self._check_object(sub_d, sup_d, path, depth)
        self._check_opaque(sub_d, sup_d, path)

    def _check_values(self, values: list[Any], sub: dict[str, Any], sup: dict[str, Any],
                      path: _Path) -> None:
        """Decide exactly for a finite sub: each of its values must validate against sup."""
        rejected: dict[_Path, list[Any]] = {}
        try:
            sub_validator = self._validator(self.sub_root, sub)
            sup_validator = self._validator(self.sup_root, sup)
            for value in values:
                if not sub_validator.is_valid(value):
                    continue  # listed but never valid: not a value anyone could send
                error = best_match(sup_validator.iter_errors(value))
                if error is None:
                    continue
                where = tuple(seg for seg in error.relative_schema_path if seg != "$ref")
                rejected.setdefault((*path, *where), []).append(value)
        except (SchemaError, Unresolvable, re.error) as err:
            self.report(path, f"could not be validated ({_first_line(err)}); it could not be "
                              "proven compatible", proven=False)
            return
        for where, lost in rejected.items():
            shown = ", ".join(_summary(v) for v in lost)
            self.report(where, self.pick(f"no longer accepts {shown}", f"may now be {shown}"),
                        subject=path)

    def _cover(self, part: Schema, branches: list[Any], keyword: str, path: _Path, depth: int,
               known: set[str]) -> None:
        """The sub `part` must fit some branch of the sup union (and, for oneOf, only one)."""
        if isinstance(part, dict):
            pieces = _split_by_type(part)
            if len(pieces) > 1:
                for piece in pieces:
                    self._cover(piece, branches, keyword, path, depth, known)
                return
        trials: list[_Checker] = []
        for index, branch in enumerate(branches):
            trial = self.fork()
            trial.check(part, branch, (*path, index), depth + 1)
            trials.append(trial)
        fits = [i for i, trial in enumerate(trials) if not trial.findings]
        subject = path[:-1]
        if keyword == "oneOf":
            self._check_exclusive(part, branches, fits, path, known)
        if fits:
            return
        try:
            candidates = [i for i, branch in enumerate(branches)
                          if not _disjoint(part, self.sub_root, branch, self.sup_root, depth)]
        except _Unprovable:
            candidates = list(range(len(branches)))
        shown = _summary(part) if _is_type_only(part) else f"values matching {_summary(part)}"
        if not candidates:
            self.report(path, self.pick(f"no longer accepts {shown} (no {keyword} branch does)",
                                        f"may now be {shown}, which no old {keyword} branch "
                                        "allowed"), subject=subject)
        elif len(candidates) == 1:
            self.findings.extend(trials[candidates[0]].findings)
        else:
            self.report(path, f"value {shown} could not be proven to fit any {keyword} branch",
                        proven=False, subject=subject)

    def _check_exclusive(self, part: Schema, branches: list[Any], fits: list[int], path: _Path,
                         known: set[str]) -> None:
        """oneOf rejects a value that matches two branches: flag overlaps the change made."""
        def is_new(i: int) -> bool:
            return _canon(branches[i]) not in known

        subject = path[:-1]
        shown = _summary(part) if _is_type_only(part) else f"values matching {_summary(part)}"
        if len(fits) > 1 and any(is_new(i) for i in fits):
            listed = " and ".join(map(str, fits))
            self.report(path, self.pick(
                f"now rejects {shown}: they match oneOf branches {listed} at once",
                f"may now be {shown}, which match oneOf branches {listed} at once"),
                subject=subject)
            return
        for i in fits:
            for j, branch in enumerate(branches):
                if j == i or not (is_new(i) or is_new(j)):
                    continue
                try:
                    if _disjoint(part, self.sub_root, branch, self.sup_root, 0):
                        continue
                except _Unprovable:
                    pass
                # Branch j inside both the part and branch i: its values match twice.
                proven = (_within(branch, self.sup_root, part, self.sub_root)
                          and _within(branch, self.sup_root, branches[i], self.sup_root))
                detail = self.pick(
                    f"now rejects some {shown}: they match oneOf branches {i} and {j} at once",
                    f"may now be {shown} that match oneOf branches {i} and {j} at once")
                if not proven:
                    detail = (f"{shown} may match oneOf branches {i} and {j} at once, which "
                              "oneOf rejects; it could not be proven compatible")
                self.report((*path, j), detail, proven=proven, subject=subject)

    def _check_type(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path) -> set[str]:
        """Report types the sub allows and the sup does not; return the types both allow."""
        sub_types = _types(sub)
        sup_types = _types(sup)
        allowed = set(_ALL_TYPES) if sub_types is None else set(sub_types)
        lost = sorted((t for t in allowed if not _type_accepts(sup_types, t)), key=_type_order)
        if lost:
            old, new = self.old_new(_type_text(sub_types), _type_text(sup_types))
            if sub_types is None:
                detail = self.pick(f"now must be {new} (any type was accepted)",
                                   f"may now be any type (was {old})")
            else:
                detail = self.pick(f"no longer accepts {' or '.join(lost)} (type narrowed from "
                                   f"{old} to {new})",
                                   f"may now be {' or '.join(lost)} (type widened from {old} to "
                                   f"{new})")
            self.report((*path, "type"), detail, subject=path)
        return {t for t in allowed if _type_accepts(sup_types, t)} | (
            {"integer"} if "number" in allowed and _type_accepts(sup_types, "integer") else set()
        )

    def _check_enum(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path) -> None:
        # Only reached when the sub is not finite, so any sup enum narrows it.
        for keyword in ("const", "enum"):
            if keyword not in sup:
                continue
            listed = [sup["const"]] if keyword == "const" else _list(sup["enum"])
            shown = ", ".join(_summary(v) for v in listed)
            self.report((*path, keyword), self.pick(f"is now limited to {shown}",
                                                    f"is no longer limited to {shown}"),
                        subject=path)
            return

    def _check_numbers(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path, *,
                       integer_only: bool) -> None:
        for side in ("minimum", "maximum"):
            sub_bound = _bound(sub, side)
            sup_bound = _bound(sup, side)
            if sup_bound is None:
                continue
            if sub_bound is not None and _bound_within(sub_bound, sup_bound, side, integer_only):
                continue
            keyword = _bound_keyword(sup, side)
            old, new = self.old_new(sub_bound, sup_bound)
            self.report((*path, keyword), _bound_change(side, old, new), subject=path)
        divisor = sup.get("multipleOf")
        if isinstance(divisor, int | float) and not isinstance(divisor, bool) and divisor > 0:
            mine = sub.get("multipleOf")
            if integer_only and mine is None:
                mine = 1
            if not (isinstance(mine, int | float) and _is_multiple(mine, divisor)):
                old, new = self.old_new(sub.get("multipleOf"), divisor)
                self.report((*path, "multipleOf"), _keyword_change("multipleOf", old, new),
                            subject=path)

    def _check_counts(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path, low: str,
                      high: str) -> None:
        sub_low, sup_low = _count(sub.get(low)), _count(sup.get(low))
        if sup_low is not None and sup_low > (sub_low or 0):
            old, new = self.old_new(sub_low, sup_low)
            self.report((*path, low), _keyword_change(low, old, new), subject=path)
        sub_high, sup_high = _count(sub.get(high)), _count(sup.get(high))
        if sup_high is not None and (sub_high is None or sub_high > sup_high):
            old, new = self.old_new(sub_high, sup_high)
            self.report((*path, high), _keyword_change(high, old, new), subject=path)

    def _check_exact(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path,
                     keyword: str) -> None:
        """Keywords whose values cannot be ordered (pattern, format): any change narrows."""
        if keyword in sup and _canon(sub.get(keyword)) != _canon(sup[keyword]):
            old, new = self.old_new(sub.get(keyword), sup[keyword])
            self.report((*path, keyword), _keyword_change(keyword, old, new), subject=path)

    def _check_array(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path,
                     depth: int) -> None:
        sub_prefix, sub_items = _array_parts(sub)
        sup_prefix, sup_items = _array_parts(sup)
        for index in range(max(len(sub_prefix), len(sup_prefix))):
            mine = sub_prefix[index] if index < len(sub_prefix) else sub_items
            theirs = sup_prefix[index] if index < len(sup_prefix) else sup_items
            if mine is False or _is_anything(theirs):
                continue
            self.check(mine, theirs, (*path, "prefixItems", index), depth + 1)
        if not _is_anything(sup_items) and sub_items is not False:
            self.check(sub_items, sup_items, (*path, "items"), depth + 1)
        self._check_counts(sub, sup, path, "minItems", "maxItems")
        if sup.get("uniqueItems") is True and sub.get("uniqueItems") is not True:
            self.report((*path, "uniqueItems"), self.pick("now requires unique items",
                                                          "may now contain duplicate items"),
                        subject=path)

    def _check_object(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path,
                      depth: int) -> None:
        sub_props = _mapping(sub.get("properties"))
        sup_props = _mapping(sup.get("properties"))
        # Differing patternProperties on the sup side cannot be compared name by
        # name; without them, the sub's patterned names fall to additionalProperties.
        patterns_same = _canon(sub.get("patternProperties")) == _canon(sup.get("patternProperties"))
        patterns_opaque = not patterns_same and "patternProperties" in sup
        if patterns_opaque:
            self.report((*path, "patternProperties"), "patternProperties changed; it could not "
                        "be proven compatible", proven=False, subject=path)
        for name in sorted(set(sub_props) | set(sup_props)):
            where = (*path, "properties", name)
            if name in sub_props and name in sup_props:
                self.check(sub_props[name], sup_props[name], where, depth + 1)
            elif name in sup_props and self.direction is _Direction.output:
                self.report(where, "was removed; callers reading it would miss it")
            elif name in sub_props:
                target = self._additional_for(sup, name, where)
                if target is False:
                    self.report(where, self.pick(
                        "was removed and additional properties are not allowed",
                        "was added but the old schema allowed no other properties"))
                elif not _is_anything(target):
                    self.check(sub_props[name], target, where, depth + 1)
            else:
                source = self._additional_for(sub, name, where)
                # An open schema did not promise anything about an undeclared name.
                if isinstance(source, dict) and source:
                    self.check(source, sup_props[name], where, depth + 1)
        self._check_required(sub, sup, sub_props, sup_props, path)
        sup_extra = sup.get("additionalProperties", True)
        if not patterns_opaque and not _is_anything(sup_extra):
            sub_extra = sub.get("additionalProperties", True)
            extra_path = (*path, "additionalProperties")
            if sup_extra is False:
                if sub_extra is not False:
                    self.report(extra_path, self.pick("no longer allows additional properties",
                                                      "may now include additional properties"),
                                subject=path)
            else:
                self.check(sub_extra, sup_extra, extra_path, depth + 1)
            if not patterns_same:
                for pattern, schema in _mapping(sub.get("patternProperties")).items():
                    if sup_extra is False:
                        self.report(extra_path, self.pick(
                            f"no longer allows properties matching '{pattern}'",
                            f"may now include properties matching '{pattern}'"), subject=path)
                    else:
                        self.check(schema, sup_extra, extra_path, depth + 1)
        self._check_counts(sub, sup, path, "minProperties", "maxProperties")

    def _check_required(self, sub: dict[str, Any], sup: dict[str, Any],
                        sub_props: Mapping[str, Any], sup_props: Mapping[str, Any],
                        path: _Path) -> None:
        sub_required = {n for n in _list(sub.get("required")) if isinstance(n, str)}
        for name in _list(sup.get("required")):
            if not isinstance(name, str) or name in sub_required:
                continue
            subject = (*path, "properties", name)
            if self.direction is _Direction.input:
                detail = "became required" if name in sub_props else "is a new required property"
            elif name in sup_props and name not in sub_props:
                continue  # reported as removed
            else:
                detail = "became optional; callers may find it missing"
            self.report((*path, "required"), detail, subject=subject)

    def _additional_for(self, schema: dict[str, Any], name: str, where: _Path) -> Any:
        """What `schema` says about a property it does not declare (None: nothing)."""
        matched: list[Any] = []
        for pattern, sub_schema in _mapping(schema.get("patternProperties")).items():
            try:
                if re.search(pattern, name):
                    matched.append(sub_schema)
            except re.error:
                self.report(where, f"patternProperties pattern '{pattern}' could not be read; it "
                                   "could not be proven compatible", proven=False)
        if matched:
            return matched[0] if len(matched) == 1 else {"allOf": matched}
        return schema.get("additionalProperties")

    def _check_opaque(self, sub: dict[str, Any], sup: dict[str, Any], path: _Path) -> None:
        """Keywords the checker cannot reason about: a difference may be a break."""
        for keyword, value in sup.items():
            if keyword in _HANDLED or keyword in _ANNOTATIONS or keyword.startswith("x-"):
                continue
            if _canon(sub.get(keyword)) != _canon(value):
                self.report((*path, keyword), f"'{keyword}' changed; it could not be proven "
                                              "compatible", proven=False, subject=path)

    def _validator(self, root: Schema, node: dict[str, Any]) -> Any:
        base = self._validators.get(id(root))
        if base is None:
            base = Draft202012Validator(root)
            self._validators[id(root)] = base
        return base.evolve(schema=node)


# -- schema helpers (pure) ------------------------------------------------


def _resolve(node: Any, root: Schema) -> Any:
    """Follow local `$ref`s; a ref with sibling keywords becomes an allOf of both."""
    for _ in range(MAX_DEPTH):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        target = _lookup(root, node["$ref"])
        siblings = {k: v for k, v in node.items() if k != "$ref" and k not in _ANNOTATIONS}
        if siblings:
            return {"allOf": [target, siblings]}
        node = target
    raise _Unprovable("has a $ref chain that never ends")


def _lookup(root: Schema, ref: Any) -> Any:
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise _Unprovable(f"uses $ref {ref!r}, which is not a local reference")
    pointer = unquote(ref[1:])
    if pointer == "":
        return root
    if not pointer.startswith("/"):
        raise _Unprovable(f"uses $ref {ref!r}, an anchor the checker does not follow")
    node: Any = root
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _Unprovable(f"uses $ref {ref!r}, which points nowhere")
    return node


def _within(inner: Any, inner_root: Schema, outer: Any, outer_root: Schema) -> bool:
    """Whether every value of `inner` is provably a value of `outer`."""
    checker = _Checker(_Direction.input, sub_root=inner_root, sup_root=outer_root)
    checker.check(inner, outer, ())
    return not checker.findings


def _cycle_key(sub: Any, sup: Any) -> tuple[str, str] | None:
    if (isinstance(sub, dict) and "$ref" in sub) or (isinstance(sup, dict) and "$ref" in sup):
        return _canon(sub), _canon(sup)
    return None


def _fold_all_of(schema: dict[str, Any], root: Schema) -> Schema:
    """Merge a sub-side allOf into one schema that allows at least what it allows."""
    result: Schema = {k: v for k, v in schema.items() if k != "allOf"}
    for part in _list(schema.get("allOf")):
        resolved = _resolve(part, root)
        if isinstance(resolved, dict) and "allOf" in resolved:
            resolved = _fold_all_of(resolved, root)
        result = _merge(result, resolved)
    return result


def _merge(first: Any, second: Any) -> Schema:
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
        if key not in merged or _canon(merged[key]) == _canon(value):
            merged[key] = value
        elif key == "type":
            both = [t for t in _as_types(merged[key]) if _type_accepts(_as_types(value), t)]
            both += [t for t in _as_types(value)
                     if t == "integer" and "number" in _as_types(merged[key])]
            merged[key] = sorted(set(both), key=_type_order)
        elif key == "required":
            merged[key] = sorted({*_list(merged[key]), *_list(value)}, key=str)
        elif key == "enum":
            keep = {_canon(v) for v in _list(value)}
            merged[key] = [v for v in _list(merged[key]) if _canon(v) in keep]
        elif key == "properties":
            props = dict(_mapping(merged[key]))
            for name, schema in _mapping(value).items():
                props[name] = {"allOf": [props[name], schema]} if name in props else schema
            merged[key] = props
        elif key in ("minimum", "minLength", "minItems", "minProperties") and _numbers(
                merged[key], value):
            merged[key] = max(merged[key], value)
        elif key in ("maximum", "maxLength", "maxItems", "maxProperties") and _numbers(
                merged[key], value):
            merged[key] = min(merged[key], value)
        # Any other conflict keeps the first value: dropping a constraint
        # allows more, which is the safe direction here.
    return merged


def _split_by_type(schema: dict[str, Any]) -> list[Schema]:
    """One schema per type it allows, so a union can be matched type by type."""
    if _finite_values(schema) is not None:
        return [schema]
    types = _types(schema)
    if types is None:
        types = _ALL_TYPES
    if len(types) < 2:
        return [schema]
    return [{**schema, "type": t} for t in types]


def _disjoint(first: Any, first_root: Schema, second: Any, second_root: Schema,
              depth: int) -> bool:
    """True when no value can satisfy both schemas (a cheap, sound test)."""
    if depth > MAX_DEPTH:
        return False
    a = _resolve(first, first_root)
    b = _resolve(second, second_root)
    if a is False or b is False:
        return True
    if not isinstance(a, dict) or not isinstance(b, dict):
        return False
    types_a, types_b = _types(a), _types(b)
    if types_a is not None and types_b is not None and not any(
            _type_accepts(types_b, t) or (t == "number" and "integer" in types_b)
            for t in types_a):
        return True
    for values, other, root in ((_finite_values(a), b, second_root),
                                (_finite_values(b), a, first_root)):
        if values is not None:
            try:
                validator = Draft202012Validator(root).evolve(schema=other)
                if not any(validator.is_valid(v) for v in values):
                    return True
            except (SchemaError, Unresolvable, re.error):
                return False
    props_a, props_b = _mapping(a.get("properties")), _mapping(b.get("properties"))
    required_a = set(_list(a.get("required")))
    required_b = set(_list(b.get("required")))
    for name in set(props_a) & set(props_b):
        if (name in required_a or name in required_b) and _disjoint(
                props_a[name], first_root, props_b[name], second_root, depth + 1):
            return True
    return False


def _finite_values(schema: dict[str, Any]) -> list[Any] | None:
    """The values a schema lists outright (const, enum, boolean, null), or None."""
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema and isinstance(schema["enum"], list):
        return list(schema["enum"])
    types = _types(schema)
    if types is not None and set(types) <= {"null", "boolean"}:
        return ([None] if "null" in types else []) + (
            [True, False] if "boolean" in types else [])
    return None


def _types(schema: dict[str, Any]) -> tuple[str, ...] | None:
    if "type" not in schema:
        return None
    return _as_types(schema["type"])


def _as_types(value: Any) -> tuple[str, ...]:
    listed = [value] if isinstance(value, str) else _list(value)
    return tuple(sorted({t for t in listed if isinstance(t, str)}, key=_type_order))


def _type_accepts(types: Iterable[str] | None, value_type: str) -> bool:
    if types is None:
        return True
    allowed = set(types)
    return value_type in allowed or (value_type == "integer" and "number" in allowed)


def _type_text(types: tuple[str, ...] | None) -> str:
    if types is None:
        return "any type"
    return " or ".join(types) if types else "no type"


_Bound = tuple[float, bool]


def _bound(schema: dict[str, Any], side: str) -> _Bound | None:
    """The tightest lower (`minimum`) or upper (`maximum`) bound, as (value, exclusive)."""
    inclusive: Any = schema.get(side)
    exclusive: Any = schema.get("exclusiveMinimum" if side == "minimum" else "exclusiveMaximum")
    bounds: list[_Bound] = []
    if _numbers(inclusive):
        # Draft 4 spelled exclusivity as a boolean beside the bound.
        bounds.append((float(inclusive), exclusive is True))
    if _numbers(exclusive):
        bounds.append((float(exclusive), True))
    if not bounds:
        return None
    if side == "minimum":
        return max(bounds, key=lambda b: (b[0], b[1]))
    return min(bounds, key=lambda b: (b[0], not b[1]))


def _bound_keyword(schema: dict[str, Any], side: str) -> str:
    exclusive = "exclusiveMinimum" if side == "minimum" else "exclusiveMaximum"
    return exclusive if _numbers(schema.get(exclusive)) else side


def _bound_within(inner: _Bound, outer: _Bound, side: str, integer_only: bool) -> bool:
    """Whether every number within `inner` is within `outer` (on one side)."""
    if integer_only:
        inner, outer = _integer_bound(inner, side), _integer_bound(outer, side)
    if side == "minimum":
        return outer[0] < inner[0] or (outer[0] == inner[0] and (not outer[1] or inner[1]))
    return outer[0] > inner[0] or (outer[0] == inner[0] and (not outer[1] or inner[1]))


def _integer_bound(bound: _Bound, side: str) -> _Bound:
    value, exclusive = bound
    if side == "minimum":
        return float(math.floor(value) + 1 if exclusive else math.ceil(value)), False
    return float(math.ceil(value) - 1 if exclusive else math.floor(value)), False


def _bound_change(side: str, old: _Bound | None, new: _Bound | None) -> str:
    def text(bound: _Bound) -> str:
        keyword = side if not bound[1] else (
            "exclusiveMinimum" if side == "minimum" else "exclusiveMaximum")
        return f"{keyword} {_number(bound[0])}"

    if old is None and new is not None:
        return f"gained {text(new)}"
    if new is None and old is not None:
        return f"lost {text(old)}"
    assert old is not None and new is not None
    if old[1] == new[1]:
        verb = "raised" if new[0] > old[0] else "lowered"
        return f"{text(old).split(' ')[0]} {verb} from {_number(old[0])} to {_number(new[0])}"
    return f"{text(old)} became {text(new)}"


def _keyword_change(keyword: str, old: Any, new: Any) -> str:
    if old is None:
        return f"gained {keyword} {_summary(new)}"
    if new is None:
        return f"lost {keyword} {_summary(old)}"
    if _numbers(old, new):
        verb = "raised" if new > old else "lowered"
        return f"{keyword} {verb} from {_summary(old)} to {_summary(new)}"
    return f"{keyword} changed from {_summary(old)} to {_summary(new)}"


def _is_multiple(value: float, divisor: float) -> bool:
    quotient = value / divisor
    return math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9)


def _array_parts(schema: dict[str, Any]) -> tuple[list[Any], Any]:
    """(positional item schemas, schema of the rest) in 2020-12 terms."""
    items = schema.get("items", True)
    if isinstance(items, list):  # draft 2019 and earlier: tuple form
        return items, schema.get("additionalItems", True)
    return _list(schema.get("prefixItems")), items


def _is_anything(schema: Any) -> bool:
    if schema is None or schema is True:
        return True
    return isinstance(schema, dict) and all(k in _ANNOTATIONS for k in schema)


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return any(k in ("$ref", "$dynamicRef", "$recursiveRef") or _has_ref(v)
                   for k, v in node.items())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def _canon(value: Any) -> str:
    # JSON text tells true from 1, which Python's == does not.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _count(value: Any) -> int | None:
    return int(value) if _numbers(value) else None


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _summary(value: Any) -> str:
    if _is_type_only(value):
        return _type_text(_as_types(value["type"]))
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 3] + "..."


def _is_type_only(schema: Any) -> bool:
    return isinstance(schema, dict) and set(schema) == {"type"}


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def _render_path(path: _Path) -> str:
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _IDENTIFIER.match(segment):
            out += f".{segment}"
        else:
            out += "[" + json.dumps(segment) + "]"
    return out


def _subject(path: _Path) -> str:
    """A reader's name for the node at `path`: `filters[].op` for a nested property."""
    out = ""
    index = 0
    while index < len(path):
        segment = path[index]
        following = path[index + 1] if index + 1 < len(path) else None
        if segment == "properties" and following is not None:
            out += ("." if out else "") + str(following)
            index += 2
            continue
        if segment == "prefixItems" and following is not None:
            out += f"[{following}]"
            index += 2
            continue
        if segment in ("anyOf", "oneOf", "allOf", "patternProperties") and following is not None:
            index += 2
            continue
        if segment == "items":
            out += "[]"
        elif segment == "additionalProperties":
            out += ("." if out else "") + "*"
        index += 1
    if not out:
        return "schema"
    return f"element '{out}'" if out.startswith("[") else f"property '{out}'"
