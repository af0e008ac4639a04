"""The canary state machine, driven through whole rollouts by a small stand-in for the shell."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from toolfleet.api.conditions import ConditionType, Reason
from toolfleet.api.toolservice import (
    Analysis,
    CanaryStep,
    InputSchema,
    Rollout,
    Tool,
    ToolServiceSpec,
    ToolServiceStatus,
)
from toolfleet.jsonschema.compat import compare_tool_schemas
from toolfleet.rollout.analysis import AnalysisKey, AnalysisResult, Outcome, StepAnalysis
from toolfleet.rollout.canary import Decision, Observed, analysis_due, decide
from toolfleet.rollout.control import (
    APPLIED_CONTROL_ANNOTATION,
    CONTROL_ANNOTATION,
    ControlAction,
)
from toolfleet.rollout.revision import revision_of
from toolfleet.rollout.steps import POLL_SECONDS

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
PROMETHEUS = "http://prometheus.monitoring:9090"
QUERY = 'sum(rate(toolfleet_tool_requests_total{outcome="error"}[30s]))'


def tool(required: list[str] | None = None) -> Tool:
    schema = InputSchema.model_validate({
        "type": "object", "properties": {"k": {"type": "integer"}}, "required": required or [],
    })
    return Tool(name="segment_customers", description="Segment customers.", input_schema=schema)


def spec(version: str = "1.0.0", *, steps: tuple[tuple[int, int], ...] = ((20, 60), (50, 60)),
         analysis: bool = False, failure_limit: int = 0, strategy: str = "canary",
         allow_breaking: bool = False, required: list[str] | None = None,
         inconclusive_limit: int = 3, deadline: int = 600,
         on_deadline: str = "rollback") -> ToolServiceSpec:
    return ToolServiceSpec(
        version=version, image=f"toolfleet/segmenter:{version}", tools=[tool(required)],
        rollout=Rollout(
            strategy=strategy,
            steps=[CanaryStep(weight=w, pause_seconds=p) for w, p in steps],
            analysis=Analysis(prometheus_url=PROMETHEUS, interval_seconds=30,
                              failure_limit=failure_limit,
                              inconclusive_limit=inconclusive_limit) if analysis else None,
            allow_breaking_schema_change=allow_breaking,
            progress_deadline_seconds=deadline,
            progress_deadline_action=on_deadline,
        ),
    )


def passed() -> AnalysisResult:
    return AnalysisResult(outcome=Outcome.passed, message="error rate 0 is within the limit 0.05",
                          query=QUERY, value=0.0)


def failed(value: float = 0.25) -> AnalysisResult:
    return AnalysisResult(outcome=Outcome.failed, query=QUERY, value=value,
                          message=f"error rate {value} is over the limit 0.05 (query: {QUERY})")


def inconclusive() -> AnalysisResult:
    return AnalysisResult.inconclusive("no canary traffic in the last 30s")


class Metrics:
    """Prometheus, as far as the tests need it: one verdict per analysis key.

    Asking again for the same key (after a restart, say) gives the same verdict,
    as the same window of real metrics would.
    """

    def __init__(self, *verdicts: AnalysisResult) -> None:
        self.queue = list(verdicts)
        self.answers: dict[AnalysisKey, AnalysisResult] = {}

    def __call__(self, key: AnalysisKey) -> AnalysisResult:
        if key not in self.answers:
            self.answers[key] = self.queue.pop(0) if self.queue else passed()
        return self.answers[key]


class Crashed(Exception):
    """The operator process died in the middle of a reconcile."""


@dataclass
class Shell:
    """What the kopf handler does around `decide`, with the cluster reduced to flags.

    Like the real handler, a reconcile asks `analysis_due` first, measures the
    analysis it names, and calls `decide` once with the result. Between
    reconciles nothing is kept but `status` and `annotations` (and the stable
    spec, which the real operator reads back from its stored revisions).
    """

    spec: ToolServiceSpec
    status: ToolServiceStatus = field(default_factory=ToolServiceStatus)
    annotations: dict[str, str] = field(default_factory=dict)
    stable_spec: ToolServiceSpec | None = None
    canary_ready: bool = True
    canary_problem: str | None = None
    # The revision the stable Deployment's pods all run, ready: the last one
    # applied, once `stable_pods_ready`.
    stable_deployed: str | None = None
    stable_pods_ready: bool = True
    # Why the canary's pods have no room (capacity.CapacityPlan.blocked); None: they have.
    no_room: str | None = None
    metrics: Metrics = field(default_factory=Metrics)
    events: list[tuple[str, str]] = field(default_factory=list)
    analyses: list[AnalysisKey] = field(default_factory=list)
    calls: list[tuple[ToolServiceStatus, Observed, datetime, Decision]] = field(
        default_factory=list)
    # Crash points, for restart tests: skip the annotation write, or die while
    # measuring an analysis (before anything of that reconcile is written).
    lose_annotation_write: bool = False
    die_before_analysis: bool = False

    def observe(self, analysis: StepAnalysis | None = None) -> Observed:
        breaks = tuple(compare_tool_schemas(self.stable_spec.tools, self.spec.tools)) if (
            self.stable_spec) else ()
        return Observed(
            desired_revision=revision_of(self.spec),
            stable_revision=self.status.stable_revision,
            canary_ready_replicas=1 if self.canary_ready else 0, canary_wanted_replicas=1,
            analysis=analysis,
            control=self.annotations.get(CONTROL_ANNOTATION),
            applied_control=self.annotations.get(APPLIED_CONTROL_ANNOTATION),
            incompatibilities=breaks, generation=3, canary_problem=self.canary_problem,
            stable_deployed_revision=self.stable_deployed if self.stable_pods_ready else None,
            # As reconcile.plan does: the room is judged at the stored weight,
            # so only for a rollout whose canary runs.
            insufficient_gpu=self.no_room if self.canary_runs() else None,
        )

    def canary_runs(self) -> bool:
        rollout = self.status.rollout
        return rollout is not None and rollout.phase in ("Progressing", "Paused") and (
            rollout.step_started_at is not None)

    def decide_once(self, now: datetime, analysis: StepAnalysis | None = None) -> Decision:
        observed = self.observe(analysis)
        before = self.status
        decision = decide(self.spec, self.status, observed, now)
        self.calls.append((before, observed, now, decision))
        self.status = decision.apply(self.status)
        self.stable_deployed = decision.stable_revision
        if decision.stable_revision == revision_of(self.spec):
            self.stable_spec = self.spec
        if decision.applied_control is not None and not self.lose_annotation_write:
            self.annotations[APPLIED_CONTROL_ANNOTATION] = decision.applied_control
        self.events += [(e.reason, e.message) for e in decision.events]
        return decision

    def reconcile(self, now: datetime) -> Decision:
        key = analysis_due(self.spec, self.status, self.observe(), now)
        if key is None:
            return self.decide_once(now)
        if self.die_before_analysis:
            raise Crashed(f"while measuring {key}")
        self.analyses.append(key)
        return self.decide_once(now, StepAnalysis(key, self.metrics(key)))

    def restarted(self) -> Shell:
        """A new operator process: only what the API server stores carries over."""
        return Shell(spec=self.spec, status=self.status, annotations=dict(self.annotations),
                     stable_spec=self.stable_spec, canary_ready=self.canary_ready,
                     canary_problem=self.canary_problem, stable_deployed=self.stable_deployed,
                     stable_pods_ready=self.stable_pods_ready, no_room=self.no_room,
                     metrics=self.metrics, events=list(self.events))

    def control(self, action: str, nonce: str = "1") -> None:
        self.annotations[CONTROL_ANNOTATION] = f"{action}:{nonce}"

    def reasons(self) -> list[str]:
        return [reason for reason, _ in self.events]

    def condition(self, type_: str) -> tuple[str, str, str]:
        found = next(c for c in self.status.conditions if c.type == type_)
        return found.status, found.reason, found.message


def deployed(stable: ToolServiceSpec, desired: ToolServiceSpec, **kwargs: Any) -> Shell:
    """A shell whose service already runs `stable` and whose spec now asks for `desired`."""
    shell = Shell(spec=stable, **kwargs)
    shell.reconcile(T0 - timedelta(hours=1))
    assert shell.status.stable_revision == revision_of(stable)
    shell.spec = desired
    shell.events.clear()
    return shell


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# -- whole rollouts ----------------------------------------------------------------


def test_healthy_rollout_walks_every_step_to_promotion() -> None:
    old = spec("1.0.0", steps=((10, 60), (50, 60), (80, 120)), analysis=True)
    new = spec("1.1.0", steps=((10, 60), (50, 60), (80, 120)), analysis=True)
    shell = deployed(old, new)
    rev = revision_of(new)

    first = shell.reconcile(at(0))
    assert (first.canary_revision, first.canary_weight) == (rev, 10)
    assert first.rollout is not None and first.rollout.step_started_at == "2026-03-01T12:00:00Z"
    assert first.requeue_after == 60 and not first.run_analysis
    assert first.stable_revision == revision_of(old)
    assert shell.condition("Progressing")[:2] == ("True", "CanaryProgressing")

    assert shell.reconcile(at(59)).requeue_after == 1
    assert shell.analyses == []
    second = shell.reconcile(at(60))
    assert shell.analyses == [AnalysisKey(rev, 0, "2026-03-01T12:00:00Z")]
    assert (second.rollout and second.rollout.step, second.canary_weight) == (1, 50)
    assert second.requeue_after == 60

    third = shell.reconcile(at(120))
    assert third.canary_weight == 80 and third.requeue_after == 120
    done = shell.reconcile(at(240))

    assert done.promoted and done.rollout is not None
    assert (done.rollout.phase, done.rollout.weight) == ("Promoted", 100)
    assert (done.stable_revision, done.stable_version) == (rev, "1.1.0")
    assert (done.canary_revision, done.canary_weight) == (None, 0)
    assert len(shell.analyses) == 3
    assert shell.reasons() == ["RolloutStarted", "CanaryStepAdvanced", "CanaryStepAdvanced",
                               "CanaryPromoted"]
    assert shell.status.stable_revision == rev and shell.status.canary_version is None
    # Until the promoted revision's pods are all ready, abort can still restore the old one.
    assert shell.condition("RolloutHealthy")[:2] == ("Unknown", "PromotionUnfinished")
    shell.reconcile(at(250))
    assert shell.condition("RolloutHealthy")[:2] == ("True", "CanaryPromoted")
    assert shell.status.rollout is not None and shell.status.rollout.previous_revision is None

    after = shell.reconcile(at(10_000))
    assert after.events == () and not after.promoted and after.requeue_after is None


def test_without_analysis_steps_advance_on_time() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    assert shell.reconcile(at(0)).canary_weight == 20
    assert shell.reconcile(at(30)).canary_weight == 20
    assert shell.reconcile(at(60)).canary_weight == 50
    done = shell.reconcile(at(120))
    assert done.promoted and shell.analyses == []


def test_a_step_waits_for_ready_canary_pods() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"), canary_ready=False)
    shell.reconcile(at(0))
    waiting = shell.reconcile(at(90))
    assert waiting.canary_weight == 20 and waiting.requeue_after == POLL_SECONDS
    assert waiting.rollout is not None and "waiting for its pods (0/1 ready)" in (
        waiting.rollout.message)
    shell.canary_ready = True
    assert shell.reconcile(at(95)).canary_weight == 50


def test_analysis_holds_a_step_at_least_one_interval() -> None:
    shell = deployed(spec("1.0.0", analysis=True, steps=((20, 0), (50, 0))),
                     spec("1.1.0", analysis=True, steps=((20, 0), (50, 0))))
    assert shell.reconcile(at(0)).requeue_after == 30
    shell.reconcile(at(29))
    assert shell.analyses == []
    shell.reconcile(at(30))
    assert len(shell.analyses) == 1


def test_failure_at_first_analysis_rolls_back() -> None:
    shell = deployed(spec("1.0.0", analysis=True), spec("1.1.0", analysis=True),
                     metrics=Metrics(failed(0.25)))
    shell.reconcile(at(0))
    back = shell.reconcile(at(60))

    assert back.rolled_back and back.rollout is not None
    assert (back.rollout.phase, back.rollout.weight, back.rollout.failures) == ("RolledBack", 0, 1)
    assert (back.canary_revision, back.canary_weight) == (None, 0)
    assert back.stable_revision == revision_of(spec("1.0.0", analysis=True))
    status, reason, message = shell.condition("Degraded")
    assert (status, reason) == ("True", "CanaryRolledBack")
    assert QUERY in message and "0.25" in message
    assert shell.condition("RolloutHealthy")[:2] == ("False", "AnalysisFailed")
    assert shell.reasons()[-1] == "CanaryRolledBack"
    assert [e.type for e in back.events] == ["Warning"]

    later = shell.reconcile(at(5000))
    assert later.events == () and later.rollout == back.rollout and later.requeue_after is None


def test_failure_limit_is_respected() -> None:
    shell = deployed(spec("1.0.0", analysis=True, failure_limit=2),
                     spec("1.1.0", analysis=True, failure_limit=2),
                     metrics=Metrics(failed(), failed(), passed(), failed()))
    shell.reconcile(at(0))
    one = shell.reconcile(at(60))
    assert one.rollout is not None and (one.rollout.failures, one.rollout.step) == (1, 0)
    assert one.rollout.step_started_at == "2026-03-01T12:01:00Z"  # the step holds again
    assert one.canary_weight == 20 and one.requeue_after == 60
    assert shell.condition("RolloutHealthy")[:2] == ("True", "AnalysisFailuresTolerated")

    two = shell.reconcile(at(120))
    assert two.rollout is not None and (two.rollout.failures, two.rollout.step) == (2, 0)
    advanced = shell.reconcile(at(180))
    assert advanced.rollout is not None
    assert (advanced.rollout.step, advanced.rollout.failures) == (1, 2)

    back = shell.reconcile(at(240))
    assert back.rolled_back and back.rollout is not None and back.rollout.failures == 3
    assert shell.reasons().count("AnalysisFailed") == 2


def test_inconclusive_analysis_holds_the_step_without_counting() -> None:
    shell = deployed(spec("1.0.0", analysis=True), spec("1.1.0", analysis=True),
                     metrics=Metrics(inconclusive(), passed()))
    shell.reconcile(at(0))
    held = shell.reconcile(at(60))
    assert held.rollout is not None and held.rollout.failures == 0 and held.rollout.step == 0
    assert "inconclusive" in held.rollout.message and held.requeue_after == 60
    assert shell.reconcile(at(120)).canary_weight == 50


def test_a_stale_analysis_result_is_ignored() -> None:
    shell = deployed(spec("1.0.0", analysis=True), spec("1.1.0", analysis=True))
    shell.reconcile(at(0))
    stale = StepAnalysis(AnalysisKey(revision_of(shell.spec), 0, "2026-03-01T11:00:00Z"), failed())
    decision = shell.decide_once(at(60), stale)
    assert decision.run_analysis and decision.rollout is not None
    assert decision.rollout.failures == 0 and decision.events == ()


# -- user controls -----------------------------------------------------------------


def test_pause_and_resume_keep_the_time_already_held() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.control("pause")
    paused = shell.reconcile(at(40))
    assert paused.rollout is not None and paused.rollout.phase == "Paused"
    assert paused.canary_weight == 20 and paused.requeue_after is None
    assert paused.applied_control == "pause:1"
    assert shell.condition("Progressing")[:2] == ("Unknown", "RolloutPaused")

    idle = shell.reconcile(at(500))
    assert idle.rollout == paused.rollout and idle.events == ()

    shell.control("resume", "2")
    resumed = shell.reconcile(at(500))
    assert resumed.rollout is not None and resumed.rollout.phase == "Progressing"
    assert resumed.rollout.step_started_at == "2026-03-01T12:07:40Z"  # 500 s - 40 s held
    assert resumed.requeue_after == 20
    assert shell.reconcile(at(519)).canary_weight == 20
    assert shell.reconcile(at(520)).canary_weight == 50
    assert shell.reasons() == ["RolloutStarted", "RolloutPaused", "RolloutResumed",
                               "CanaryStepAdvanced"]


def paused_at_40s() -> Shell:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.control("pause")
    shell.reconcile(at(40))
    return shell


def test_pause_records_when_it_began_and_resume_clears_it() -> None:
    shell = paused_at_40s()
    assert shell.status.rollout is not None
    assert shell.status.rollout.paused_at == "2026-03-01T12:00:40Z"
    assert shell.status.to_wire()["rollout"]["pausedAt"] == "2026-03-01T12:00:40Z"
    shell.control("resume", "2")
    shell.reconcile(at(500))
    assert shell.status.rollout is not None and shell.status.rollout.paused_at is None
    assert "pausedAt" not in shell.status.to_wire()["rollout"]


def test_resume_reads_the_pause_start_from_paused_at() -> None:
    shell = paused_at_40s()
    # Conditions may be rewritten by others; the pause start no longer depends on them.
    shell.status = shell.status.model_copy(update={"conditions": []})
    shell.control("resume", "2")
    resumed = shell.reconcile(at(500))
    assert resumed.rollout is not None
    assert resumed.rollout.step_started_at == "2026-03-01T12:07:40Z"  # 500 s - 40 s held


def test_a_pause_recorded_by_an_older_operator_keeps_the_time_held() -> None:
    """Before pausedAt, the pause start was RolloutHealthy's lastTransitionTime (Unknown)."""
    wire = paused_at_40s().status.to_wire()
    del wire["rollout"]["pausedAt"]
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.status = ToolServiceStatus.model_validate(wire)
    healthy = next(c for c in shell.status.conditions if c.type == "RolloutHealthy")
    assert (healthy.status, healthy.last_transition_time) == ("Unknown", "2026-03-01T12:00:40Z")

    shell.control("resume", "2")
    resumed = shell.reconcile(at(500))
    assert resumed.rollout is not None and resumed.rollout.phase == "Progressing"
    assert resumed.rollout.step_started_at == "2026-03-01T12:07:40Z"  # 500 s - 40 s held
    assert resumed.requeue_after == 20
    assert "with 40s of 60s held" in shell.events[-1][1]


def test_abort_and_promote_end_a_pause() -> None:
    for action in ("abort", "promote"):
        shell = paused_at_40s()
        shell.control(action, "2")
        ended = shell.reconcile(at(50))
        assert ended.rollout is not None and ended.rollout.phase != "Paused"
        assert ended.rollout.paused_at is None


def test_abort_keeps_the_stable_revision_and_resume_retries() -> None:
    old, new = spec("1.0.0"), spec("1.1.0")
    shell = deployed(old, new)
    shell.reconcile(at(0))
    shell.reconcile(at(60))
    shell.control("abort")
    aborted = shell.reconcile(at(70))
    assert aborted.rollout is not None and aborted.rollout.phase == "Aborted"
    assert (aborted.canary_revision, aborted.canary_weight) == (None, 0)
    assert aborted.stable_revision == revision_of(old)
    assert shell.condition("Degraded")[:2] == ("True", "RolloutAborted")
    assert shell.reconcile(at(1000)).events == ()

    shell.control("resume", "2")
    retried = shell.reconcile(at(1000))
    assert retried.rollout is not None and (retried.rollout.phase, retried.rollout.step) == (
        "Progressing", 0)
    assert retried.canary_weight == 20 and "retried" in shell.events[-1][1]


def test_promote_now_skips_the_remaining_steps() -> None:
    shell = deployed(spec("1.0.0", analysis=True), spec("1.1.0", analysis=True))
    shell.reconcile(at(0))
    shell.control("promote")
    done = shell.reconcile(at(5))
    assert done.promoted and done.stable_revision == revision_of(shell.spec)
    assert done.rollout is not None and done.rollout.phase == "Promoted"
    assert shell.analyses == []


def test_a_control_is_applied_once_and_ignored_when_it_does_not_apply() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.control("resume")
    ignored = shell.reconcile(at(1))
    assert ignored.applied_control == "resume:1"
    assert [e.reason for e in ignored.events] == ["RolloutControlIgnored"]
    again = shell.reconcile(at(2))
    assert again.applied_control is None and again.events == ()


def test_a_stale_control_does_not_reach_the_next_rollout() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.control("promote")
    assert shell.reconcile(at(1)).promoted
    shell.spec = spec("1.2.0")
    nxt = shell.reconcile(at(2))
    assert nxt.rollout is not None and nxt.rollout.phase == "Progressing"
    assert not shell.reconcile(at(3)).promoted


def test_a_control_sent_with_a_new_revision_applies_to_the_new_rollout() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.control("pause")
    started = shell.reconcile(at(0))
    assert started.applied_control is None and started.rollout is not None
    paused = shell.reconcile(at(1))
    assert paused.rollout is not None and paused.rollout.phase == "Paused"


def test_unreadable_controls_are_reported_once_with_the_fix() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.annotations[CONTROL_ANNOTATION] = "promote"
    bad = shell.reconcile(at(1))
    [event] = bad.events
    assert event.type == "Warning" and "promote:$(date +%s)" in event.message
    assert bad.applied_control == "promote" and not bad.promoted
    assert shell.reconcile(at(2)).events == ()


# -- schema changes, strategy and revisions ----------------------------------------


def test_a_breaking_schema_change_blocks_before_step_one() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0", required=["k"]))
    blocked = shell.reconcile(at(0))
    assert blocked.rollout is not None
    assert (blocked.rollout.step_started_at, blocked.rollout.weight) == (None, 0)
    assert (blocked.canary_revision, blocked.canary_weight) == (None, 0)
    status, reason, message = shell.condition("Progressing")
    assert (status, reason) == ("False", "BreakingSchemaChange")
    assert "tool 'segment_customers': input property 'k' became required" in message
    assert "$.required" in message and "allowBreakingSchemaChange" in message
    assert shell.condition("Degraded")[:2] == ("True", "BreakingSchemaChange")
    assert shell.reasons() == ["BreakingSchemaChange"]

    assert shell.reconcile(at(600)).events == ()
    shell.control("promote")
    assert not shell.reconcile(at(601)).promoted

    shell.spec = spec("1.1.0", required=["k"], allow_breaking=True)
    started = shell.reconcile(at(700))
    assert started.canary_weight == 20


def test_a_blocked_rollout_cannot_be_paused_but_can_be_aborted() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0", required=["k"]))
    shell.reconcile(at(0))
    shell.control("pause")
    ignored = shell.reconcile(at(1))
    assert [e.reason for e in ignored.events] == ["RolloutControlIgnored"]
    assert "blocked before its first step" in ignored.events[0].message
    shell.control("abort", "2")
    aborted = shell.reconcile(at(2))
    assert aborted.rollout is not None and aborted.rollout.phase == "Aborted"
    assert shell.condition("Degraded")[:2] == ("True", "RolloutAborted")


def test_a_breaking_schema_change_may_be_allowed() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0", required=["k"], allow_breaking=True))
    started = shell.reconcile(at(0))
    assert started.canary_weight == 20
    assert [e.reason for e in started.events] == ["RolloutStarted", "BreakingSchemaChange"]
    assert started.events[1].type == "Warning" and "became required" in started.events[1].message


def test_rolling_strategy_makes_the_new_revision_stable_directly() -> None:
    shell = deployed(spec("1.0.0", strategy="rolling"), spec("1.1.0", strategy="rolling"))
    decision = shell.reconcile(at(0))
    assert decision.rollout is None and decision.canary_revision is None
    assert (decision.stable_revision, decision.stable_version) == (revision_of(shell.spec),
                                                                   "1.1.0")
    assert shell.reasons() == ["RevisionDeployed"]


def test_rolling_strategy_still_refuses_a_breaking_change() -> None:
    old = spec("1.0.0", strategy="rolling")
    shell = deployed(old, spec("1.1.0", strategy="rolling", required=["k"]))
    held = shell.reconcile(at(0))
    assert held.stable_revision == revision_of(old)
    assert shell.condition("Progressing")[:2] == ("False", "BreakingSchemaChange")
    assert shell.reconcile(at(1)).events == ()


def test_the_first_revision_becomes_stable_without_a_canary() -> None:
    shell = Shell(spec=spec("1.0.0"))
    first = shell.reconcile(T0)
    assert first.rollout is None and first.stable_revision == revision_of(shell.spec)
    assert shell.condition("RolloutHealthy")[:2] == ("True", "Stable")


def test_a_new_revision_mid_rollout_restarts_with_the_newest() -> None:
    shell = deployed(spec("1.0.0", analysis=True, failure_limit=3),
                     spec("1.1.0", analysis=True, failure_limit=3),
                     metrics=Metrics(failed()))
    shell.reconcile(at(0))
    assert shell.reconcile(at(60)).rollout.failures == 1  # type: ignore[union-attr]
    shell.spec = spec("1.2.0", analysis=True, failure_limit=3)
    restarted = shell.reconcile(at(70))
    assert restarted.rollout is not None
    assert (restarted.rollout.revision, restarted.rollout.version) == (revision_of(shell.spec),
                                                                       "1.2.0")
    assert (restarted.rollout.step, restarted.rollout.failures) == (0, 0)
    assert restarted.canary_revision == revision_of(shell.spec)
    assert [e.reason for e in restarted.events] == ["RolloutRestarted", "RolloutStarted"]


def test_reverting_the_spec_mid_rollout_drops_the_canary() -> None:
    old = spec("1.0.0")
    shell = deployed(old, spec("1.1.0"))
    shell.reconcile(at(0))
    shell.spec = old
    dropped = shell.reconcile(at(10))
    assert dropped.rollout is not None and dropped.rollout.phase == "Aborted"
    assert "reverted" in dropped.rollout.message
    assert (dropped.canary_revision, dropped.stable_revision) == (None, revision_of(old))
    assert [e.reason for e in dropped.events] == ["CanaryDropped"]
    assert all(c.type != "Degraded" for c in dropped.conditions)
    assert shell.condition("RolloutHealthy")[:2] == ("True", "Stable")


def test_now_must_carry_a_timezone() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(shell.spec, shell.status, shell.observe(), datetime(2026, 3, 1))


# -- every wait has a bound ------------------------------------------------------------


def test_inconclusive_analyses_past_the_limit_pause_the_rollout_and_say_how_to_go_on() -> None:
    options: dict[str, Any] = {"analysis": True, "inconclusive_limit": 2}
    shell = deployed(spec("1.0.0", **options), spec("1.1.0", **options),
                     metrics=Metrics(inconclusive(), inconclusive(), inconclusive()))
    shell.reconcile(at(0))
    for seconds in (60, 120):
        held = shell.reconcile(at(seconds))
        assert held.rollout is not None and held.rollout.phase == "Progressing"
    assert shell.condition("RolloutHealthy")[0] == "True"
    paused = shell.reconcile(at(180))

    assert paused.rollout is not None and paused.rollout.phase == "Paused"
    assert (paused.rollout.reason, paused.rollout.inconclusive) == ("AnalysisInconclusive", 3)
    status, reason, message = shell.condition("RolloutHealthy")
    assert (status, reason) == ("False", "AnalysisInconclusive")
    assert "resume" in message and "promote" in message and "abort" in message
    assert shell.condition("Progressing")[:2] == ("False", "AnalysisInconclusive")
    # The two rounds held said the same: one Event counted twice, not two texts.
    held_events = [m for r, m in shell.events if r == "AnalysisInconclusive"]
    assert len(held_events) == 3 and held_events[0] == held_events[1]
    assert paused.canary_weight == 20, "the canary keeps its weight while paused"
    assert shell.reconcile(at(3600)).events == (), "a pause waits for a person"

    shell.control("resume")
    resumed = shell.reconcile(at(3601))
    assert resumed.rollout is not None and resumed.rollout.inconclusive == 0
    assert resumed.rollout.reason is None
    # The step starts over: its analysis runs again once the pause has passed, and the
    # rollout goes on.
    analysed = len(shell.analyses)
    after = shell.reconcile(at(3601 + 61))
    assert len(shell.analyses) == analysed + 1
    assert after.rollout is not None and after.rollout.phase != "Paused"


def test_a_conclusive_analysis_resets_the_inconclusive_count() -> None:
    options: dict[str, Any] = {"analysis": True, "inconclusive_limit": 1,
                               "steps": ((20, 60), (50, 60), (80, 60))}
    shell = deployed(spec("1.0.0", **options), spec("1.1.0", **options),
                     metrics=Metrics(inconclusive(), passed(), inconclusive(), passed()))
    for seconds in (0, 60, 120, 180, 240):
        shell.reconcile(at(seconds))
    assert shell.status.rollout is not None and shell.status.rollout.phase == "Progressing"
    assert shell.status.rollout.step == 2


def test_canary_pods_never_ready_roll_back_at_the_progress_deadline() -> None:
    shell = deployed(spec("1.0.0", deadline=120), spec("1.1.0", deadline=120), canary_ready=False)
    shell.reconcile(at(0))
    waiting = shell.reconcile(at(60))
    assert waiting.rollout is not None and "waiting for its pods (0/1 ready)" in (
        waiting.rollout.message)
    assert waiting.requeue_after == POLL_SECONDS
    rolled = shell.reconcile(at(120))

    assert rolled.rolled_back and rolled.rollout is not None
    assert (rolled.rollout.phase, rolled.rollout.reason, rolled.canary_weight) == (
        "RolledBack", "CanaryNotReady", 0)
    assert "progressDeadlineSeconds (120s)" in rolled.rollout.message
    assert shell.condition("RolloutHealthy")[:2] == ("False", "CanaryNotReady")
    assert shell.condition("Degraded")[:2] == ("True", "CanaryRolledBack")
    assert [e.type for e in rolled.events] == ["Warning"]
    assert rolled.stable_revision == revision_of(spec("1.0.0"))


def test_a_failure_state_of_the_canary_pods_is_reported_with_its_message() -> None:
    shell = deployed(spec("1.0.0", deadline=300), spec("1.1.0", deadline=300), canary_ready=False)
    shell.canary_problem = (
        "pod x-canary-1: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu")
    shell.reconcile(at(0))
    waiting = shell.reconcile(at(5))
    assert waiting.rollout is not None and waiting.rollout.phase == "Progressing"

    status, reason, message = shell.condition("RolloutHealthy")
    assert (status, reason) == ("False", "CanaryNotReady")
    assert "Insufficient cpu" in message and "2026-03-01T12:05:00Z" in message
    shell.canary_problem, shell.canary_ready = None, True
    shell.reconcile(at(30))
    assert shell.condition("RolloutHealthy")[:2] == ("True", "CanaryHealthy")


def test_the_canary_deployments_own_deadline_stops_the_rollout_at_once() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"), canary_ready=False)
    shell.reconcile(at(0))
    stalled = decide(shell.spec, shell.status, replace(shell.observe(), canary_stalled=True),
                     at(5))
    assert stalled.rolled_back and stalled.rollout is not None
    assert "exceeded its progress deadline" in stalled.rollout.message


def test_progress_deadline_action_pause_keeps_the_canary_and_resume_starts_the_step_over() -> None:
    options: dict[str, Any] = {"deadline": 100, "on_deadline": "pause"}
    shell = deployed(spec("1.0.0", **options), spec("1.1.0", **options), canary_ready=False)
    shell.reconcile(at(0))
    paused = shell.reconcile(at(100))
    assert paused.rollout is not None and paused.rollout.phase == "Paused"
    assert paused.rollout.reason == "CanaryNotReady" and paused.canary_weight == 20
    assert shell.condition("RolloutHealthy")[:2] == ("False", "CanaryNotReady")
    assert shell.condition("Degraded")[:2] == ("True", "CanaryNotReady")

    shell.control("resume")
    resumed = shell.reconcile(at(500))
    assert resumed.rollout is not None and resumed.rollout.step_started_at == rfc(at(500))
    assert resumed.rollout.phase == "Progressing"


# -- guarded controls ----------------------------------------------------------------


def test_promote_without_ready_canary_pods_is_refused_with_the_numbers() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"), canary_ready=False)
    shell.reconcile(at(0))
    shell.control("promote")
    refused = shell.reconcile(at(5))

    assert not refused.promoted and refused.stable_revision == revision_of(spec("1.0.0"))
    [event] = refused.events
    assert (event.type, event.reason) == ("Warning", "PromotionRefused")
    assert "0 of 1 canary pod(s) ready at step 1/2 (20%)" in event.message
    assert "promote-force" in event.message
    assert refused.applied_control == "promote:1", "a refused control is not retried"

    shell.control("promote-force", nonce="2")
    forced = shell.reconcile(at(6))
    assert forced.promoted and forced.stable_revision == revision_of(spec("1.1.0"))


def test_abort_after_an_unfinished_promotion_restores_the_old_revision() -> None:
    old = spec("1.0.0")
    shell = deployed(old, spec("1.1.0"), canary_ready=False)
    shell.reconcile(at(0))
    shell.control("promote-force")
    shell.reconcile(at(5))
    shell.stable_pods_ready = False  # the promoted revision's pods do not come up
    shell.reconcile(at(10))
    assert shell.condition("RolloutHealthy")[:2] == ("Unknown", "PromotionUnfinished")

    shell.control("abort", nonce="2")
    aborted = shell.reconcile(at(20))

    assert (aborted.stable_revision, aborted.stable_version) == (revision_of(old), "1.0.0")
    assert aborted.rollout is not None and aborted.rollout.phase == "Aborted"
    assert aborted.canary_revision is None
    assert [e.reason for e in aborted.events] == ["RolloutAborted"]
    assert shell.condition("RolloutHealthy")[:2] == ("False", "RolloutAborted")


def test_abort_after_a_finished_promotion_is_ignored() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"))
    shell.reconcile(at(0))
    shell.control("promote")
    shell.reconcile(at(5))
    shell.reconcile(at(10))
    shell.control("abort", nonce="2")
    ignored = shell.reconcile(at(20))
    assert ignored.stable_revision == revision_of(spec("1.1.0"))
    assert [e.reason for e in ignored.events] == ["RolloutControlIgnored"]


def rfc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- restarts ------------------------------------------------------------------------

# name: (spec options, analysis verdicts in order, [(seconds, control set just before)])
SCENARIOS: dict[str, tuple[dict[str, Any], list[AnalysisResult], list[tuple[int, str | None]]]] = {
    "healthy": ({"analysis": True, "failure_limit": 1},
                [failed(), passed(), inconclusive(), passed()],
                [(t, None) for t in (0, 30, 60, 90, 120, 180, 240, 300, 400)]),
    "failing": ({"analysis": True, "failure_limit": 1, "steps": ((20, 60), (50, 60), (80, 60))},
                [passed(), failed(), failed()],
                [(t, None) for t in (0, 60, 61, 120, 150, 180, 240, 300)]),
    "paused": ({}, [],
               [(0, None), (20, "pause"), (50, None), (300, "resume"), (330, None),
                (340, None), (400, "promote"), (401, None)]),
    "aborted": ({"analysis": True}, [],
                [(0, None), (60, None), (61, "abort"), (90, None), (100, "resume"), (160, None),
                 (220, None), (221, None)]),
    "rolled back and retried": ({"analysis": True}, [failed(), passed(), passed()],
                                [(0, None), (60, None), (70, "resume"), (130, None),
                                 (190, None)]),
    "inconclusive": ({"analysis": True, "inconclusive_limit": 2},
                     [inconclusive(), passed(), inconclusive(), inconclusive(), inconclusive()],
                     [(t, None) for t in (0, 60, 120, 180, 240, 300, 360, 400)]),
    "canary never ready": ({"deadline": 150}, [],
                           [(t, None) for t in (0, 60, 100, 149, 150, 151, 200)]),
    "canary never ready, paused": ({"deadline": 150, "on_deadline": "pause"}, [],
                                   [(0, None), (60, None), (150, None), (160, "promote"),
                                    (170, None), (200, "promote-force"), (210, None)]),
    # Surge without a free GPU until second 100, when a blocking pod goes.
    "no room, then room": ({"room_from": 100}, [],
                           [(t, None) for t in (0, 30, 60, 100, 130, 160, 220, 280)]),
    "no room, aborted": ({"room_from": 10_000}, [],
                         [(0, None), (30, None), (60, "abort"), (90, None)]),
}
NO_ROOM = ("each canary pod needs 1 x nvidia.com/gpu; 0 free on 1 matching node(s): no room "
           "to surge 1 canary pod(s) beside stable 4")
# Scenarios whose canary pods never become ready.
NEVER_READY = {"canary never ready", "canary never ready, paused"}


def run(name: str, restart_at: int | None = None, crash: str | None = None) -> Shell:
    """Play a scenario; before call `restart_at` the operator restarts, after a `crash`."""
    options, verdicts, script = SCENARIOS[name]
    options = dict(options)
    room_from = options.pop("room_from", None)
    shell = deployed(spec("1.0.0", **options), spec("1.1.0", **options),
                     metrics=Metrics(*verdicts), canary_ready=name not in NEVER_READY)
    for index, (seconds, control) in enumerate(script):
        if room_from is not None:
            shell.no_room = NO_ROOM if seconds < room_from else None
        if control is not None:
            shell.control(control, nonce=str(index))
        if index == restart_at:
            if crash == "annotation":
                shell.lose_annotation_write = True
            if crash == "analysis":
                shell.die_before_analysis = True
            with contextlib.suppress(Crashed):
                shell.reconcile(at(seconds))
            shell = shell.restarted()
        else:
            shell.reconcile(at(seconds))
    return shell


def transitions(shell: Shell) -> list[str]:
    # Controls without effect (ignored, or refused) are reported again when
    # the record of having seen them was lost; they change nothing.
    return [reason for reason in shell.reasons()
            if reason not in ("RolloutControlIgnored", "PromotionRefused")]


def test_the_scenarios_reach_their_intended_ends() -> None:
    ends = {name: run(name).status.rollout for name in SCENARIOS}
    assert {name: r.phase if r else None for name, r in ends.items()} == {
        "healthy": "Promoted", "failing": "RolledBack", "paused": "Promoted",
        "aborted": "Promoted", "rolled back and retried": "Promoted", "inconclusive": "Paused",
        "canary never ready": "RolledBack", "canary never ready, paused": "Promoted",
        "no room, then room": "Promoted", "no room, aborted": "Aborted"}
    assert ends["inconclusive"] is not None and ends["inconclusive"].step == 1
    assert ends["inconclusive"].reason == "AnalysisInconclusive"
    assert ends["canary never ready"] is not None
    assert ends["canary never ready"].reason == "CanaryNotReady"
    assert "PromotionRefused" in run("canary never ready, paused").reasons()
    assert "RolloutAborted" in transitions(run("aborted"))
    assert "CanaryRolledBack" in transitions(run("rolled back and retried"))
    assert "AnalysisInconclusive" in transitions(run("healthy"))
    assert transitions(run("no room, then room")) == [
        "RolloutStarted", "InsufficientGPU", "RolloutResumed", "CanaryStepAdvanced",
        "CanaryPromoted"]


def test_a_canary_without_room_pauses_with_insufficient_gpu_and_goes_on_when_it_fits() -> None:
    shell = deployed(spec("1.0.0"), spec("1.1.0"), no_room=NO_ROOM)
    shell.reconcile(at(0))
    paused = shell.reconcile(at(5))
    assert paused.rollout is not None
    assert (paused.rollout.phase, paused.rollout.reason) == ("Paused", "InsufficientGPU")
    assert paused.rollout.message == f"paused: {NO_ROOM}"
    assert shell.condition("Progressing") == ("False", "InsufficientGPU", f"paused: {NO_ROOM}")
    # The step's clock stands still while paused, however long it lasts.
    assert shell.reconcile(at(500)).rollout == paused.rollout
    shell.no_room = None
    resumed = shell.reconcile(at(600))
    assert resumed.rollout is not None and resumed.rollout.phase == "Progressing"
    assert (resumed.rollout.step, resumed.rollout.step_started_at) == (0, "2026-03-01T12:10:00Z")
    assert shell.reasons()[-1] == "RolloutResumed"


@pytest.mark.parametrize("name", SCENARIOS)
def test_feeding_a_decision_back_with_the_same_clock_changes_nothing(name: str) -> None:
    shell = run(name)
    for before, observed, now, decision in shell.calls:
        status = decision.apply(before)
        promoted = status.stable_revision == observed.desired_revision
        again_observed = replace(
            observed, stable_revision=status.stable_revision,
            applied_control=decision.applied_control or observed.applied_control,
            incompatibilities=() if promoted else observed.incompatibilities)
        again = decide(shell.spec, status, again_observed, now)
        assert again.events == (), (before.rollout, decision.rollout)
        assert again.rollout == decision.rollout
        assert (again.stable_revision, again.canary_weight) == (decision.stable_revision,
                                                                decision.canary_weight)
        assert not again.promoted and not again.rolled_back
        assert again.applied_control is None
        assert again.analyze == decision.analyze
        assert again.apply(status) == status


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_restart_at_any_point_ends_where_an_uninterrupted_run_does(name: str) -> None:
    reference = run(name)
    for restart_at in range(len(SCENARIOS[name][2])):
        restarted = run(name, restart_at=restart_at)
        assert restarted.status == reference.status, restart_at
        assert restarted.annotations == reference.annotations
        assert restarted.events == reference.events


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_crash_before_recording_a_control_does_not_apply_it_twice(name: str) -> None:
    reference = run(name)
    for restart_at in range(len(SCENARIOS[name][2])):
        crashed = run(name, restart_at=restart_at, crash="annotation")
        assert crashed.status == reference.status, restart_at
        assert crashed.annotations == reference.annotations
        assert transitions(crashed) == transitions(reference)


# With controls at fixed times, a delayed analysis may meet a control it would
# have missed; the claim is about the clock alone.
@pytest.mark.parametrize("name", [n for n, (_, _, script) in SCENARIOS.items()
                                  if not any(control for _, control in script)])
def test_a_crash_before_an_analysis_only_delays_it(name: str) -> None:
    reference = run(name)
    for restart_at in range(len(SCENARIOS[name][2])):
        crashed = run(name, restart_at=restart_at, crash="analysis")
        assert crashed.status.rollout is not None and reference.status.rollout is not None
        assert crashed.status.rollout.phase == reference.status.rollout.phase, restart_at
        assert crashed.status.stable_revision == reference.status.stable_revision
        assert transitions(crashed) == transitions(reference), restart_at


# -- random walks --------------------------------------------------------------------

MOVES = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 150)),
    st.tuples(st.just("control"), st.sampled_from([a.value for a in ControlAction])),
    st.tuples(st.just("ready"), st.booleans()),
    st.tuples(st.just("spec"), st.sampled_from(["1.0.0", "1.1.0", "1.2.0", "breaking"])),
    st.tuples(st.just("allow"), st.booleans()),
    st.tuples(st.just("room"), st.booleans()),
)
VERDICTS = st.lists(st.sampled_from([passed(), failed(), inconclusive()]), max_size=8)


def assert_decision_invariants(decision: Decision, stable_before: set[str | None],
                               desired: str, weights: set[int]) -> None:
    """Whatever happened before: the stable revision is the old or the desired one (or, for an
    abort of an unfinished promotion, the one it replaced), weights are the configured steps,
    failures are bounded, and a canary means a rollout under way."""
    assert decision.stable_revision in stable_before | {desired}
    assert decision.canary_weight in weights
    rollout = decision.rollout
    if rollout is not None:
        assert rollout.weight in weights
        assert rollout.failures <= 2
        assert (rollout.paused_at is not None) == (rollout.phase == "Paused")
    assert all(isinstance(e.reason, Reason) for e in decision.events)
    assert all(c.type in set(ConditionType) and c.reason in set(Reason)
               for c in decision.conditions)
    if decision.canary_revision is not None:
        assert rollout is not None and rollout.phase in ("Progressing", "Paused")
        assert decision.canary_revision == desired != decision.stable_revision


@settings(max_examples=40, deadline=None)
@given(st.lists(MOVES, max_size=25), VERDICTS, st.booleans())
# An abort of a promotion whose pods were not ready restores the revision it replaced.
@example(moves=[("wait", 0), ("control", "promote"), ("control", "abort")], verdicts=[],
         analysed=False)
def test_any_walk_keeps_the_invariants(moves: list[tuple[str, Any]],
                                       verdicts: list[AnalysisResult], analysed: bool) -> None:
    options: dict[str, Any] = {"analysis": analysed, "failure_limit": 1,
                               "steps": ((10, 30), (40, 0), (70, 60))}
    allow = False

    def make(version: str) -> ToolServiceSpec:
        if version == "breaking":
            return spec("2.0.0", required=["k"], allow_breaking=allow, **options)
        return spec(version, allow_breaking=allow, **options)

    shell = deployed(make("1.0.0"), make("1.1.0"), metrics=Metrics(*verdicts))
    version, seconds = "1.1.0", 0
    weights = {0, 100} | {w for w, _ in options["steps"]}
    for nonce, (kind, value) in enumerate(moves):
        if kind == "wait":
            seconds += value
        elif kind == "control":
            shell.control(value, nonce=str(nonce))
        elif kind == "ready":
            shell.canary_ready = value
        elif kind == "room":
            shell.no_room = None if value else NO_ROOM
        elif kind == "allow":
            allow = value
            shell.spec = make(version)
        else:
            version = value
            shell.spec = make(version)
        rollout_before = shell.status.rollout
        stable_before = {shell.status.stable_revision,
                         rollout_before and rollout_before.previous_revision}
        decision = shell.reconcile(at(seconds))

        assert_decision_invariants(decision, stable_before, revision_of(shell.spec), weights)
        before, observed, now, last = shell.calls[-1]
        pending = observed.control not in (None, observed.applied_control) and (
            last.applied_control is None)
        no_room_yet = shell.no_room is not None and last.rollout is not None and (
            last.rollout.phase == "Progressing")
        if pending or last.requeue_after == 0 or no_room_yet:
            # Due on the next call: a control that came with a new revision, a
            # step without a pause, or the pause of a canary (started or resumed
            # in this call) without room. Anything else must be a fixed point.
            continue
        status = last.apply(before)
        again = decide(shell.spec, status, replace(
            observed, stable_revision=status.stable_revision,
            applied_control=last.applied_control or observed.applied_control,
            incompatibilities=() if status.stable_revision == observed.desired_revision
            else observed.incompatibilities), now)
        assert again.events == () and again.rollout == last.rollout


@pytest.mark.parametrize("own", [Reason.apply_failed, Reason.deployment_failing])
def test_a_failure_of_the_children_or_pods_stands_over_the_rollouts_degraded(
        own: Reason) -> None:
    from toolfleet.api.conditions import condition
    from toolfleet.api.toolservice import ToolServiceStatus
    from toolfleet.status.conditions import find

    now = "2026-06-01T12:00:00Z"
    aborted = condition(ConditionType.degraded, True, Reason.rollout_aborted, "aborted",
                        generation=2, now=now)
    decision = Decision(rollout=None, stable_revision="abc", stable_version="1.0.0",
                        canary_revision=None, canary_version=None, canary_weight=0,
                        conditions=(aborted,))
    failing = ToolServiceStatus(conditions=[condition(
        ConditionType.degraded, True, own, "the stable's pods fail", generation=2, now=now)])
    kept = find(decision.apply(failing).conditions, ConditionType.degraded)
    assert kept is not None and kept.reason == own
    healthy = ToolServiceStatus(conditions=[condition(
        ConditionType.degraded, False, Reason.as_expected, "", generation=2, now=now)])
    said = find(decision.apply(healthy).conditions, ConditionType.degraded)
    assert said is not None and said.reason == Reason.rollout_aborted
