"""Conditions per the Kubernetes API conventions, set without churning timestamps."""

from __future__ import annotations

from collections.abc import Sequence

from toolfleet.api.common import Condition


def set_condition(conditions: Sequence[Condition], new: Condition) -> list[Condition]:
    """`conditions` with `new` in place of its type.

    lastTransitionTime moves only when the status changes, so a reconcile that
    observes nothing new produces a status equal to the stored one, and writes nothing.
    """
    out: list[Condition] = []
    replaced = False
    for old in conditions:
        if old.type != new.type:
            out.append(old)
            continue
        replaced = True
        if old.status == new.status:
            out.append(new.model_copy(update={"last_transition_time": old.last_transition_time}))
        else:
            out.append(new)
    if not replaced:
        out.append(new)
    return out


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of that type, if present."""
    return next((c for c in conditions if c.type == type_), None)


def transitions(before: Sequence[Condition], after: Sequence[Condition]) -> list[Condition]:
    """Conditions in `after` whose status or reason differs from `before`."""
    changed = []
    for cond in after:
        old = find(before, cond.type)
        if old is None or old.status != cond.status or old.reason != cond.reason:
            changed.append(cond)
    return changed
