"""Conditions without churning timestamps (operator/toolfleet/status/conditions.py)."""

from __future__ import annotations

from typing import Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.common import Condition
from toolfleet.status.conditions import find, set_condition, transitions

PROPERTIES = settings(max_examples=50, deadline=None)
Status = Literal["True", "False", "Unknown"]


def cond(type_: str, status: Status, at: str, reason: str = "Because",
         message: str = "", generation: int = 1) -> Condition:
    return Condition(type=type_, status=status, reason=reason, message=message,
                     last_transition_time=at, observed_generation=generation)


T1, T2, T3 = "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z", "2025-01-01T00:10:00Z"


def test_a_new_type_is_added() -> None:
    out = set_condition([cond("Ready", "True", T1)], cond("Degraded", "False", T2))
    assert [(c.type, c.last_transition_time) for c in out] == [("Ready", T1), ("Degraded", T2)]


def test_an_unchanged_status_keeps_its_transition_time_but_takes_the_rest() -> None:
    old = cond("Ready", "False", T1, reason="ReplicasNotReady", message="0/2", generation=1)
    new = cond("Ready", "False", T2, reason="Unschedulable", message="no GPU", generation=2)
    (out,) = set_condition([old], new)
    assert out.last_transition_time == T1
    assert (out.reason, out.message, out.observed_generation) == ("Unschedulable", "no GPU", 2)


def test_a_flip_moves_the_transition_time() -> None:
    (out,) = set_condition([cond("Ready", "False", T1)], cond("Ready", "True", T2))
    assert (out.status, out.last_transition_time) == ("True", T2)


def test_other_conditions_keep_their_place_and_content() -> None:
    before = [cond("Ready", "True", T1), cond("Degraded", "False", T1),
              cond("RolloutHealthy", "True", T1)]
    out = set_condition(before, cond("Degraded", "True", T2))
    assert [c.type for c in out] == ["Ready", "Degraded", "RolloutHealthy"]
    assert out[0] == before[0] and out[2] == before[2]


def test_the_input_list_is_not_changed() -> None:
    before = [cond("Ready", "False", T1)]
    set_condition(before, cond("Ready", "True", T2))
    assert before == [cond("Ready", "False", T1)]


@PROPERTIES
@given(steps=st.lists(st.tuples(st.sampled_from(["Ready", "Degraded"]),
                                st.sampled_from(["True", "False", "Unknown"])),
                      min_size=1, max_size=12))
def test_transition_time_is_the_time_of_the_last_flip(steps: list[tuple[str, Status]]) -> None:
    conditions: list[Condition] = []
    last_flip: dict[str, tuple[str, str]] = {}
    for i, (type_, status) in enumerate(steps):
        at = f"2025-01-01T00:{i:02d}:00Z"
        conditions = set_condition(conditions, cond(type_, status, at))
        if type_ not in last_flip or last_flip[type_][0] != status:
            last_flip[type_] = (status, at)
    assert {c.type: (c.status, c.last_transition_time) for c in conditions} == last_flip
    assert len(conditions) == len({c.type for c in conditions})


def test_find_returns_the_condition_of_a_type() -> None:
    conditions = [cond("Ready", "True", T1), cond("Degraded", "False", T1)]
    found = find(conditions, "Degraded")
    assert found is not None and found.status == "False"
    assert find(conditions, "Schedulable") is None


def test_transitions_are_status_or_reason_changes_not_message_changes() -> None:
    before = [cond("Ready", "False", T1, reason="ReplicasNotReady", message="0/2"),
              cond("Degraded", "False", T1, reason="AsExpected"),
              cond("Schedulable", "True", T1, reason="GPUAvailable")]
    after = [cond("Ready", "False", T2, reason="ReplicasNotReady", message="1/2"),
             cond("Degraded", "True", T2, reason="ApplyFailed"),
             cond("Schedulable", "True", T3, reason="NoGPURequired"),
             cond("Progressing", "True", T3, reason="Deploying")]
    assert [c.type for c in transitions(before, after)] == [
        "Degraded", "Schedulable", "Progressing"]
    assert transitions(after, after) == []
