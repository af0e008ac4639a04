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
  CanaryHealthy (AnalysisFailuresTolerated after a tolerated failure), but
  RolloutHealthy=False CanaryNotReady while its pods show a failure state;
- paused by a control: Progressing and RolloutHealthy Unknown, RolloutPaused;
- paused by itself (the inconclusive limit, or the progress deadline with
  progressDeadlineAction pause): Progressing=False and RolloutHealthy=False,
  AnalysisInconclusive or CanaryNotReady (and Degraded=True CanaryNotReady);
- rolled back: Progressing=False and Degraded=True CanaryRolledBack,
  RolloutHealthy=False AnalysisFailed or CanaryNotReady;
- aborted: Progressing=False, Degraded=True, RolloutHealthy=False, all RolloutAborted;
- promoted, its pods not all ready yet: RolloutHealthy=Unknown PromotionUnfinished;
- promoted: RolloutHealthy=True CanaryPromoted; otherwise RolloutHealthy=True Stable.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionStatus, ConditionType, Reason, condition
from toolfleet.api.toolservice import RolloutPhase, RolloutStatus
from toolfleet.status.conditions import find

_Row = tuple[ConditionType, ConditionStatus, Reason | str, str]


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
        return _canary_rows(rollout)
    if rollout is not None and rollout.phase == RolloutPhase.promoted.value and (
            rollout.revision == stable):
        if rollout.previous_revision is not None:
            return [(healthy, "Unknown", Reason.promotion_unfinished,
                     f"{rollout.message}; its pods are not all ready yet: abort restores "
                     f"revision {rollout.previous_revision} (version "
                     f"{rollout.previous_version})")]
        return [(healthy, "True", Reason.canary_promoted, rollout.message)]
    return [(healthy, "True", Reason.stable, f"revision {stable} serves all traffic")]


def _canary_rows(rollout: RolloutStatus) -> list[_Row]:
    """The rows of a rollout whose canary is the desired revision, by phase."""
    progressing, degraded, healthy = (ConditionType.progressing, ConditionType.degraded,
                                      ConditionType.rollout_healthy)
    message, stopped = rollout.message, rollout.reason
    if rollout.phase == RolloutPhase.progressing.value:
        health: _Row = (healthy, "True", Reason.canary_healthy, message)
        if stopped == Reason.canary_not_ready.value:
            health = (healthy, "False", Reason.canary_not_ready, message)
        elif rollout.failures:
            health = (healthy, "True", Reason.analysis_failures_tolerated,
                      f"{rollout.failures} failed analyses so far, within the failure limit")
        return [(progressing, "True", Reason.canary_progressing, message), health]
    if rollout.phase == RolloutPhase.paused.value:
        if stopped is None:
            return [(progressing, "Unknown", Reason.rollout_paused, message),
                    (healthy, "Unknown", Reason.rollout_paused, message)]
        rows: list[_Row] = [(progressing, "False", stopped, message),
                            (healthy, "False", stopped, message)]
        if stopped == Reason.canary_not_ready.value:
            rows.insert(1, (degraded, "True", stopped, message))
        return rows
    if rollout.phase == RolloutPhase.rolled_back.value:
        return [(progressing, "False", Reason.canary_rolled_back, message),
                (degraded, "True", Reason.canary_rolled_back, message),
                (healthy, "False", stopped or Reason.analysis_failed, message)]
    if rollout.phase == RolloutPhase.aborted.value:
        return [(progressing, "False", Reason.rollout_aborted, message),
                (degraded, "True", Reason.rollout_aborted, message),
                (healthy, "False", Reason.rollout_aborted, message)]
    return []
