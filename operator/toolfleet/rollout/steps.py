"""The steps of a canary rollout, and the clock that walks them.

A rollout under way (`status.rollout`, phase Progressing or Paused) moves only
by these transitions, each pure, from the stored state and `now`:

1. `start`: step 0 at its weight; `stepStartedAt` is now.
2. `tick`: a step holds for `pauseSeconds`; with `analysis` configured for
   `max(pauseSeconds, analysis.intervalSeconds)`, so the analysis window sees
   only traffic at this step's weight. Then, once the canary's pods are ready,
   the analysis is asked for (`Transition.analyze`); its result, passed back
   under the same key, decides. Without analysis the step advances on time.
3. A passing analysis advances to the next step; after the last step the
   canary is promoted.
4. A failing analysis counts in `failures`. Within `failureLimit` the step is
   held again and re-analysed; beyond it the rollout rolls back (weight 0,
   phase RolledBack). An inconclusive analysis holds the step again and counts
   in `inconclusive` (reset by any conclusive one); beyond
   `analysis.inconclusiveLimit` the rollout pauses with reason
   AnalysisInconclusive, so no wait is without a bound.
5. The canary's pods must all be ready within `progressDeadlineSeconds` of
   the step's start. A failure state of theirs (unschedulable, image pull,
   crash loop) is reported with reason CanaryNotReady while the deadline
   runs; past it, or at once when the canary Deployment reports
   ProgressDeadlineExceeded, the rollout rolls back (or pauses, by
   `progressDeadlineAction`) with reason CanaryNotReady.
6. `pause` stops the clock and records `pausedAt`; `resume` shifts
   `stepStartedAt` by the pause, so the time already held is kept (after a
   CanaryNotReady pause the step starts over, giving the pods a new
   deadline). `abort` and `promote` end the rollout at once, and so does
   `drop` when the spec is reverted to the stable revision.
7. A canary whose pods have no room (surge without spare GPUs, see
   `capacity.py`) pauses with reason InsufficientGPU (`no_room`) and resumes
   by itself, its step starting over, once they fit.

`step` counts from 0 in the status; messages and events count from 1.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionType, Reason
from toolfleet.api.rollout import ProgressDeadlineAction
from toolfleet.api.toolservice import Analysis, CanaryStep, RolloutPhase, RolloutStatus
from toolfleet.rollout.analysis import AnalysisKey, AnalysisResult, Outcome, StepAnalysis
from toolfleet.rollout.events import RolloutEvent
from toolfleet.status.conditions import find

# How soon to look again while waiting on something without a known end:
# canary pods becoming ready, or an analysis that was asked for.
POLL_SECONDS = 10.0
# The phases in which a canary runs beside the stable revision (or is paused there).
ACTIVE_PHASES = (RolloutPhase.progressing.value, RolloutPhase.paused.value)

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CANARY_NOT_READY = Reason.canary_not_ready.value
INSUFFICIENT_GPU = Reason.insufficient_gpu.value
# Pauses whose step starts over on resume: the canary had no (ready) pods to hold it.
_START_OVER = (CANARY_NOT_READY, INSUFFICIENT_GPU)


@dataclass(frozen=True)
class PodsView:
    """What the shell read of canary pods that are not ready (see `rollout.pods`)."""

    problem: str | None = None
    """A failure state with the scheduler's or kubelet's message; None: just not ready yet."""
    stalled: bool = False
    """The canary Deployment reports ProgressDeadlineExceeded."""


@dataclass
class Transition:
    """A rollout's next state, and what the shell should know about the move."""

    rollout: RolloutStatus
    events: list[RolloutEvent] = field(default_factory=list)
    requeue_after: float | None = None
    """Seconds until the next transition is due; None: wait for a change."""
    analyze: AnalysisKey | None = None
    """The analysis this step waits for."""
    promoted: bool = False
    """The canary became the stable revision."""
    rolled_back: bool = False
    """The canary was rolled back after failed analyses."""


@dataclass(frozen=True)
class Steps:
    """The steps and analysis of spec.rollout at the instant `now` (timezone-aware, UTC)."""

    steps: Sequence[CanaryStep]
    analysis: Analysis | None
    now: datetime
    deadline_seconds: int = 600
    """rollout.progressDeadlineSeconds."""
    on_deadline: ProgressDeadlineAction = ProgressDeadlineAction.rollback
    """rollout.progressDeadlineAction."""

    @property
    def stamp(self) -> str:
        """`now` as the status stores times (RFC 3339, seconds)."""
        return rfc3339(self.now)

    def hold(self, i: int) -> int:
        """Seconds step `i` holds before it is analysed or advances."""
        pause = self.steps[i].pause_seconds
        return pause if self.analysis is None else max(pause, self.analysis.interval_seconds)

    def index(self, rollout: RolloutStatus) -> int:
        """The rollout's step, within the list as it is now."""
        # Steps may have been edited mid-rollout (rollout settings are not part
        # of the revision): stay within the list.
        return min(rollout.step, len(self.steps) - 1)

    def holding_message(self, i: int, started: datetime) -> str:
        """What status.rollout.message says while step `i`, begun at `started`, holds."""
        step = self.steps[i]
        due = rfc3339(started.replace(microsecond=0) + timedelta(seconds=self.hold(i)))
        then = "analysis" if self.analysis is not None else (
            "the next step" if i + 1 < len(self.steps) else "promotion")
        return (f"step {i + 1}/{len(self.steps)}: canary at {step.weight}% until {due}, "
                f"then {then}")

    # -- transitions -------------------------------------------------------

    def start(self, revision: str, version: str, retry: bool = False) -> Transition:
        """A rollout of `revision` (spec.version `version`) at step 0 from now."""
        first = self.steps[0]
        started = RolloutStatus(
            revision=revision, version=version, weight=first.weight, step=0,
            phase=RolloutPhase.progressing.value, step_started_at=self.stamp,
            message=self.holding_message(0, self.now))
        verb = "retried" if retry else "started"
        return Transition(started, requeue_after=float(self.hold(0)), events=[RolloutEvent(
            "Normal", Reason.rollout_started,
            f"canary of version {version} (revision {revision}) {verb} at {first.weight}% "
            f"(step 1/{len(self.steps)})")])

    def tick(self, current: RolloutStatus, ready: int, wanted: int,
             analysis: StepAnalysis | None, pods: PodsView | None = None) -> Transition:
        """The clock of a started, progressing rollout.

        `ready` and `wanted` are the canary Deployment's ready and desired pods;
        `analysis` is the latest result the shell has, used only when its key
        is this step attempt's; `pods` what is known of pods that are not ready.
        """
        i = self.index(current)
        step = self.steps[i]
        current = _with(current, step=i, weight=step.weight)
        started_text = current.step_started_at
        started = parse_rfc3339(started_text)
        if started_text is None or started is None:
            # An unreadable clock restarts the step rather than guessing.
            return Transition(_with(current, step_started_at=self.stamp,
                                    message=self.holding_message(i, self.now)),
                              requeue_after=float(self.hold(i)))
        elapsed = (self.now - started).total_seconds()
        where = f"step {i + 1}/{len(self.steps)}: canary at {step.weight}%"
        if not (wanted > 0 and ready >= wanted):
            waiting = self._not_ready(current, i, started, f"{ready}/{wanted} ready",
                                      pods or PodsView())
            if waiting is not None:
                return waiting
        elif current.reason == CANARY_NOT_READY:
            current = _with(current, reason=None, message=self.holding_message(i, started))
        if elapsed < self.hold(i):
            due = self.hold(i) - elapsed
            if not (wanted > 0 and ready >= wanted):
                due = min(due, POLL_SECONDS)
            return Transition(current, requeue_after=due)
        if not (wanted > 0 and ready >= wanted):
            return Transition(_with(current, message=(
                f"{where}, waiting for its pods ({ready}/{wanted} ready)")),
                requeue_after=min(POLL_SECONDS, self.deadline_seconds - elapsed))
        if self.analysis is None:
            return self._advance(current, i, "held for its pause")
        key = AnalysisKey(revision=current.revision, step=i, step_started_at=started_text)
        if analysis is None or analysis.key != key:
            return Transition(_with(current, message=f"{where}, analysing"),
                              requeue_after=POLL_SECONDS, analyze=key)
        return self._judge(current, i, analysis.result, self.analysis)

    def _not_ready(self, current: RolloutStatus, i: int, started: datetime, counts: str,
                   pods: PodsView) -> Transition | None:
        """The canary lacks ready pods: stop past the deadline, report a failure state.

        None when there is nothing to say yet (the step's hold and deadline both run).
        """
        where = f"step {i + 1}/{len(self.steps)}: canary at {self.steps[i].weight}%"
        seen = f": {pods.problem}" if pods.problem else ""
        elapsed = (self.now - started).total_seconds()
        if pods.stalled or elapsed >= self.deadline_seconds:
            why = ("the canary Deployment exceeded its progress deadline" if pods.stalled
                   else f"its pods were not ready within progressDeadlineSeconds "
                        f"({self.deadline_seconds}s)")
            return self._deadline(current, f"{where}: {why} ({counts}){seen}")
        if pods.problem is None:
            return None
        stops = rfc3339(started.replace(microsecond=0)
                        + timedelta(seconds=self.deadline_seconds))
        message = (f"{where}, waiting for its pods ({counts}){seen}; the rollout stops at "
                   f"{stops} (progressDeadlineSeconds)")
        return Transition(_with(current, reason=CANARY_NOT_READY, message=message),
                          requeue_after=min(POLL_SECONDS, self.deadline_seconds - elapsed))

    def _deadline(self, current: RolloutStatus, why: str) -> Transition:
        event = f"canary of version {current.version} (revision {current.revision}): {why}"
        if self.on_deadline == ProgressDeadlineAction.pause:
            message = (f"paused: {why}. Fix the pods and resume (the step starts over), "
                       "promote-force, or abort")
            return Transition(_with(current, phase=RolloutPhase.paused.value,
                                    paused_at=self.stamp, reason=CANARY_NOT_READY,
                                    message=message),
                              events=[RolloutEvent("Warning", Reason.canary_not_ready,
                                                   f"{event}; rollout paused")])
        message = f"rolled back: {why}"
        return Transition(_with(current, phase=RolloutPhase.rolled_back.value, weight=0,
                                reason=CANARY_NOT_READY, message=message),
                          rolled_back=True,
                          events=[RolloutEvent("Warning", Reason.canary_not_ready,
                                               f"{event}; rolled back")])

    def pause(self, current: RolloutStatus) -> Transition:
        """Stop the clock of a started, progressing rollout; the canary keeps its weight."""
        held = _elapsed(current, self.now)
        i = self.index(current)
        message = (f"paused by rollout-control at step {i + 1}/{len(self.steps)} after "
                   f"{_seconds(held)} of {self.hold(i)}s held; resume, promote or abort")
        paused = _with(current, phase=RolloutPhase.paused.value, paused_at=self.stamp,
                       message=message)
        return Transition(paused, events=[RolloutEvent("Normal", Reason.rollout_paused,
                                                       message)])

    def resume(self, current: RolloutStatus, paused_at: datetime | None) -> Transition:
        """Restart the clock of a paused rollout where it stopped at `paused_at` (`pause_start`).

        Without a readable `paused_at` or stepStartedAt the step starts over.
        """
        started = parse_rfc3339(current.step_started_at)
        held = 0.0
        if paused_at is not None and started is not None and current.reason not in _START_OVER:
            held = max(0.0, (paused_at - started).total_seconds())
        # Shift the step's start by the pause, so the time already held counts.
        shifted = rfc3339(self.now - timedelta(seconds=held))
        i = self.index(current)
        resumed = _with(current, phase=RolloutPhase.progressing.value, step_started_at=shifted,
                        paused_at=None, reason=None, inconclusive=0,
                        message=self.holding_message(i, parse_rfc3339(shifted) or self.now))
        return Transition(resumed, requeue_after=max(0.0, self.hold(i) - held), events=[
            RolloutEvent("Normal", Reason.rollout_resumed,
                         f"resumed at step {i + 1}/{len(self.steps)} with {_seconds(held)} of "
                         f"{self.hold(i)}s held")])

    def no_room(self, current: RolloutStatus, why: str) -> Transition:
        """Pause a rollout whose canary's pods have no room (`capacity.CapacityPlan.blocked`).

        The step's clock stops, with reason InsufficientGPU, instead of pods
        waiting Pending; `why` says how to proceed. Given a rollout paused so
        already, only the message follows `why` (its numbers change).
        """
        message = f"paused: {why}"
        if current.phase == RolloutPhase.paused.value and current.reason == INSUFFICIENT_GPU:
            return Transition(_with(current, message=message))
        i = self.index(current)
        return Transition(
            _with(current, phase=RolloutPhase.paused.value, paused_at=self.stamp,
                  reason=INSUFFICIENT_GPU, message=message),
            events=[RolloutEvent("Warning", Reason.insufficient_gpu,
                                 f"canary of version {current.version} paused at step "
                                 f"{i + 1}/{len(self.steps)}: {why}")])

    def abort(self, current: RolloutStatus, stable_revision: str | None) -> Transition:
        """End the rollout with the canary at 0; `stable_revision` keeps serving."""
        aborted = _with(
            current, phase=RolloutPhase.aborted.value, weight=0, paused_at=None, reason=None,
            message=f"aborted by rollout-control; the stable revision {stable_revision} keeps "
                    "serving. Resume to retry from step 1, or revert the spec")
        return Transition(aborted, events=[RolloutEvent(
            "Warning", Reason.rollout_aborted,
            f"canary of version {current.version} (revision {current.revision}) aborted; "
            f"stable revision {stable_revision} keeps serving")])

    def promote(self, current: RolloutStatus, why: str) -> Transition:
        """Make the canary the stable revision now; `why` ends the message and the event."""
        promoted = _with(
            current, phase=RolloutPhase.promoted.value, weight=100, paused_at=None, reason=None,
            inconclusive=0,
            message=f"promoted: version {current.version} (revision {current.revision}) is "
                    f"stable; {why}")
        return Transition(promoted, promoted=True, events=[RolloutEvent(
            "Normal", Reason.canary_promoted,
            f"version {current.version} (revision {current.revision}) promoted to stable: "
            f"{why}")])

    def drop(self, current: RolloutStatus, stable_revision: str) -> Transition:
        """End the rollout because the spec was reverted to `stable_revision`.

        The record stays as phase Aborted, but no condition reports a problem:
        the spec and what serves agree again.
        """
        dropped = _with(
            current, phase=RolloutPhase.aborted.value, weight=0, paused_at=None,
            message=f"spec reverted to the stable revision {stable_revision}; canary of "
                    f"revision {current.revision} dropped")
        return Transition(dropped, events=[RolloutEvent(
            "Normal", Reason.canary_dropped,
            f"spec reverted to the stable revision {stable_revision}: canary of revision "
            f"{current.revision} (version {current.version}) dropped")])

    # -- after the analysis ----------------------------------------------------

    def _judge(self, current: RolloutStatus, i: int, result: AnalysisResult,
               analysis: Analysis) -> Transition:
        if result.outcome == Outcome.passed:
            return self._advance(current, i, f"analysis passed ({result.message})")
        where = f"step {i + 1}/{len(self.steps)} held again"
        if result.outcome == Outcome.inconclusive:
            return self._inconclusive(current, i, result, analysis)
        current = _with(current, inconclusive=0)
        failures = current.failures + 1
        if failures > analysis.failure_limit:
            return self._rolled_back(current, failures, result)
        tolerated = f"{failures} of {analysis.failure_limit} tolerated"
        return Transition(
            _with(current, failures=failures, step_started_at=self.stamp,
                  message=f"{where}: analysis failed ({tolerated}): {result.message}"),
            requeue_after=float(self.hold(i)),
            events=[RolloutEvent("Warning", Reason.analysis_failed,
                                 f"failure {tolerated}: {result.message}")])

    def _inconclusive(self, current: RolloutStatus, i: int, result: AnalysisResult,
                      analysis: Analysis) -> Transition:
        count = current.inconclusive + 1
        if count > analysis.inconclusive_limit:
            message = (f"paused at step {i + 1}/{len(self.steps)} after {count} inconclusive "
                       f"analyses in a row ({result.message}). Make the queries answer "
                       "(Prometheus reachable, canary traffic) and resume to analyse again, "
                       "promote to go on without the analysis, or abort")
            return Transition(
                _with(current, phase=RolloutPhase.paused.value, paused_at=self.stamp,
                      inconclusive=count, reason=Reason.analysis_inconclusive.value,
                      message=message),
                events=[RolloutEvent("Warning", Reason.analysis_inconclusive, message)])
        # The event's text repeats exactly from round to round, so that the
        # recorder counts it on one Event instead of writing a new one.
        return Transition(
            _with(current, step_started_at=self.stamp, inconclusive=count,
                  message=f"step {i + 1}/{len(self.steps)} held again: analysis inconclusive "
                          f"({count} of {analysis.inconclusive_limit} tolerated): "
                          f"{result.message}"),
            requeue_after=float(self.hold(i)),
            events=[RolloutEvent("Normal", Reason.analysis_inconclusive, result.message)])

    def _advance(self, current: RolloutStatus, i: int, why: str) -> Transition:
        if i + 1 >= len(self.steps):
            return self.promote(current, f"last step {why}")
        following = self.steps[i + 1]
        advanced = _with(current, step=i + 1, weight=following.weight,
                         step_started_at=self.stamp, inconclusive=0, reason=None,
                         message=self.holding_message(i + 1, self.now))
        return Transition(advanced, requeue_after=float(self.hold(i + 1)), events=[RolloutEvent(
            "Normal", Reason.canary_step_advanced,
            f"canary of version {current.version} at {following.weight}% (step {i + 2}/"
            f"{len(self.steps)}): step {i + 1} {why}")])

    def _rolled_back(self, current: RolloutStatus, failures: int,
                     result: AnalysisResult) -> Transition:
        rolled_back = _with(
            current, phase=RolloutPhase.rolled_back.value, weight=0, failures=failures,
            reason=Reason.analysis_failed.value,
            message=f"rolled back after {failures} failed analyses: {result.message}")
        return Transition(rolled_back, rolled_back=True, events=[RolloutEvent(
            "Warning", Reason.canary_rolled_back,
            f"canary of version {current.version} (revision {current.revision}) rolled back: "
            f"{result.message}")])


def pause_start(rollout: RolloutStatus, conditions: Sequence[Condition]) -> datetime | None:
    """When the pause of a paused `rollout` began; None when unknown.

    That is status.rollout.pausedAt. A status written before pausedAt existed
    kept the instant only as the lastTransitionTime of RolloutHealthy (Unknown
    while paused): read that instead, so an upgrade mid-pause loses nothing.
    """
    if rollout.paused_at is not None:
        return parse_rfc3339(rollout.paused_at)
    healthy = find(conditions, ConditionType.rollout_healthy)
    if healthy is None or healthy.status != "Unknown":
        return None
    return parse_rfc3339(healthy.last_transition_time)


def rfc3339(moment: datetime) -> str:
    """`moment` (timezone-aware) in UTC as Kubernetes writes times, to the second."""
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_rfc3339(text: str | None) -> datetime | None:
    """A stored time, read back; None when absent or unreadable (no timezone: UTC)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _with(rollout: RolloutStatus, **changes: object) -> RolloutStatus:
    return rollout.model_copy(update=changes)


def _elapsed(current: RolloutStatus, at: datetime) -> float:
    started = parse_rfc3339(current.step_started_at)
    return 0.0 if started is None else max(0.0, (at - started).total_seconds())


_WHOLE = re.compile(r"\.0+$")


def _seconds(value: float) -> str:
    return _WHOLE.sub("", f"{value:.1f}") + "s"
