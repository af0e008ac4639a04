"""The event policy: which status changes become Kubernetes Events, and of which type.

A transition of a condition's status or reason is worth an Event, as
`kubectl describe` users expect; a condition written for the first time in an
ordinary state is not (every new ToolService would otherwise announce that it
is not degraded, or warn that its pods are still starting). States a user must
act on are Warnings. While a rollout reports its own transitions
(`rollout.canary.Decision.events`), the conditions it wrote raise no second
event.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionType
from toolfleet.status.conditions import find, transitions


class EventType(StrEnum):
    """The two Event types core/v1 defines."""

    normal = "Normal"
    warning = "Warning"


@dataclass(frozen=True)
class Event:
    """An Event to record on the object: type, CamelCase reason, message."""

    type: EventType
    reason: str
    message: str


# Condition states a user must act on.
WARNINGS = frozenset({(ConditionType.ready, "False"), (ConditionType.degraded, "True"),
                      (ConditionType.schedulable, "False"),
                      (ConditionType.rollout_healthy, "False"),
                      (ConditionType.within_tool_limits, "False")})
# First states too ordinary for any event.
QUIET_FIRST = frozenset({(ConditionType.degraded, "False"), (ConditionType.progressing, "True"),
                         (ConditionType.progressing, "False"),
                         (ConditionType.rollout_healthy, "True"),
                         (ConditionType.within_tool_limits, "True")})
# First states with these reasons are too: a new service's pods starting is no
# trouble (a Warning for every new ToolService taught users to skip Warnings).
# Pods that cannot start say so through Degraded or Schedulable; a readiness
# probe that never passes, only once the Deployment's progress deadline (600 s
# by default) makes it ProgressDeadlineExceeded.
QUIET_FIRST_REASONS = frozenset({(ConditionType.ready, "False", "ReplicasNotReady")})
# Conditions the rollout reports through its own events when it has any.
ROLLOUT_CONDITIONS = frozenset({ConditionType.progressing, ConditionType.degraded,
                                ConditionType.rollout_healthy})


def condition_events(before: Sequence[Condition], after: Sequence[Condition], *,
                     rollout_said: Collection[tuple[str, str]] = ()) -> list[Event]:
    """Events for the conditions that changed from `before` to `after`, in `after`'s order.

    `rollout_said`: (type, reason) of the conditions the rollout wrote this
    reconcile, whenever it has a rollout or events to report; those add none
    (its own events speak for its transitions). The same condition types
    with a reason of their own (Degraded InvalidTools or ApplyFailed beside a
    rollout's RevisionDeployed) still do.
    """
    events = []
    for cond in transitions(before, after):
        if cond.type in ROLLOUT_CONDITIONS and (cond.type, cond.reason) in rollout_said:
            continue
        first = find(before, cond.type) is None
        if first and ((cond.type, cond.status) in QUIET_FIRST
                      or (cond.type, cond.status, cond.reason) in QUIET_FIRST_REASONS):
            continue
        kind = EventType.warning if (cond.type, cond.status) in WARNINGS else EventType.normal
        message = f"{cond.type}={cond.status}: {cond.message}".rstrip(": ")
        events.append(Event(kind, cond.reason, message))
    return events
