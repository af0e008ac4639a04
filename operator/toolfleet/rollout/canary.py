"""The canary state machine: from (spec, status, what was observed, now) to the next step.

`decide` is pure. Everything it remembers lives in the ToolService's status
(`status.rollout`, `status.stableRevision`) and in one annotation the operator
writes, so an operator restart at any moment loses nothing.

The shell, once per reconcile: gather `Observed`; when `analysis_due` names a
step attempt, measure it (`prometheus.measure`) and pass the result in
`Observed.analysis`; call `decide`; write the status (`Decision.apply`), the
annotation (`Decision.applied_control`), then the events; size the canary with
`traffic.canary_replicas(..., Decision.canary_weight)`.

This module decides which revision runs where; `steps.py` walks the steps of a
rollout under way, `control.py` reads the user's controls (a control sent
with a new revision applies to the new rollout on the next call), and
`conditions.py` derives the conditions.

- A new revision (a pod-affecting spec change, see `revision.py`) starts a
  canary at step 0; after its last step it becomes the stable revision.
- A breaking tool schema change (see `jsonschema/compat.py`) between the
  stable and the new revision blocks the rollout before step 0 unless
  `rollout.allowBreakingSchemaChange` is set; promote does not bypass it. A
  rollout already past the check is not stopped when the setting is turned
  off later. Under strategy rolling it holds the stable revision in place.
- Yet another revision mid-rollout restarts the rollout with the newest one.
- A spec reverted to the stable revision mid-rollout drops the canary; the
  record stays as phase Aborted, and no condition reports a problem, since
  the spec and what serves agree again.
- A canary whose pods have no room (`Observed.insufficient_gpu`) pauses
  with reason InsufficientGPU, and resumes by itself once they have.
- Strategy rolling, a canary with no steps, and the very first revision of a
  service (nothing to compare against) become stable directly.

Each call makes at most one transition, and only from the state it is given:
feeding the returned status back with the same clock changes nothing, so a
control re-applied after a crash between the two writes changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from toolfleet.api.common import Condition
from toolfleet.api.conditions import ConditionType, Reason
from toolfleet.api.toolservice import (
    RolloutPhase,
    RolloutStatus,
    RolloutStrategy,
    ToolServiceSpec,
    ToolServiceStatus,
)
from toolfleet.jsonschema.compat import Incompatibility
from toolfleet.rollout.analysis import AnalysisKey, StepAnalysis
from toolfleet.rollout.conditions import rollout_conditions
from toolfleet.rollout.control import (
    CONTROL_ANNOTATION,
    ControlAction,
    ControlError,
    RolloutControl,
    ignored,
    why_ignored,
)
from toolfleet.rollout.events import RolloutEvent
from toolfleet.rollout.schema_gate import SchemaGate
from toolfleet.rollout.steps import (
    ACTIVE_PHASES,
    INSUFFICIENT_GPU,
    PodsView,
    Steps,
    Transition,
    pause_start,
)
from toolfleet.status.conditions import find, set_condition


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
    """Pods the canary Deployment should have at the current weight (its spec.replicas)."""
    analysis: StepAnalysis | None = None
    """The result of the analysis `analysis_due` asked for, measured this reconcile."""
    control: str | None = None
    """The value of the toolfleet.io/rollout-control annotation."""
    applied_control: str | None = None
    """The value of the toolfleet.io/rollout-control-applied annotation."""
    incompatibilities: tuple[Incompatibility, ...] = ()
    """compare_tool_schemas(stable tools, desired tools); empty without a stable revision."""
    generation: int = 0
    """metadata.generation, copied into the conditions' observedGeneration."""
    canary_problem: str | None = None
    """A failure state of the canary's pods, with the scheduler's or kubelet's message."""
    canary_stalled: bool = False
    """The canary Deployment reports ProgressDeadlineExceeded."""
    stable_deployed_revision: str | None = None
    """The revision all of the stable Deployment's pods run, ready; None while it rolls."""
    insufficient_gpu: str | None = None
    """Why the canary's pods have no room at the rollout's weight, and how to proceed
    (`capacity.CapacityPlan.blocked`); None: they have."""

    @property
    def canary_ready(self) -> bool:
        """Whether the canary has all the pods it should, and at least one."""
        return self.canary_wanted_replicas > 0 and (
            self.canary_ready_replicas >= self.canary_wanted_replicas)


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
    """Percent of traffic for the canary (0 without one); see traffic.canary_replicas."""
    analyze: AnalysisKey | None = None
    """The analysis this step waits for and `observed.analysis` did not hold."""
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
        """Whether this decision waits for an analysis that was not passed in."""
        return self.analyze is not None

    def apply(self, status: ToolServiceStatus) -> ToolServiceStatus:
        """`status` with this decision's rollout fields and conditions written in.

        A Degraded that `status` already holds for a failure of the children or
        the pods that serve (ApplyFailed, DeploymentFailing) stands over any
        Degraded of the rollout's (rolled back, aborted, CanaryNotReady,
        BreakingSchemaChange): it is what needs doing now, and the rollout's
        state stays in Progressing, RolloutHealthy and status.rollout.
        """
        conditions = list(status.conditions)
        failing = find(conditions, ConditionType.degraded)
        keep_degraded = failing is not None and failing.status == "True" and (
            failing.reason in (Reason.apply_failed, Reason.deployment_failing))
        for condition in self.conditions:
            if keep_degraded and condition.type == ConditionType.degraded:
                continue
            conditions = set_condition(conditions, condition)
        return status.model_copy(update={
            "rollout": self.rollout,
            "stable_revision": self.stable_revision,
            "stable_version": self.stable_version,
            "canary_version": self.canary_version,
            "conditions": conditions,
        })


def decide(spec: ToolServiceSpec, status: ToolServiceStatus, observed: Observed,
           now: datetime) -> Decision:
    """The next step of the rollout; pure and idempotent (see the module docstring).

    `now` must be timezone-aware (ValueError otherwise). A step waiting for its
    analysis judges `observed.analysis` when its key is this step attempt's,
    and otherwise asks for it in `Decision.analyze`.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now(UTC)")
    return _Decider(spec, status, observed, now).decide()


def analysis_due(spec: ToolServiceSpec, status: ToolServiceStatus, observed: Observed,
                 now: datetime) -> AnalysisKey | None:
    """The analysis `decide` needs to take its next step now; None when it needs none.

    Measure it for revision `key.revision` and pass `StepAnalysis(key, result)`
    in `observed.analysis` to one `decide` call. It is the key `decide` asks
    for when given no result, so the two can never disagree; `observed.analysis`
    is ignored here. Raises ValueError as `decide` does.
    """
    return decide(spec, status, replace(observed, analysis=None), now).analyze


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
    """One call of `decide`: its inputs, and the controls it noted as ignored on the way."""

    def __init__(self, spec: ToolServiceSpec, status: ToolServiceStatus, observed: Observed,
                 now: datetime) -> None:
        self.spec = spec
        self.status = status
        self.observed = observed
        self.desired = observed.desired_revision
        self.steps = Steps(spec.rollout.steps, spec.rollout.analysis, now.astimezone(UTC),
                           deadline_seconds=spec.rollout.progress_deadline_seconds,
                           on_deadline=spec.rollout.progress_deadline_action)
        self.gate = SchemaGate(observed.incompatibilities,
                               allowed=spec.rollout.allow_breaking_schema_change)
        self.ignored: list[RolloutEvent] = []

    def decide(self) -> Decision:
        notes: list[RolloutEvent] = []
        value = self.observed.control
        fresh = bool(value) and value != self.observed.applied_control
        control = None
        if fresh and value:
            try:
                control = RolloutControl.parse(value)
            except ControlError as err:
                notes.append(RolloutEvent("Warning", Reason.invalid_rollout_control, str(err)))
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
                self.ignored.append(ignored(control.action, "no rollout is in progress"))
        return self._finish(plan, notes, record)

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
        if strategy != RolloutStrategy.canary.value or not self.steps.steps:
            if self.desired == stable:
                if _active(current):
                    return True, self._direct(current, "the spec no longer asks for a canary")
                return False, self._steady(current)
            if self.gate.closed:
                return False, self._held_by_schema()
            why = ("strategy rolling" if strategy != RolloutStrategy.canary.value
                   else "a canary without steps")
            return True, self._direct(current, why)
        if self.desired == stable:
            if current is not None and _active(current) and current.revision != stable:
                return True, self._moved(self.steps.drop(current, stable))
            if current is not None and current.revision == stable and (
                    current.phase == RolloutPhase.promoted.value):
                return False, None  # a promotion finishing: abort still applies
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
                "Normal", Reason.revision_deployed,
                f"revision {self.desired} (version {self.spec.version}) becomes stable "
                f"directly: {why}"))
        if current is not None and _active(current):
            plan.events.append(RolloutEvent(
                "Normal", Reason.canary_dropped,
                f"canary of revision {current.revision} dropped: {why}"))
        return plan

    def _held_by_schema(self) -> _Plan:
        """Strategy rolling with a breaking change: keep the stable revision."""
        plan = self._steady(None)
        reported = find(self.status.conditions, ConditionType.rollout_healthy)
        if reported is None or (reported.status, reported.reason) != (
                "False", Reason.breaking_schema_change):
            plan.events.append(self.gate.closed_event())
        return plan

    def _steady(self, rollout: RolloutStatus | None) -> _Plan:
        stable = self.observed.stable_revision or self.desired
        version = self.status.stable_version
        if version is None and stable == self.desired:
            version = self.spec.version
        return _Plan(rollout=rollout, stable_revision=stable, stable_version=version)

    def _start(self, replacing: RolloutStatus | None = None, retry: bool = False) -> _Plan:
        restarted = [] if replacing is None else [RolloutEvent(
            "Normal", Reason.rollout_restarted,
            f"revision {self.desired} (version {self.spec.version}) replaces the canary of "
            f"revision {replacing.revision} mid-rollout; starting again from step 1")]
        if self.gate.closed:
            plan = self._steady(RolloutStatus(
                revision=self.desired, version=self.spec.version, weight=0, step=0,
                phase=RolloutPhase.progressing.value, step_started_at=None,
                message=self.gate.message))
            plan.events = [*restarted, self.gate.closed_event()]
            return plan
        plan = self._moved(self.steps.start(self.desired, self.spec.version, retry=retry))
        plan.events[:0] = restarted
        if self.gate.breaks:
            plan.events.append(self.gate.passed_event())
        return plan

    # -- controls and the clock of the rollout under way ------------------

    def _controlled(self, control: RolloutControl) -> _Plan | None:
        """Apply a new control to the rollout of the desired revision (or to none).

        Returns None when the control changes nothing, after noting why in an event.
        """
        current = self.status.rollout
        action = control.action
        if current is None or current.revision != self.desired:
            self.ignored.append(ignored(action, "no rollout is in progress"))
            return None
        why = why_ignored(action, current, self.gate.closed)
        if why is not None:
            self.ignored.append(ignored(action, why))
            return None
        if action is ControlAction.pause:
            return self._moved(self.steps.pause(current))
        if action is ControlAction.resume:
            if current.phase != RolloutPhase.paused.value:
                return self._start(retry=True)
            return self._moved(self.steps.resume(
                current, pause_start(current, self.status.conditions)))
        if action is ControlAction.abort:
            if current.phase == RolloutPhase.promoted.value:
                return self._unpromoted(current)
            return self._moved(self.steps.abort(current, self.observed.stable_revision))
        if action is ControlAction.promote:
            refused = self._promotion_refused(current)
            if refused is not None:
                self.ignored.append(refused)
                return None
            return self._moved(self.steps.promote(current, "promoted by rollout-control"))
        return self._moved(self.steps.promote(
            current, "promoted by rollout-control promote-force"))

    def _promotion_refused(self, current: RolloutStatus) -> RolloutEvent | None:
        """The Warning that refuses `promote` while the canary lacks ready pods; None: go."""
        ready, wanted = self.observed.canary_ready_replicas, self.observed.canary_wanted_replicas
        needed = max(wanted, 1)
        if ready >= needed:
            return None
        where = (f"step {self.steps.index(current) + 1}/{len(self.steps.steps)} "
                 f"({current.weight}%)" if current.phase in ACTIVE_PHASES
                 else f"phase {current.phase}")
        return RolloutEvent(
            "Warning", Reason.promotion_refused,
            f"{CONTROL_ANNOTATION} promote refused: {ready} of {needed} canary pod(s) ready "
            f"at {where}; promoting would send traffic to pods that do not serve. Wait for "
            f"them, or use promote-force to promote anyway")

    def _unpromoted(self, current: RolloutStatus) -> _Plan:
        """Abort a promotion whose pods are not all ready: the previous revision again."""
        previous, version = current.previous_revision, current.previous_version
        assert previous is not None
        message = (f"aborted by rollout-control before the promotion finished; revision "
                   f"{previous} (version {version}) restored as stable. Resume to retry from "
                   "step 1, or revert the spec")
        aborted = current.model_copy(update={
            "phase": RolloutPhase.aborted.value, "weight": 0, "paused_at": None,
            "reason": None, "previous_revision": None, "previous_version": None,
            "message": message})
        plan = _Plan(rollout=aborted, stable_revision=previous, stable_version=version)
        plan.events.append(RolloutEvent(
            "Warning", Reason.rollout_aborted,
            f"promotion of version {current.version} (revision {current.revision}) aborted "
            f"before its pods were ready; revision {previous} (version {version}) restored"))
        return plan

    def _progress(self) -> _Plan:
        current = self.status.rollout
        assert current is not None and current.revision == self.desired
        if current.phase == RolloutPhase.promoted.value:
            # Promotion writes stableRevision with the phase; this only repairs
            # a status that lost one of the two.
            if (current.previous_revision is not None
                    and self.observed.stable_deployed_revision == current.revision):
                # Every pod of the promoted revision is ready: nothing left to abort to.
                current = current.model_copy(update={"previous_revision": None,
                                                     "previous_version": None})
            plan = self._steady(current)
            plan.stable_revision, plan.stable_version = current.revision, current.version
            return plan
        no_room = self.observed.insufficient_gpu
        if current.phase == RolloutPhase.paused.value and current.reason == INSUFFICIENT_GPU:
            if no_room is None:
                return self._moved(self.steps.resume(current, None))
            return self._moved(self.steps.no_room(current, no_room))
        if current.phase != RolloutPhase.progressing.value:
            return self._steady(current)
        if current.step_started_at is None:
            return self._steady(current) if self.gate.closed else self._start()
        if no_room is not None:
            return self._moved(self.steps.no_room(current, no_room))
        return self._moved(self.steps.tick(
            current, self.observed.canary_ready_replicas, self.observed.canary_wanted_replicas,
            self.observed.analysis, PodsView(self.observed.canary_problem,
                                             self.observed.canary_stalled)))

    def _moved(self, move: Transition) -> _Plan:
        """The plan of a step transition; a promotion makes the canary the stable revision."""
        plan = self._steady(move.rollout)
        if move.promoted:
            # Kept until the promoted revision's pods are all ready, for abort.
            move.rollout = move.rollout.model_copy(update={
                "previous_revision": plan.stable_revision,
                "previous_version": plan.stable_version})
            plan.rollout = move.rollout
            plan.stable_revision, plan.stable_version = move.rollout.revision, (
                move.rollout.version)
        plan.events = list(move.events)
        plan.requeue_after, plan.analyze = move.requeue_after, move.analyze
        plan.promoted, plan.rolled_back = move.promoted, move.rolled_back
        return plan

    # -- output -----------------------------------------------------------

    def _finish(self, plan: _Plan, notes: list[RolloutEvent], consumed: bool) -> Decision:
        rollout = plan.rollout
        canary = rollout if (rollout is not None and rollout.phase in ACTIVE_PHASES
                             and rollout.step_started_at is not None
                             and rollout.revision != plan.stable_revision) else None
        return Decision(
            rollout=rollout,
            stable_revision=plan.stable_revision,
            stable_version=plan.stable_version,
            canary_revision=canary.revision if canary else None,
            canary_version=canary.version if canary else None,
            canary_weight=canary.weight if canary else 0,
            analyze=plan.analyze,
            promoted=plan.promoted,
            rolled_back=plan.rolled_back,
            conditions=rollout_conditions(
                rollout, self.desired, plan.stable_revision,
                self.gate.message if self.gate.closed else None, self.status.conditions,
                self.observed.generation, self.steps.stamp),
            events=tuple([*notes, *self.ignored, *plan.events]),
            requeue_after=plan.requeue_after,
            applied_control=self.observed.control if consumed else None,
        )


def _active(rollout: RolloutStatus | None) -> bool:
    return rollout is not None and rollout.phase in ACTIVE_PHASES
