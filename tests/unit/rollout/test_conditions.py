"""The conditions a rollout reports (rollout/conditions.py), derived from its state."""

from __future__ import annotations

import pytest

from toolfleet.api.common import Condition
from toolfleet.api.toolservice import RolloutStatus
from toolfleet.rollout.conditions import rollout_conditions

NOW = "2026-03-01T12:00:00Z"
EARLIER = "2026-03-01T11:00:00Z"


def rollout(phase: str, *, revision: str = "new", started: bool = True,
            failures: int = 0) -> RolloutStatus:
    return RolloutStatus(revision=revision, version="1.1.0", weight=20, step=0, phase=phase,
                         step_started_at=NOW if started else None, failures=failures,
                         message=f"{phase.lower()} message")


def table(rollout_: RolloutStatus | None, stable: str = "old",
          block: str | None = None) -> dict[str, tuple[str, str]]:
    conditions = rollout_conditions(rollout_, "new", stable, block, [], 4, NOW)
    return {c.type: (c.status, c.reason) for c in conditions}


@pytest.mark.parametrize(("state", "expected"), [
    (rollout("Progressing"), {"Progressing": ("True", "CanaryProgressing"),
                              "RolloutHealthy": ("True", "CanaryHealthy")}),
    (rollout("Progressing", failures=1), {"Progressing": ("True", "CanaryProgressing"),
                                          "RolloutHealthy": ("True",
                                                             "AnalysisFailuresTolerated")}),
    (rollout("Paused"), {"Progressing": ("Unknown", "RolloutPaused"),
                         "RolloutHealthy": ("Unknown", "RolloutPaused")}),
    (rollout("RolledBack"), {"Progressing": ("False", "CanaryRolledBack"),
                             "Degraded": ("True", "CanaryRolledBack"),
                             "RolloutHealthy": ("False", "AnalysisFailed")}),
    (rollout("Aborted"), {"Progressing": ("False", "RolloutAborted"),
                          "Degraded": ("True", "RolloutAborted"),
                          "RolloutHealthy": ("False", "RolloutAborted")}),
    (None, {"RolloutHealthy": ("True", "Stable")}),
])
def test_each_state_reports_its_conditions(state: RolloutStatus | None,
                                           expected: dict[str, tuple[str, str]]) -> None:
    assert table(state) == expected


def test_a_promoted_canary_is_healthy_and_leaves_progressing_to_the_deployment() -> None:
    assert table(rollout("Promoted"), stable="new") == {"RolloutHealthy": ("True",
                                                                           "CanaryPromoted")}


def test_a_rollout_of_an_older_revision_says_nothing_of_the_new_spec() -> None:
    assert table(rollout("Aborted", revision="older")) == {"RolloutHealthy": ("True", "Stable")}


def test_a_blocked_rollout_is_degraded_until_it_starts() -> None:
    blocked = {"Progressing": ("False", "BreakingSchemaChange"),
               "Degraded": ("True", "BreakingSchemaChange"),
               "RolloutHealthy": ("False", "BreakingSchemaChange")}
    assert table(None, block="tool 'x' broke") == blocked
    assert table(rollout("Progressing", started=False), block="tool 'x' broke") == blocked
    assert table(rollout("Progressing"), block="tool 'x' broke")["Progressing"] == (
        "True", "CanaryProgressing")  # already past the check: not stopped


def test_an_unchanged_status_keeps_its_transition_time() -> None:
    previous = [Condition(type="Progressing", status="True", reason="CanaryProgressing",
                          last_transition_time=EARLIER),
                Condition(type="RolloutHealthy", status="False", reason="AnalysisFailed",
                          last_transition_time=EARLIER)]
    conditions = rollout_conditions(rollout("Progressing"), "new", "old", None, previous, 4, NOW)
    times = {c.type: c.last_transition_time for c in conditions}
    assert times == {"Progressing": EARLIER, "RolloutHealthy": NOW}
    assert {c.observed_generation for c in conditions} == {4}
