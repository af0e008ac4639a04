"""The rollout-control annotation (rollout/control.py): reading it, and when an action applies."""

from __future__ import annotations

import pytest

from toolfleet.api.toolservice import RolloutPhase, RolloutStatus
from toolfleet.rollout.control import ControlAction, ControlError, RolloutControl, why_ignored


def rollout(phase: RolloutPhase, started: bool = True) -> RolloutStatus:
    return RolloutStatus(revision="abc", version="1.1.0", weight=20, step=0, phase=phase,
                         step_started_at="2026-03-01T12:00:00Z" if started else None)


@pytest.mark.parametrize(("value", "fix"), [
    ("promote", "add a nonce"),
    ("promote:", "add a nonce"),
    ("rollback:1", "must be one of pause, resume, abort, promote, promote-force"),
])
def test_control_parsing_errors_carry_the_fix(value: str, fix: str) -> None:
    with pytest.raises(ControlError, match=fix):
        RolloutControl.parse(value)


def test_control_parsing_keeps_colons_in_the_nonce() -> None:
    assert RolloutControl.parse("pause:2026-03-01T12:00:00Z") == RolloutControl(
        ControlAction.pause, "2026-03-01T12:00:00Z")




def test_promote_force_is_an_action_of_its_own() -> None:
    assert RolloutControl.parse("promote-force:1") == RolloutControl(
        ControlAction.promote_force, "1")


def test_abort_applies_to_a_promotion_whose_pods_are_not_all_ready() -> None:
    unfinished = rollout(P.promoted).model_copy(update={"previous_revision": "old"})
    assert why_ignored(ControlAction.abort, unfinished, False) is None
    assert why_ignored(ControlAction.abort, rollout(P.promoted), False) == (
        "the rollout is promoted")


def test_surrounding_whitespace_is_not_part_of_the_control() -> None:
    assert RolloutControl.parse("  abort: 17 \n") == RolloutControl(ControlAction.abort, "17")


P = RolloutPhase
APPLIES = {
    ControlAction.pause: {P.progressing},
    ControlAction.resume: {P.paused, P.rolled_back, P.aborted},
    ControlAction.abort: {P.progressing, P.paused},
    ControlAction.promote: {P.progressing, P.paused, P.rolled_back, P.aborted},
    ControlAction.promote_force: {P.progressing, P.paused, P.rolled_back, P.aborted},
}


@pytest.mark.parametrize("action", list(ControlAction))
@pytest.mark.parametrize("phase", list(RolloutPhase))
def test_each_action_applies_in_its_phases_only(action: ControlAction,
                                                phase: RolloutPhase) -> None:
    why = why_ignored(action, rollout(phase), blocked=False)
    assert (why is None) == (phase in APPLIES[action])
    if why is not None:
        assert why.startswith("the rollout is ")


def test_the_reasons_name_the_phase_in_words() -> None:
    assert why_ignored(ControlAction.pause, rollout(P.rolled_back), False) == (
        "the rollout is rolled back")
    assert why_ignored(ControlAction.resume, rollout(P.progressing), False) == (
        "the rollout is progressing")
    assert why_ignored(ControlAction.promote, rollout(P.promoted), False) == (
        "the rollout is already promoted")


def test_a_rollout_blocked_before_its_first_step_cannot_be_paused_or_promoted() -> None:
    blocked = rollout(P.progressing, started=False)
    assert why_ignored(ControlAction.pause, blocked, True) == (
        "the rollout is blocked before its first step")
    promote = why_ignored(ControlAction.promote, blocked, True)
    assert promote is not None and "rollout.allowBreakingSchemaChange" in promote
    assert why_ignored(ControlAction.abort, blocked, True) is None
