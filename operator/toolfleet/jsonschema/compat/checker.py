"""The checker: does every value valid under one schema (the sub) stay valid
under another (the sup)?

Input and output ask the same question with the schemas in opposite roles (see
`Direction`). The checker resolves references, folds `allOf`, decides
enumerated values exactly with a validator, splits unions branch by branch
(`unions`), and compares the remaining keywords one family at a time
(`keywords`). Every place it cannot decide becomes a Difference with
`proven=False` instead of a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match
from referencing.exceptions import Unresolvable

from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.jsonschema.compat import keywords, unions
from toolfleet.jsonschema.compat.differences import Difference, Direction
from toolfleet.jsonschema.compat.messages import first_line, summary
from toolfleet.jsonschema.compat.sets import (
    MAX_DEPTH,
    Unprovable,
    fold_all_of,
    follow_refs,
    merge,
)
from toolfleet.jsonschema.compat.values import Schema, as_list, finite_values, has_ref, is_anything
from toolfleet.jsonschema.paths import Path


class Checker:
    """Checks that every value valid under `sub` is valid under `sup`, with messages."""

    def __init__(self, direction: Direction, sub_root: Schema, sup_root: Schema) -> None:
        self.direction = direction
        self.sub_root = sub_root
        self.sup_root = sup_root
        self.differences: list[Difference] = []
        # Pairs being compared further up the stack: meeting one again means a
        # recursive schema, assumed compatible (the rest of the check decides).
        self._active: set[tuple[str, str]] = set()
        self._validators: dict[int, Any] = {}

    def fork(self) -> Checker:
        """A checker for a trial comparison whose differences may be discarded."""
        child = Checker(self.direction, self.sub_root, self.sup_root)
        child._active = set(self._active)
        child._validators = self._validators
        return child

    # -- reporting helpers -------------------------------------------------

    def report(self, path: Path, detail: str, *, proven: bool = True,
               subject: Path | None = None) -> None:
        """Record a difference at `path`, about the node at `subject` (default: `path`)."""
        self.differences.append(
            Difference(path, path if subject is None else subject, detail, proven))

    def pick(self, for_input: str, for_output: str) -> str:
        """The wording that fits the direction."""
        return for_input if self.direction is Direction.input else for_output

    def old_new(self, sub_value: Any, sup_value: Any) -> tuple[Any, Any]:
        """A pair of sub and sup values reordered as (old revision's, new revision's)."""
        if self.direction is Direction.input:
            return sub_value, sup_value
        return sup_value, sub_value

    # -- the comparison ----------------------------------------------------

    def check(self, sub: Any, sup: Any, path: Path, depth: int = 0) -> None:
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

    def proves_within(self, inner: Any, inner_root: Schema, outer: Any,
                      outer_root: Schema) -> bool:
        """Whether every value of `inner` is provably a value of `outer`, by a fresh check."""
        trial = Checker(Direction.input, sub_root=inner_root, sup_root=outer_root)
        trial.check(inner, outer, ())
        return not trial.differences

    def validator(self, root: Schema, node: dict[str, Any]) -> Any:
        """A 2020-12 validator of `node`, resolving its references against `root`."""
        base = self._validators.get(id(root))
        if base is None:
            base = Draft202012Validator(root)
            self._validators[id(root)] = base
        return base.evolve(schema=node)

    def _check(self, sub_node: Any, sup_node: Any, path: Path, depth: int) -> None:
        try:
            sub = follow_refs(sub_node, self.sub_root)
            sup = follow_refs(sup_node, self.sup_root)
        except Unprovable as err:
            self.report(path, f"{err}; it could not be proven compatible", proven=False)
            return
        if is_anything(sup) or sub is False:
            return
        if sup is False:
            self.report(path, self.pick("is no longer accepted at all",
                                        "may now be present although the old schema forbade it"))
            return
        sub_d: dict[str, Any] = {} if sub is True else dict(sub)
        sup_d: dict[str, Any] = dict(sup)
        if (canonical_json(sub_d) == canonical_json(sup_d) and not has_ref(sub_d)
                and not has_ref(sup_d)):
            return  # identical and self-contained: nothing can differ

        self._check_sup_all_of(sub_d, sup_d, path, depth)
        folded = self._fold_sub_all_of(sub_d, path)
        if folded is None:
            return
        sub_d = folded

        values = finite_values(sub_d)
        if values is not None:
            self._check_values(values, sub_d, sup_d, path)
            return

        sup_unions = [(kw, as_list(sup_d.pop(kw))) for kw in ("anyOf", "oneOf") if kw in sup_d]
        sub_union = next((kw for kw in ("anyOf", "oneOf") if kw in sub_d), None)
        if sub_union is not None:
            self._check_sub_union(sub_d, sub_union, sup_d, sup_unions, path, depth)
            return
        for kw, branches in sup_unions:
            unions.cover(self, sub_d, branches, kw, (*path, kw), depth, set())
        keywords.check_keywords(self, sub_d, sup_d, path, depth)

    def _check_sup_all_of(self, sub: dict[str, Any], sup: dict[str, Any], path: Path,
                          depth: int) -> None:
        """Check the sub against each part of the sup's allOf, removing it from `sup`.

        allOf on the sup side is a conjunction: the sub must fit every part.
        """
        if "allOf" in sup:
            for index, part in enumerate(as_list(sup.pop("allOf"))):
                self.check(sub, part, (*path, "allOf", index), depth + 1)

    def _fold_sub_all_of(self, sub: dict[str, Any], path: Path) -> dict[str, Any] | None:
        """The sub with its allOf folded in; None when nothing is left to check,
        because it allows no value or could not be folded (which is reported)."""
        if "allOf" not in sub:
            return sub
        try:
            folded = fold_all_of(sub, self.sub_root)
        except Unprovable as err:
            self.report(path, f"{err}; it could not be proven compatible", proven=False)
            return None
        if folded is False:
            return None
        return folded if isinstance(folded, dict) else {}

    def _check_sub_union(self, sub: dict[str, Any], sub_union: str, sup: dict[str, Any],
                         sup_unions: Sequence[tuple[str, list[Any]]], path: Path,
                         depth: int) -> None:
        """A union on the sub side: each of its branches must fit on its own."""
        base = {k: v for k, v in sub.items() if k != sub_union}
        parts: list[Schema] = []
        for branch in as_list(sub[sub_union]):
            try:
                parts.append(merge(base, follow_refs(branch, self.sub_root)))
            except Unprovable as err:
                self.report(path, f"{err}; it could not be proven compatible", proven=False)
        for kw, branches in sup_unions:
            known = ({canonical_json(b) for b in as_list(sub[sub_union])} if kw == sub_union
                     else set())
            for part in parts:
                unions.cover(self, part, branches, kw, (*path, kw), depth, known)
        for part in parts:
            self.check(part, sup, path, depth + 1)

    def _check_values(self, values: list[Any], sub: dict[str, Any], sup: dict[str, Any],
                      path: Path) -> None:
        """Decide exactly for a finite sub: each of its values must validate against sup."""
        rejected: dict[Path, list[Any]] = {}
        try:
            sub_validator = self.validator(self.sub_root, sub)
            sup_validator = self.validator(self.sup_root, sup)
            for value in values:
                if not sub_validator.is_valid(value):
                    continue  # listed but never valid: not a value anyone could send
                error = best_match(sup_validator.iter_errors(value))
                if error is None:
                    continue
                where = tuple(seg for seg in error.relative_schema_path if seg != "$ref")
                rejected.setdefault((*path, *where), []).append(value)
        except (SchemaError, Unresolvable, re.error) as err:
            self.report(path, f"could not be validated ({first_line(err)}); it could not be "
                              "proven compatible", proven=False)
            return
        for where, lost in rejected.items():
            shown = ", ".join(summary(v) for v in lost)
            self.report(where, self.pick(f"no longer accepts {shown}", f"may now be {shown}"),
                        subject=path)


def _cycle_key(sub: Any, sup: Any) -> tuple[str, str] | None:
    """The identity of a comparison that passes through a reference, which may recur."""
    if (isinstance(sub, dict) and "$ref" in sub) or (isinstance(sup, dict) and "$ref" in sup):
        return canonical_json(sub), canonical_json(sup)
    return None
