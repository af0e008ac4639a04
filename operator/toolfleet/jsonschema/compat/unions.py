"""A sub that must fit a union of the sup: `anyOf` (some branch) and `oneOf`
(exactly one branch, JSON Schema 2020-12 Core §10.2.1.3).

Each part of the sub is tried against every branch on a forked checker; one
clean trial proves the part fits. When none is clean, the branches the part
cannot share a value with are ruled out: one left means its differences are the
break, none left means the part lost every branch, several means the checker
cannot tell which branch callers rely on (an unproven difference). For `oneOf`,
branches the change introduced are also checked for overlapping a branch the
part fits, since a value matching two branches is rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from toolfleet.jsonschema.canonical import canonical_json
from toolfleet.jsonschema.compat.messages import values_shown
from toolfleet.jsonschema.compat.sets import Unprovable, disjoint, split_by_type
from toolfleet.jsonschema.compat.values import Schema
from toolfleet.jsonschema.paths import Path

if TYPE_CHECKING:
    from toolfleet.jsonschema.compat.checker import Checker


def cover(checker: Checker, part: Schema, branches: list[Any], keyword: str, path: Path,
          depth: int, known: set[str]) -> None:
    """The sub `part` must fit some branch of the sup union (and, for oneOf, only one).

    `known` holds the canonical JSON of branches the sub had too: overlaps among
    those predate the change and are not reported.
    """
    if isinstance(part, dict):
        pieces = split_by_type(part)
        if len(pieces) > 1:
            for piece in pieces:
                cover(checker, piece, branches, keyword, path, depth, known)
            return
    trials: list[Checker] = []
    for index, branch in enumerate(branches):
        trial = checker.fork()
        trial.check(part, branch, (*path, index), depth + 1)
        trials.append(trial)
    fits = [i for i, trial in enumerate(trials) if not trial.differences]
    subject = path[:-1]
    if keyword == "oneOf":
        _check_exclusive(checker, part, branches, fits, path, known)
    if fits:
        return
    try:
        candidates = [i for i, branch in enumerate(branches)
                      if not disjoint(part, checker.sub_root, branch, checker.sup_root, depth)]
    except Unprovable:
        candidates = list(range(len(branches)))
    shown = values_shown(part)
    if not candidates:
        checker.report(path, checker.pick(f"no longer accepts {shown} (no {keyword} branch does)",
                                          f"may now be {shown}, which no old {keyword} branch "
                                          "allowed"), subject=subject)
    elif len(candidates) == 1:
        checker.differences.extend(trials[candidates[0]].differences)
    else:
        checker.report(path, f"value {shown} could not be proven to fit any {keyword} branch",
                       proven=False, subject=subject)


def _check_exclusive(checker: Checker, part: Schema, branches: list[Any], fits: list[int],
                     path: Path, known: set[str]) -> None:
    """oneOf rejects a value that matches two branches: flag overlaps the change made."""
    def is_new(i: int) -> bool:
        return canonical_json(branches[i]) not in known

    subject = path[:-1]
    shown = values_shown(part)
    if len(fits) > 1 and any(is_new(i) for i in fits):
        listed = " and ".join(map(str, fits))
        checker.report(path, checker.pick(
            f"now rejects {shown}: they match oneOf branches {listed} at once",
            f"may now be {shown}, which match oneOf branches {listed} at once"),
            subject=subject)
        return
    for i in fits:
        for j, branch in enumerate(branches):
            if j == i or not (is_new(i) or is_new(j)):
                continue
            try:
                if disjoint(part, checker.sub_root, branch, checker.sup_root, 0):
                    continue
            except Unprovable:
                pass
            # Branch j inside both the part and branch i: its values match twice.
            proven = (checker.proves_within(branch, checker.sup_root, part, checker.sub_root)
                      and checker.proves_within(branch, checker.sup_root, branches[i],
                                                checker.sup_root))
            detail = checker.pick(
                f"now rejects some {shown}: they match oneOf branches {i} and {j} at once",
                f"may now be {shown} that match oneOf branches {i} and {j} at once")
            if not proven:
                detail = (f"{shown} may match oneOf branches {i} and {j} at once, which "
                          "oneOf rejects; it could not be proven compatible")
            checker.report((*path, j), detail, proven=proven, subject=subject)
