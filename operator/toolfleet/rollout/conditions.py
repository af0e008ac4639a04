"""The conditions a rollout reports: RolloutHealthy always, Progressing and Degraded at times.

They are derived from the rollout's state, not from the transition that led
there, so a repeated decision gives the same conditions and writes nothing.
Progressing and Degraded are given only while the rollout has something to say
(a canary running or paused, blocked, rolled back, aborted); otherwise the
stable Deployment's view of those two stands, so the shell sets these after
the Deployment-derived ones.

By state, each condition's status and reason:

- blocked by a breaking schema change that is not allowed: Progressing=False,
  Degraded=True and RolloutHealthy=False, all BreakingSchemaChange;
- a canary progressing: Progressing=True CanaryProgressing, RolloutHealthy=True
  CanaryHealthy (AnalysisFailuresTolerated after a tolerated failure);
- paused: Progressing and RolloutHealthy Unknown, RolloutPaused;
- rolled back: Progressing=False and Degraded=True CanaryRolledBack,
  RolloutHealthy=False AnalysisFailed;
- aborted: Progressing=False, Degraded=True, RolloutHealthy=False, all RolloutAborted;
- promoted: RolloutHealthy=True CanaryPromoted; otherwise RolloutHealthy=True Stable.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionStatus, ConditionType, Reason, condition
from toolfleet.api.toolservice import RolloutPhase, RolloutStatus
from toolfleet.status.conditions import find

_Row = tuple[ConditionType, ConditionStatus, Reason, str]


def rollout_conditions(rollout: RolloutStatus | None, desired: str, stable: str,
                       block: str | None, previous: Sequence[Condition], generation: int,
                       now: str) -> tuple[Condition, ...]:
    """The rollout's conditions for the new state.

    `rollout` is the new status.rollout, `desired` the spec's revision,
    `stable` the revision serving stable traffic; `block` the message of a
    breaking schema change that is not allowed (None: no such change).
    `previous` are the stored conditions: a condition whose status did not
    change keeps its lastTransitionTime, others get `now` (RFC 3339).
    `generation` becomes their observedGeneration.
    """
    conditions = []
    for type_, state, reason, message in _rows(rollout, desired, stable, block):
        before = find(previous, type_)
        since = before.last_transition_time if (
            before is not None and before.status == state) else now
        conditions.append(condition(type_, state, reason, message, generation=generation,
                                    now=since))
    return tuple(conditions)


def _rows(rollout: RolloutStatus | None, desired: str, stable: str,
          block: str | None) -> list[_Row]:
    progressing, degraded, healthy = (ConditionType.progressing, ConditionType.degraded,
                                      ConditionType.rollout_healthy)
    if block is not None and desired != stable and (rollout is None or (
            rollout.step_started_at is None
            and rollout.phase == RolloutPhase.progressing.value)):
        return [(progressing, "False", Reason.breaking_schema_change, block),
                (degraded, "True", Reason.breaking_schema_change, block),
                (healthy, "False", Reason.breaking_schema_change, block)]
    if rollout is not None and rollout.revision == desired != stable:
        message = rollout.message
        if rollout.phase == RolloutPhase.progressing.value:
            health: _Row = (healthy, "True", Reason.canary_healthy, message)
            if rollout.failures:
                health = (healthy, "True", Reason.analysis_failures_tolerated,
                          f"{rollout.failures} failed analyses so far, within the failure limit")
            return [(progressing, "True", Reason.canary_progressing, message), health]
        if rollout.phase == RolloutPhase.paused.value:
            return [(progressing, "Unknown", Reason.rollout_paused, message),
                    (healthy, "Unknown", Reason.rollout_paused, message)]
        if rollout.phase == RolloutPhase.rolled_back.value:
            return [(progressing, "False", Reason.canary_rolled_back, message),
                    (degraded, "True", Reason.canary_rolled_back, message),
                    (healthy, "False", Reason.analysis_failed, message)]
        if rollout.phase == RolloutPhase.aborted.value:
            return [(progressing, "False", Reason.rollout_aborted, message),
                    (degraded, "True", Reason.rollout_aborted, message),
                    (healthy, "False", Reason.rollout_aborted, message)]
    if rollout is not None and rollout.phase == RolloutPhase.promoted.value and (
            rollout.revision == stable):
        return [(healthy, "True", Reason.canary_promoted, rollout.message)]
    return [(healthy, "True", Reason.stable, f"revision {stable} serves all traffic")]
