"""The canary state machine: from (spec, status, what was observed, now) to the next step.

`decide` is pure. Everything it remembers lives in the ToolService's status
(`status.rollout`, `status.stableRevision`, the RolloutHealthy condition) and in
one annotation the operator writes, so an operator restart at any moment loses
nothing: the next call with the stored status carries on.

A canary rollout, by `spec.rollout`:

1. A new revision (a pod-affecting spec change, see `revision.py`) starts at
   step 0: the canary runs beside the stable revision and gets that step's
   weight; `stepStartedAt` is now.
2. A step holds for `pauseSeconds`. With `analysis` configured it holds for
   `max(pauseSeconds, analysis.intervalSeconds)`, so the analysis window sees
   only traffic at this step's weight; then, once the canary's pods are ready,
   the analysis is requested (`Decision.analyze`), and its result, passed back
   in `Observed.analysis` under the same key, decides. Without analysis the
   step advances on time.
3. A passing analysis advances to the next step; after the last step the canary
   is promoted: it becomes the stable revision and the canary Deployment goes.
4. A failing analysis counts in `status.rollout.failures`. Within
   `failureLimit` the step is held again and re-analysed; beyond it the rollout
   rolls back: canary to 0, phase RolledBack, Degraded with the query and value.
   An inconclusive analysis (no traffic, Prometheus unreachable) holds the step
   again without counting.

Each call makes at most one transition, and only from the state it is given:
feeding the returned status back with the same clock advances nothing twice
(a step's analysis result is keyed by revision, step and stepStartedAt, so it
cannot be applied to another step or twice to the same one).

User controls come from the annotation `toolfleet.io/rollout-control`, valued
`<action>:<nonce>`, e.g. `promote:2024-06-01T12:00:00Z` or `pause:$(date +%s)`.
Actions: `pause`, `resume`, `abort`, `promote`. The operator records the value
it applied in `toolfleet.io/rollout-control-applied` (`Decision.applied_control`)
so the same control is never applied twice; a new nonce repeats an action.
A control that does not apply (nothing to pause, say) is recorded and reported
in an event, not kept for later; one that arrives together with a new revision
is applied to the new rollout on the next call. Every control is idempotent on the state it
produces, so re-applying one after a crash between the status write and the
annotation write changes nothing.

- pause: stops the step's clock. The time already held is kept (the pause
  instant is the lastTransitionTime of RolloutHealthy, Unknown while paused), so
  resume continues where the step was.
- resume: continues a paused rollout; after RolledBack or Aborted, it retries
  the same revision from step 0.
- abort: phase Aborted, canary to 0, the stable revision keeps serving.
- promote: promotes the canary now, skipping the remaining steps and analyses.

Other rules:
- A breaking tool schema change (see `compat.py`) between the stable and the
  new revision blocks the rollout before step 0 (Progressing=False and
  Degraded=True, reason BreakingSchemaChange, naming tool and path) unless
  `rollout.allowBreakingSchemaChange` is set; promote does not bypass it. The
  check guards the start: a rollout already past it is not stopped when the
  setting is turned off later. Under strategy rolling the same check holds the
  stable revision in place.
- A spec change to yet another revision mid-rollout restarts the rollout with
  the newest revision as the canary (failures reset).
- A spec reverted to the stable revision mid-rollout drops the canary; the
  record stays as phase Aborted with a message saying so, and no condition
  reports a problem, since the spec and what serves agree again.
- Strategy rolling, a canary with no steps, and the very first revision of a
  service (nothing to compare against) become stable directly.

Conditions (`Decision.conditions`): RolloutHealthy always; Progressing and
Degraded only while the rollout has something to say (a canary running or
paused, blocked, rolled back, aborted). Otherwise the stable Deployment's view
of those two stands, so the shell sets these after the Deployment-derived ones.
`status.rollout.step` counts from 0; messages and events count steps from 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from toolfleet.api.common import Condition
from toolfleet.api.toolservice import (
    Analysis,
    CanaryStep,
    RolloutPhase,
    RolloutStatus,
    RolloutStrategy,
    ToolServiceSpec,
    ToolServiceStatus,
)
from toolfleet.jsonschema.compat import Incompatibility
from toolfleet.rollout.analysis import AnalysisKey, AnalysisResult, Outcome, StepAnalysis
from toolfleet.status.conditions import find, set_condition

CONTROL_ANNOTATION = "toolfleet.io/rollout-control"
APPLIED_CONTROL_ANNOTATION = "toolfleet.io/rollout-control-applied"

PROGRESSING = "Progressing"
DEGRADED = "Degraded"
ROLLOUT_HEALTHY = "RolloutHealthy"

# How soon to look again while waiting on something without a known end:
# canary pods becoming ready, or an analysis that was asked for.
POLL_SECONDS = 10.0
# How many incompatibilities a message lists before "and N more".
LISTED_INCOMPATIBILITIES = 3

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_State = Literal["True", "False", "Unknown"]
_ACTIVE = (RolloutPhase.progressing.value, RolloutPhase.paused.value)


class ControlAction(StrEnum):
    """What a user asks of the current rollout through the control annotation."""

    pause = "pause"
    resume = "resume"
    abort = "abort"
    promote = "promote"


class ControlError(ValueError):
    """A control annotation that cannot be read; the message says how to write it."""


@dataclass(frozen=True)
class RolloutControl:
    """A parsed control annotation: the action, and the nonce that makes it unique."""

    action: ControlAction
    nonce: str

    @classmethod
    def parse(cls, value: str) -> RolloutControl:
        """Read `<action>:<nonce>`; raise ControlError with the fix when it is malformed."""
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


@dataclass(frozen=True)
class Observed:
    """What the shell saw this reconcile, beside the spec and the stored status."""

    desired_revision: str
    """revision_of(spec)."""
    stable_revision: str | None
    """status.stableRevision: the revision serving stable traffic; None before the first."""
    canary_ready_replicas: int = 0
    """Ready pods of the canary Deployment."""
    canary_wanted_replicas: int = 0
    """Pods the canary Deployment should have at the current weight."""
    analysis: StepAnalysis | None = None
    """The latest analysis result, if one was run for the key last asked for."""
    control: str | None = None
    """The value of the toolfleet.io/rollout-control annotation."""
    applied_control: str | None = None
    """The value of the toolfleet.io/rollout-control-applied annotation."""
    incompatibilities: tuple[Incompatibility, ...] = ()
    """compare_tool_schemas(stable tools, desired tools); empty without a stable revision."""
    generation: int | None = None
    """metadata.generation, copied into the conditions' observedGeneration."""

    @property
    def canary_ready(self) -> bool:
        """Whether the canary has all the pods it should, and at least one."""
        return self.canary_wanted_replicas > 0 and (
            self.canary_ready_replicas >= self.canary_wanted_replicas)


@dataclass(frozen=True)
class RolloutEvent:
    """A Kubernetes Event to emit on the ToolService."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    """What to do now. Write the status first, then the annotation, then emit the events."""

    rollout: RolloutStatus | None
    """The new status.rollout; None when there is no rollout to show."""
    stable_revision: str
    """The revision the stable Deployment runs (status.stableRevision)."""
    stable_version: str | None
    """spec.version of that revision (status.stableVersion)."""
    canary_revision: str | None
    """The revision the canary Deployment runs; None: no canary Deployment (delete it)."""
    canary_version: str | None
    """status.canaryVersion: the canary's version while it runs."""
    canary_weight: int
    """Percent of traffic for the canary (0 without one); see replica_split."""
    analyze: AnalysisKey | None = None
    """When set, run the analysis now and pass the result back under this key."""
    promoted: bool = False
    """This call promoted the canary: it is now the stable revision."""
    rolled_back: bool = False
    """This call rolled the canary back after failed analyses."""
    conditions: tuple[Condition, ...] = ()
    """Conditions to set, lastTransitionTime already kept where the status did not change."""
    events: tuple[RolloutEvent, ...] = ()
    """Events for what changed in this call (none when nothing did)."""
    requeue_after: float | None = None
    """Seconds until the next decision is due (0: at once); None: wait for a change."""
    applied_control: str | None = None
    """Write this to the toolfleet.io/rollout-control-applied annotation; None: leave it."""

    @property
    def run_analysis(self) -> bool:
        """Whether the shell should run the analysis now."""
        return self.analyze is not None

    def apply(self, status: ToolServiceStatus) -> ToolServiceStatus:
        """`status` with this decision's rollout fields and conditions written in."""
        conditions = list(status.conditions)
        for condition in self.conditions:
            conditions = set_condition(conditions, condition)
        return status.model_copy(update={
            "rollout": self.rollout,
            "stable_revision": self.stable_revision,
            "stable_version": self.stable_version,
            "canary_version": self.canary_version,
            "conditions": conditions,
        })


def replica_split(total: int, weight: int) -> tuple[int, int]:
    """Split `total` replicas into (stable, canary) for a canary `weight` in percent.

    The canary gets ceil(total * weight / 100): rounding up so that a small
    weight still runs a pod. Two floors apply when they can: the canary keeps at
    least 1 replica while weight > 0, and the stable keeps at least 1 while
    weight < 100. The two always sum to `total`, so with total 1 and a weight
    strictly between 0 and 100 both floors cannot hold; the stable keeps the
    pod (it serves production) and the canary gets none. Replica-ratio routing
    therefore needs at least 2 replicas to run a canary.
    """
    if total < 0:
        raise ValueError(f"total replicas must be >= 0 (got {total})")
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be a percentage from 0 to 100 (got {weight})")
    if weight == 0:
        return total, 0
    if weight == 100:
        return 0, total
    if total < 2:
        return total, 0
    canary = min(max(math.ceil(total * weight / 100), 1), total - 1)
    return total - canary, canary


def decide(spec: ToolServiceSpec, status: ToolServiceStatus, observed: Observed,
           now: datetime) -> Decision:
    """The next step of the rollout; pure and idempotent (see the module docstring)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
    return _Decider(spec, status, observed, now).decide()


# -- internals ------------------------------------------------------------


@dataclass
class _Plan:
    """The outcome of one call, before conditions and canary fields are derived."""

    rollout: RolloutStatus | None
    stable_revision: str
    stable_version: str | None
    events: list[RolloutEvent] = field(default_factory=list)
    analyze: AnalysisKey | None = None
    promoted: bool = False
    rolled_back: bool = False
    requeue_after: float | None = None


class _Decider:
    def __init__(self, spec: ToolServiceSpec, status: ToolServiceStatus, observed: Observed,
                 now: datetime) -> None:
        self.spec = spec
        self.status = status
        self.observed = observed
        self.now = now.astimezone(UTC)
        self.stamp = self.now.strftime(_TIME_FORMAT)
        self.desired = observed.desired_revision
        self.steps: Sequence[CanaryStep] = spec.rollout.steps
        self.analysis: Analysis | None = spec.rollout.analysis
        allowed = spec.rollout.allow_breaking_schema_change
        self.breaks = observed.incompatibilities
        self.blocked = bool(self.breaks) and not allowed
        self.ignored: list[RolloutEvent] = []

    # -- entry ---------------------------------------------------------

    def decide(self) -> Decision:
        notes: list[RolloutEvent] = []
        value = self.observed.control
        fresh = bool(value) and value != self.observed.applied_control
        control = self._parse_control(value, notes) if fresh and value else None
        record = fresh
        moved, plan = self._structural()
        if plan is None:
            plan = (self._controlled(control) if control is not None else None) or (
                self._progress())
        elif control is not None:
            if moved:
                # A control that arrives with a new revision applies to the new
                # rollout on the next call: leave it unrecorded until then.
                record = False
            else:
                self._ignore(control.action, "no rollout is in progress")
        return self._finish(plan, notes, record)

    def _parse_control(self, value: str, notes: list[RolloutEvent]) -> RolloutControl | None:
        try:
            return RolloutControl.parse(value)
        except ControlError as err:
            notes.append(RolloutEvent("Warning", "InvalidRolloutControl", str(err)))
            return None

    # -- structure: which revision should be where ------------------------

    def _structural(self) -> tuple[bool, _Plan | None]:
        """Plans that follow from the revisions alone, and whether they change anything.

        None when a rollout of the desired revision exists: controls and the
        clock decide then.
        """
        current = self.status.rollout
        stable = self.observed.stable_revision
        if stable is None:
            return True, self._direct(current, "the first revision of the service")
        strategy = self.spec.rollout.strategy
        if strategy != RolloutStrategy.canary.value or not self.steps:
            if self.desired == stable:
                if current is not None and _active(current):
                    return True, self._direct(current, "the spec no longer asks for a canary")
                return False, self._steady(current)
            if self.blocked:
                return False, self._held_by_schema()
            why = ("strategy rolling" if strategy != RolloutStrategy.canary.value
                   else "a canary without steps")
            return True, self._direct(current, why)
        if self.desired == stable:
            if current is not None and _active(current) and current.revision != stable:
                return True, self._reverted(current)
            return False, self._steady(current)
        if current is None or current.revision != self.desired:
            return True, self._start(replacing=current if _active(current) else None)
        return False, None

    def _direct(self, current: RolloutStatus | None, why: str) -> _Plan:
        """The desired revision becomes stable without a canary."""
        plan = _Plan(rollout=None, stable_revision=self.desired,
                     stable_version=self.spec.version)
        if self.observed.stable_revision != self.desired:
            plan.events.append(RolloutEvent(
                "Normal", "RevisionDeployed",
                f"revision {self.desired} (version {self.spec.version}) becomes stable "
                f"directly: {why}"))
        if current is not None and _active(current):
            plan.events.append(RolloutEvent(
                "Normal", "CanaryDropped",
                f"canary of revision {current.revision} dropped: {why}"))
        return plan

    def _held_by_schema(self) -> _Plan:
        """Strategy rolling with a breaking change: keep the stable revision."""
        plan = self._steady(None)
        if not _condition_is(self.status, ROLLOUT_HEALTHY, "False", "BreakingSchemaChange"):
            plan.events.append(RolloutEvent("Warning", "BreakingSchemaChange",
                                            self._block_message()))
        return plan

    def _steady(self, rollout: RolloutStatus | None) -> _Plan:
        stable = self.observed.stable_revision or self.desired
        version = self.status.stable_version
        if version is None and stable == self.desired:
            version = self.spec.version
        return _Plan(rollout=rollout, stable_revision=stable, stable_version=version)

    def _reverted(self, current: RolloutStatus) -> _Plan:
        plan = self._steady(_with(
            current, phase=RolloutPhase.aborted.value, weight=0,
            message=f"spec reverted to the stable revision {self.desired}; canary of revision "
                    f"{current.revision} dropped"))
        plan.events.append(RolloutEvent(
            "Normal", "CanaryDropped",
            f"spec reverted to the stable revision {self.desired}: canary of revision "
            f"{current.revision} (version {current.version}) dropped"))
        return plan

    def _start(self, replacing: RolloutStatus | None = None,
               retry: bool = False) -> _Plan:
        plan = self._steady(None)
        if replacing is not None:
            plan.events.append(RolloutEvent(
                "Normal", "RolloutRestarted",
                f"revision {self.desired} (version {self.spec.version}) replaces the canary of "
                f"revision {replacing.revision} mid-rollout; starting again from step 1"))
        if self.blocked:
            plan.rollout = RolloutStatus(
                revision=self.desired, version=self.spec.version, weight=0, step=0,
                phase=RolloutPhase.progressing.value, step_started_at=None,
                message=self._block_message())
            plan.events.append(RolloutEvent("Warning", "BreakingSchemaChange",
                                            self._block_message()))
            return plan
        first = self.steps[0]
        plan.rollout = RolloutStatus(
            revision=self.desired, version=self.spec.version, weight=first.weight, step=0,
            phase=RolloutPhase.progressing.value, step_started_at=self.stamp,
            message=self._holding_message(0, self.now))
        plan.requeue_after = float(self._hold(first))
        verb = "retried" if retry else "started"
        plan.events.append(RolloutEvent(
            "Normal", "RolloutStarted",
            f"canary of version {self.spec.version} (revision {self.desired}) {verb} at "
            f"{first.weight}% (step 1/{len(self.steps)})"))
        if self.breaks:
            plan.events.append(RolloutEvent(
                "Warning", "BreakingSchemaChange",
                "allowed by rollout.allowBreakingSchemaChange: " + _listing(self.breaks)))
        return plan

    # -- controls ---------------------------------------------------------

    def _controlled(self, control: RolloutControl) -> _Plan | None:
        """Apply a new control to the rollout of the desired revision (or to none).

        Returns None when the control changes nothing, after noting why in an event.
        """
        current = self.status.rollout
        action = control.action
        if current is None or current.revision != self.desired:
            self._ignore(action, "no rollout is in progress")
            return None
        phase = current.phase
        started = current.step_started_at is not None
        if action is ControlAction.pause:
            if phase == RolloutPhase.progressing.value and started:
                return self._paused(current)
            self._ignore(action, "the rollout is " + _phase_words(current))
            return None
        if action is ControlAction.resume:
            if phase == RolloutPhase.paused.value:
                return self._resumed(current)
            if phase in (RolloutPhase.rolled_back.value, RolloutPhase.aborted.value):
                return self._start(retry=True)
            self._ignore(action, "the rollout is " + _phase_words(current))
            return None
        if action is ControlAction.abort:
            if phase in _ACTIVE:
                return self._aborted(current)
            self._ignore(action, "the rollout is " + _phase_words(current))
            return None
        if phase == RolloutPhase.promoted.value:
            self._ignore(action, "the rollout is already promoted")
            return None
        if self.blocked:
            self._ignore(action, "the rollout is blocked by a breaking schema change; set "
                                 "rollout.allowBreakingSchemaChange to allow it")
            return None
        return self._promoted(current, "promoted by rollout-control")

    def _ignore(self, action: ControlAction, why: str) -> None:
        self.ignored.append(RolloutEvent(
            "Normal", "RolloutControlIgnored",
            f"{CONTROL_ANNOTATION} {action.value} ignored: {why}"))

    def _paused(self, current: RolloutStatus) -> _Plan:
        held = self._elapsed(current, self.now)
        i = self._step_index(current)
        message = (f"paused by rollout-control at step {i + 1}/{len(self.steps)} after "
                   f"{_seconds(held)} of {self._hold(self.steps[i])}s held; resume, promote "
                   "or abort")
        plan = self._steady(_with(current, phase=RolloutPhase.paused.value, message=message))
        plan.events.append(RolloutEvent("Normal", "RolloutPaused", message))
        return plan

    def _resumed(self, current: RolloutStatus) -> _Plan:
        # The clock restarts where it stopped: shift the step's start by the pause.
        paused_at = _paused_at(self.status)
        started = _parse_time(current.step_started_at)
        held = 0.0
        if paused_at is not None and started is not None:
            held = max(0.0, (paused_at - started).total_seconds())
        shifted = (self.now - timedelta(seconds=held)).strftime(_TIME_FORMAT)
        i = self._step_index(current)
        hold = self._hold(self.steps[i])
        resumed = _with(current, phase=RolloutPhase.progressing.value, step_started_at=shifted,
                          message=self._holding_message(i, _parse_time(shifted) or self.now))
        plan = self._steady(resumed)
        plan.requeue_after = max(0.0, hold - held)
        plan.events.append(RolloutEvent(
            "Normal", "RolloutResumed",
            f"resumed at step {i + 1}/{len(self.steps)} with {_seconds(held)} of {hold}s held"))
        return plan

    def _aborted(self, current: RolloutStatus) -> _Plan:
        stable = self.observed.stable_revision
        plan = self._steady(_with(
            current, phase=RolloutPhase.aborted.value, weight=0,
            message=f"aborted by rollout-control; the stable revision {stable} keeps serving. "
                    "Resume to retry from step 1, or revert the spec"))
        plan.events.append(RolloutEvent(
            "Warning", "RolloutAborted",
            f"canary of version {current.version} (revision {current.revision}) aborted; "
            f"stable revision {stable} keeps serving"))
        return plan

    # -- the clock --------------------------------------------------------

    def _progress(self) -> _Plan:
        current = self.status.rollout
        assert current is not None and current.revision == self.desired
        phase = current.phase
        if phase == RolloutPhase.promoted.value:
            # Promotion writes stableRevision with the phase; this only repairs
            # a status that lost one of the two.
            plan = self._steady(current)
            plan.stable_revision, plan.stable_version = current.revision, current.version
            return plan
        if phase != RolloutPhase.progressing.value:
            return self._steady(current)
        started_text = current.step_started_at
        if started_text is None:
            return self._steady(current) if self.blocked else self._start()
        started = _parse_time(started_text)
        i = self._step_index(current)
        step = self.steps[i]
        current = _with(current, step=i, weight=step.weight)
        if started is None:
            # An unreadable clock restarts the step rather than guessing.
            plan = self._steady(_with(current, step_started_at=self.stamp,
                                        message=self._holding_message(i, self.now)))
            plan.requeue_after = float(self._hold(step))
            return plan
        elapsed = (self.now - started).total_seconds()
        hold = self._hold(step)
        if elapsed < hold:
            plan = self._steady(current)
            plan.requeue_after = hold - elapsed
            return plan
        if not self.observed.canary_ready:
            plan = self._steady(_with(current, message=(
                f"step {i + 1}/{len(self.steps)}: canary at {step.weight}%, waiting for its "
                f"pods ({self.observed.canary_ready_replicas}/"
                f"{self.observed.canary_wanted_replicas} ready)")))
            plan.requeue_after = POLL_SECONDS
            return plan
        if self.analysis is None:
            return self._advance(current, i, "held for its pause")
        key = AnalysisKey(revision=current.revision, step=i, step_started_at=started_text)
        result = self.observed.analysis
        if result is None or result.key != key:
            plan = self._steady(_with(current, message=(
                f"step {i + 1}/{len(self.steps)}: canary at {step.weight}%, analysing")))
            plan.analyze = key
            plan.requeue_after = POLL_SECONDS
            return plan
        return self._judge(current, i, result.result, self.analysis)

    def _judge(self, current: RolloutStatus, i: int, result: AnalysisResult,
               analysis: Analysis) -> _Plan:
        if result.outcome == Outcome.passed:
            return self._advance(current, i, f"analysis passed ({result.message})")
        step = self.steps[i]
        if result.outcome == Outcome.inconclusive:
            plan = self._steady(_with(
                current, step_started_at=self.stamp,
                message=f"step {i + 1}/{len(self.steps)} held again: analysis inconclusive "
                        f"({result.message})"))
            plan.requeue_after = float(self._hold(step))
            plan.events.append(RolloutEvent("Normal", "AnalysisInconclusive", result.message))
            return plan
        failures = current.failures + 1
        if failures > analysis.failure_limit:
            return self._rolled_back(current, failures, result)
        plan = self._steady(_with(
            current, failures=failures, step_started_at=self.stamp,
            message=f"step {i + 1}/{len(self.steps)} held again: analysis failed "
                    f"({failures} of {analysis.failure_limit} tolerated): {result.message}"))
        plan.requeue_after = float(self._hold(step))
        plan.events.append(RolloutEvent(
            "Warning", "AnalysisFailed",
            f"failure {failures} of {analysis.failure_limit} tolerated: {result.message}"))
        return plan

    def _advance(self, current: RolloutStatus, i: int, why: str) -> _Plan:
        if i + 1 >= len(self.steps):
            return self._promoted(current, f"last step {why}")
        following = self.steps[i + 1]
        plan = self._steady(_with(
            current, step=i + 1, weight=following.weight, step_started_at=self.stamp,
            message=self._holding_message(i + 1, self.now)))
        plan.requeue_after = float(self._hold(following))
        plan.events.append(RolloutEvent(
            "Normal", "CanaryStepAdvanced",
            f"canary of version {current.version} at {following.weight}% (step {i + 2}/"
            f"{len(self.steps)}): step {i + 1} {why}"))
        return plan

    def _promoted(self, current: RolloutStatus, why: str) -> _Plan:
        promoted = _with(
            current, phase=RolloutPhase.promoted.value, weight=100,
            message=f"promoted: version {current.version} (revision {current.revision}) is "
                    f"stable; {why}")
        plan = _Plan(rollout=promoted, stable_revision=current.revision,
                     stable_version=current.version, promoted=True)
        plan.events.append(RolloutEvent(
            "Normal", "CanaryPromoted",
            f"version {current.version} (revision {current.revision}) promoted to stable: "
            f"{why}"))
        return plan

    def _rolled_back(self, current: RolloutStatus, failures: int,
                     result: AnalysisResult) -> _Plan:
        plan = self._steady(_with(
            current, phase=RolloutPhase.rolled_back.value, weight=0, failures=failures,
            message=f"rolled back after {failures} failed analyses: {result.message}"))
        plan.rolled_back = True
        plan.events.append(RolloutEvent(
            "Warning", "CanaryRolledBack",
            f"canary of version {current.version} (revision {current.revision}) rolled back: "
            f"{result.message}"))
        return plan

    # -- output -----------------------------------------------------------

    def _finish(self, plan: _Plan, notes: list[RolloutEvent], consumed: bool) -> Decision:
        rollout = plan.rollout
        running = (rollout is not None and rollout.phase in _ACTIVE
                   and rollout.step_started_at is not None
                   and rollout.revision != plan.stable_revision)
        conditions = tuple(
            self._condition(type_, state, reason, message)
            for type_, state, reason, message in self._condition_values(plan)
        )
        return Decision(
            rollout=rollout,
            stable_revision=plan.stable_revision,
            stable_version=plan.stable_version,
            canary_revision=rollout.revision if running and rollout else None,
            canary_version=rollout.version if running and rollout else None,
            canary_weight=rollout.weight if running and rollout else 0,
            analyze=plan.analyze,
            promoted=plan.promoted,
            rolled_back=plan.rolled_back,
            conditions=conditions,
            events=tuple([*notes, *self.ignored, *plan.events]),
            requeue_after=plan.requeue_after,
            applied_control=self.observed.control if consumed else None,
        )

    def _condition_values(self, plan: _Plan) -> list[tuple[str, _State, str, str]]:
        """(type, status, reason, message) of the rollout's conditions, from the new state.

        Derived from state, not from the transition, so a repeated call gives
        the same conditions. Progressing and Degraded are given only while the
        rollout has something to say; otherwise the Deployment's view stands.
        """
        rollout = plan.rollout
        stable = plan.stable_revision
        if self.desired != stable and self.blocked and (
                rollout is None or rollout.step_started_at is None) and (
                rollout is None or rollout.phase == RolloutPhase.progressing.value):
            message = self._block_message()
            return [(PROGRESSING, "False", "BreakingSchemaChange", message),
                    (DEGRADED, "True", "BreakingSchemaChange", message),
                    (ROLLOUT_HEALTHY, "False", "BreakingSchemaChange", message)]
        if rollout is not None and rollout.revision == self.desired and self.desired != stable:
            message = rollout.message
            if rollout.phase == RolloutPhase.progressing.value:
                healthy: tuple[str, _State, str, str] = (ROLLOUT_HEALTHY, "True",
                                                         "CanaryHealthy", message)
                if rollout.failures:
                    healthy = (ROLLOUT_HEALTHY, "True", "AnalysisFailuresTolerated",
                               f"{rollout.failures} failed analyses so far, within the "
                               "failure limit")
                return [(PROGRESSING, "True", "CanaryProgressing", message), healthy]
            if rollout.phase == RolloutPhase.paused.value:
                # Unknown while paused, and its lastTransitionTime is the pause
                # instant that resume reads back.
                return [(PROGRESSING, "Unknown", "RolloutPaused", message),
                        (ROLLOUT_HEALTHY, "Unknown", "RolloutPaused", message)]
            if rollout.phase == RolloutPhase.rolled_back.value:
                return [(PROGRESSING, "False", "CanaryRolledBack", message),
                        (DEGRADED, "True", "CanaryRolledBack", message),
                        (ROLLOUT_HEALTHY, "False", "AnalysisFailed", message)]
            if rollout.phase == RolloutPhase.aborted.value:
                return [(PROGRESSING, "False", "RolloutAborted", message),
                        (DEGRADED, "True", "RolloutAborted", message),
                        (ROLLOUT_HEALTHY, "False", "RolloutAborted", message)]
        if rollout is not None and rollout.phase == RolloutPhase.promoted.value and (
                rollout.revision == stable):
            return [(ROLLOUT_HEALTHY, "True", "CanaryPromoted", rollout.message)]
        return [(ROLLOUT_HEALTHY, "True", "Stable",
                 f"revision {stable} serves all traffic")]

    def _condition(self, type_: str, state: _State, reason: str, message: str) -> Condition:
        previous = find(self.status.conditions, type_)
        since = self.stamp
        if previous is not None and previous.status == state:
            since = previous.last_transition_time
        return Condition(type=type_, status=state, reason=reason, message=message,
                         last_transition_time=since,
                         observed_generation=self.observed.generation)

    # -- small helpers ----------------------------------------------------

    def _hold(self, step: CanaryStep) -> int:
        if self.analysis is None:
            return step.pause_seconds
        return max(step.pause_seconds, self.analysis.interval_seconds)

    def _step_index(self, current: RolloutStatus) -> int:
        # Steps may have been edited mid-rollout (rollout settings are not part
        # of the revision): stay within the list.
        return min(current.step, len(self.steps) - 1)

    def _elapsed(self, current: RolloutStatus, at: datetime) -> float:
        started = _parse_time(current.step_started_at)
        return 0.0 if started is None else max(0.0, (at - started).total_seconds())

    def _holding_message(self, i: int, started: datetime) -> str:
        step = self.steps[i]
        due = (started.replace(microsecond=0) + timedelta(seconds=self._hold(step))).strftime(
            _TIME_FORMAT)
        then = "analysis" if self.analysis is not None else (
            "the next step" if i + 1 < len(self.steps) else "promotion")
        return (f"step {i + 1}/{len(self.steps)}: canary at {step.weight}% until {due}, "
                f"then {then}")

    def _block_message(self) -> str:
        return ("blocked by a breaking tool schema change: " + _listing(self.breaks)
                + "; restore compatibility, or set spec.rollout.allowBreakingSchemaChange to "
                  "roll out anyway")


def _with(rollout: RolloutStatus, **changes: object) -> RolloutStatus:
    return rollout.model_copy(update=changes)


def _listing(breaks: Sequence[Incompatibility]) -> str:
    shown = [f"{b.message} (at {b.path})" for b in breaks[:LISTED_INCOMPATIBILITIES]]
    more = len(breaks) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _active(rollout: RolloutStatus | None) -> bool:
    return rollout is not None and rollout.phase in _ACTIVE


def _phase_words(rollout: RolloutStatus) -> str:
    if rollout.phase == RolloutPhase.progressing.value and rollout.step_started_at is None:
        return "blocked before its first step"
    return str(rollout.phase).lower().replace("rolledback", "rolled back")


def _condition_is(status: ToolServiceStatus, type_: str, state: str, reason: str) -> bool:
    condition = find(status.conditions, type_)
    return condition is not None and condition.status == state and condition.reason == reason


def _paused_at(status: ToolServiceStatus) -> datetime | None:
    condition = find(status.conditions, ROLLOUT_HEALTHY)
    if condition is None or condition.status != "Unknown":
        return None
    return _parse_time(condition.last_transition_time)


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_WHOLE = re.compile(r"\.0+$")


def _seconds(value: float) -> str:
    return _WHOLE.sub("", f"{value:.1f}") + "s"
