"""Which status changes become Events (operator/toolfleet/status/events.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionType, Reason, condition
from toolfleet.status.conditions import set_condition
from toolfleet.status.events import EventType, condition_events

NOW = "2026-06-01T12:00:00Z"


def cond(type_: ConditionType, status: bool, reason: Reason, message: str = "") -> Condition:
    return condition(type_, status, reason, message, generation=1, now=NOW)


def test_a_new_service_announces_only_what_is_wrong() -> None:
    after = [cond(ConditionType.schedulable, True, Reason.no_gpu_required),
             cond(ConditionType.degraded, False, Reason.as_expected),
             cond(ConditionType.progressing, True, Reason.deploying, "0/1 ready"),
             cond(ConditionType.ready, False, Reason.replicas_not_ready, "0/1 replica(s) ready")]
    events = condition_events([], after)
    # Its pods starting is no trouble: no Warning for it.
    assert [(e.type, e.reason) for e in events] == [(EventType.normal, "NoGPURequired")]
    refused = [*after[:3], cond(ConditionType.ready, False, Reason.apply_failed, "quota")]
    events = condition_events([], refused)
    assert [(e.type, e.reason) for e in events] == [
        (EventType.normal, "NoGPURequired"), (EventType.warning, "ApplyFailed")]
    assert events[1].message == "Ready=False: quota"
    # Once Ready, losing it is a Warning.
    ready = [cond(ConditionType.ready, True, Reason.replicas_ready, "1 replica(s) ready")]
    (event,) = condition_events(ready, after[3:])
    assert (event.type, event.reason) == (EventType.warning, "ReplicasNotReady")


def test_becoming_ready_is_a_normal_event_and_staying_ready_is_none() -> None:
    before = [cond(ConditionType.ready, False, Reason.replicas_not_ready)]
    ready = [cond(ConditionType.ready, True, Reason.replicas_ready, "2 replica(s) ready")]
    assert [(e.type, e.reason) for e in condition_events(before, ready)] == [
        (EventType.normal, "ReplicasReady")]
    assert condition_events(ready, ready) == []


def test_a_new_reason_with_the_same_status_is_an_event() -> None:
    before = [cond(ConditionType.degraded, True, Reason.invalid_tools)]
    after = [cond(ConditionType.degraded, True, Reason.apply_failed, "Service x: quota")]
    (event,) = condition_events(before, after)
    assert (event.type, event.reason) == (EventType.warning, "ApplyFailed")


def test_the_rollout_speaks_for_its_own_conditions() -> None:
    before = [cond(ConditionType.rollout_healthy, True, Reason.stable),
              cond(ConditionType.ready, True, Reason.replicas_ready)]
    after = [cond(ConditionType.rollout_healthy, False, Reason.analysis_failed),
             cond(ConditionType.ready, False, Reason.replicas_not_ready)]
    said = {(ConditionType.rollout_healthy, Reason.analysis_failed)}
    events = condition_events(before, after, rollout_said=said)
    assert [e.reason for e in events] == ["ReplicasNotReady"]
    assert [e.reason for e in condition_events(before, after)] == [
        "AnalysisFailed", "ReplicasNotReady"]


def test_a_condition_the_rollout_did_not_write_is_announced_beside_the_rollouts_events() -> None:
    # A new service: the rollout announces RevisionDeployed, and its tools are invalid.
    after = [cond(ConditionType.degraded, True, Reason.invalid_tools, "left out of every catalog"),
             cond(ConditionType.rollout_healthy, True, Reason.stable)]
    said = {(ConditionType.rollout_healthy, Reason.stable)}
    events = condition_events([], after, rollout_said=said)
    assert [(e.type, e.reason) for e in events] == [(EventType.warning, "InvalidTools")]


TYPES = st.sampled_from(list(ConditionType))
REASONS = st.sampled_from(list(Reason))


@given(changes=st.lists(st.tuples(TYPES, st.booleans(), REASONS), max_size=12))
def test_replaying_the_same_conditions_emits_nothing(
        changes: list[tuple[ConditionType, bool, Reason]]) -> None:
    conditions: list[Condition] = []
    for type_, status, reason in changes:
        conditions = set_condition(conditions, cond(type_, status, reason))
    assert condition_events(conditions, conditions) == []


@given(type_=TYPES, reason=REASONS)
def test_warnings_are_exactly_the_states_a_user_must_act_on(type_: ConditionType,
                                                           reason: Reason) -> None:
    bad = {ConditionType.ready: False, ConditionType.degraded: True,
           ConditionType.schedulable: False, ConditionType.rollout_healthy: False,
           ConditionType.within_tool_limits: False}
    for status in (True, False):
        events = condition_events([cond(type_, not status, reason)],
                                  [cond(type_, status, reason)])
        expected = EventType.warning if bad.get(type_) is status else EventType.normal
        assert [e.type for e in events] == [expected]
