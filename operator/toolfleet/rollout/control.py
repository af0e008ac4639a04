"""The rollout-control annotation: how a user pauses, resumes, aborts or promotes a canary.

The annotation `toolfleet.io/rollout-control` is valued `<action>:<nonce>`,
e.g. `promote:2024-06-01T12:00:00Z` or `pause:$(date +%s)`. The operator
records the value it applied in `toolfleet.io/rollout-control-applied`, so the
same control is never applied twice; a new nonce repeats an action.

- pause: stops the step's clock; resume continues where the step was.
- resume: continues a paused rollout; after RolledBack or Aborted, it retries
  the same revision from step 0.
- abort: phase Aborted, canary to 0, the stable revision keeps serving. After
  a promotion whose pods are not all ready yet, abort restores the revision
  that served before it.
- promote: promotes the canary now, skipping the remaining steps and analyses
  (but never past a breaking schema change that is not allowed). Refused,
  with a Warning event and the numbers, while the canary has fewer ready
  pods than its step needs.
- promote-force: promote even so.

A control that does not apply to the rollout's phase is recorded and reported
(`why_ignored` says why), not kept for later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from toolfleet.api.conditions import Reason
from toolfleet.api.toolservice import RolloutPhase, RolloutStatus
from toolfleet.rollout.events import RolloutEvent
from toolfleet.rollout.steps import ACTIVE_PHASES

CONTROL_ANNOTATION = "toolfleet.io/rollout-control"
APPLIED_CONTROL_ANNOTATION = "toolfleet.io/rollout-control-applied"


class ControlAction(StrEnum):
    """What a user asks of the current rollout through the control annotation."""

    pause = "pause"
    resume = "resume"
    abort = "abort"
    promote = "promote"
    promote_force = "promote-force"


class ControlError(ValueError):
    """A control annotation that cannot be read; the message says how to write it."""


@dataclass(frozen=True)
class RolloutControl:
    """A parsed control annotation: the action, and the nonce that makes it unique."""

    action: ControlAction
    nonce: str

    @classmethod
    def parse(cls, value: str) -> RolloutControl:
        """Read `<action>:<nonce>`; raise ControlError with the fix when it is malformed.

        The nonce is everything after the first colon, so timestamps keep theirs.
        """
        action, sep, nonce = value.strip().partition(":")
        actions = ", ".join(a.value for a in ControlAction)
        if action not in {a.value for a in ControlAction}:
            raise ControlError(
                f"{CONTROL_ANNOTATION}={value!r}: the action must be one of {actions}, written "
                f"as <action>:<nonce>, e.g. {CONTROL_ANNOTATION}=promote:$(date +%s)")
        if not sep or not nonce.strip():
            raise ControlError(
                f"{CONTROL_ANNOTATION}={value!r}: add a nonce so a repeated control can be told "
                f"apart, e.g. {CONTROL_ANNOTATION}={action}:$(date +%s)")
        return cls(action=ControlAction(action), nonce=nonce.strip())


def why_ignored(action: ControlAction, rollout: RolloutStatus, blocked: bool) -> str | None:
    """Why `action` does not apply to `rollout` as it stands; None when it applies.

    `blocked`: a breaking tool schema change holds the rollout and is not
    allowed. The answer completes "<annotation> <action> ignored: ...".
    """
    phase = rollout.phase
    if action is ControlAction.pause:
        applies = phase == RolloutPhase.progressing.value and rollout.step_started_at is not None
    elif action is ControlAction.resume:
        applies = phase in (RolloutPhase.paused.value, RolloutPhase.rolled_back.value,
                            RolloutPhase.aborted.value)
    elif action is ControlAction.abort:
        applies = phase in ACTIVE_PHASES or (phase == RolloutPhase.promoted.value
                                             and rollout.previous_revision is not None)
    elif phase == RolloutPhase.promoted.value:
        return "the rollout is already promoted"
    elif blocked:
        return ("the rollout is blocked by a breaking schema change; set "
                "rollout.allowBreakingSchemaChange to allow it")
    else:
        applies = True
    return None if applies else "the rollout is " + _phase_words(rollout)


def ignored(action: ControlAction, why: str) -> RolloutEvent:
    """The event saying a control was recorded without effect, and `why` (see `why_ignored`)."""
    return RolloutEvent("Normal", Reason.rollout_control_ignored,
                        f"{CONTROL_ANNOTATION} {action.value} ignored: {why}")


def _phase_words(rollout: RolloutStatus) -> str:
    if rollout.phase == RolloutPhase.progressing.value and rollout.step_started_at is None:
        return "blocked before its first step"
    return str(rollout.phase).lower().replace("rolledback", "rolled back")
