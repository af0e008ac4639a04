"""The steps of a rollout under way (rollout/steps.py), one transition at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.conditions import Reason
from toolfleet.api.toolservice import Analysis, CanaryStep, RolloutStatus
from toolfleet.rollout.analysis import AnalysisKey, AnalysisResult, Outcome, StepAnalysis
from toolfleet.rollout.steps import POLL_SECONDS, Steps, parse_rfc3339, rfc3339

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
STARTED = "2026-03-01T12:00:00Z"


def steps(seconds: float = 0, *, analysis: bool = False,
          pauses: tuple[int, ...] = (60, 60)) -> Steps:
    checks = Analysis(prometheus_url="http://prometheus:9090", interval_seconds=90,
                      failure_limit=1) if analysis else None
    return Steps([CanaryStep(weight=20 * (i + 1), pause_seconds=p) for i, p in enumerate(pauses)],
                 checks, T0 + timedelta(seconds=seconds))


def running(step: int = 0, started: str | None = STARTED, failures: int = 0) -> RolloutStatus:
    return RolloutStatus(revision="abc", version="1.1.0", weight=20 * (step + 1), step=step,
                         phase="Progressing", step_started_at=started, failures=failures)


def test_a_step_holds_for_its_pause_or_one_analysis_interval() -> None:
    assert steps().hold(0) == 60
    assert steps(analysis=True).hold(0) == 90
    assert steps(analysis=True, pauses=(120, 0)).hold(0) == 120


def test_start_opens_step_one_now() -> None:
    move = steps(5).start("abc", "1.1.0")
    assert (move.rollout.step, move.rollout.weight, move.rollout.phase) == (0, 20, "Progressing")
    assert move.rollout.step_started_at == "2026-03-01T12:00:05Z"
    assert move.requeue_after == 60
    assert [e.reason for e in move.events] == [Reason.rollout_started]
    assert move.rollout.message == (
        "step 1/2: canary at 20% until 2026-03-01T12:01:05Z, then the next step")


def test_tick_waits_out_the_hold() -> None:
    move = steps(45).tick(running(), ready=1, wanted=1, analysis=None)
    assert move.rollout == running() and move.requeue_after == 15 and move.events == []


def test_tick_waits_for_ready_pods_before_judging() -> None:
    move = steps(60).tick(running(), ready=1, wanted=2, analysis=None)
    assert move.requeue_after == POLL_SECONDS and move.rollout.step == 0
    assert move.rollout.message.endswith("waiting for its pods (1/2 ready)")
    assert steps(60).tick(running(), ready=0, wanted=0, analysis=None).rollout.step == 0


def test_tick_asks_for_the_analysis_of_this_step_attempt() -> None:
    move = steps(90, analysis=True).tick(running(), ready=1, wanted=1, analysis=None)
    assert move.analyze == AnalysisKey("abc", 0, STARTED)
    assert move.requeue_after == POLL_SECONDS and move.events == []


def test_tick_judges_only_the_result_for_its_key() -> None:
    failed = AnalysisResult(outcome=Outcome.failed, message="error rate 0.3 is over 0.05")
    other = StepAnalysis(AnalysisKey("abc", 0, "2026-03-01T11:00:00Z"), failed)
    assert steps(90, analysis=True).tick(running(), 1, 1, other).analyze is not None
    mine = StepAnalysis(AnalysisKey("abc", 0, STARTED), failed)
    held = steps(90, analysis=True).tick(running(), 1, 1, mine)
    assert held.rollout.failures == 1 and held.rollout.step_started_at == "2026-03-01T12:01:30Z"
    assert [(e.type, e.reason) for e in held.events] == [("Warning", Reason.analysis_failed)]
    back = steps(90, analysis=True).tick(running(failures=1), 1, 1, mine)
    assert back.rolled_back and back.rollout.phase == "RolledBack" and back.rollout.weight == 0


def test_the_last_step_promotes() -> None:
    move = steps(60).tick(running(step=1), ready=2, wanted=2, analysis=None)
    assert move.promoted and move.rollout.phase == "Promoted" and move.rollout.weight == 100
    assert [e.reason for e in move.events] == [Reason.canary_promoted]


def test_an_unreadable_step_start_restarts_the_step() -> None:
    move = steps(10).tick(running(started="yesterday"), ready=1, wanted=1, analysis=None)
    assert move.rollout.step_started_at == "2026-03-01T12:00:10Z" and move.requeue_after == 60


def test_steps_removed_mid_rollout_keep_the_index_in_range() -> None:
    assert steps(pauses=(60,)).index(running(step=1)) == 0


def test_pause_then_resume_shifts_the_step_start_by_the_pause() -> None:
    paused = steps(40).pause(running()).rollout
    assert (paused.phase, paused.paused_at) == ("Paused", "2026-03-01T12:00:40Z")
    resumed = steps(100).resume(paused, parse_rfc3339(paused.paused_at))
    assert resumed.rollout.step_started_at == "2026-03-01T12:01:00Z"  # 100 s - 40 s held
    assert resumed.rollout.paused_at is None and resumed.requeue_after == 20


def test_resume_without_a_known_pause_start_starts_the_step_over() -> None:
    resumed = steps(100).resume(running().model_copy(update={"phase": "Paused"}), None)
    assert resumed.rollout.step_started_at == "2026-03-01T12:01:40Z"
    assert resumed.requeue_after == 60


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 59), st.integers(0, 10_000))
def test_a_pause_of_any_length_keeps_the_time_held(held: int, pause: int) -> None:
    paused = steps(held).pause(running()).rollout
    resumed = steps(held + pause).resume(paused, parse_rfc3339(paused.paused_at))
    assert resumed.requeue_after == 60 - held
    assert steps(held + pause + 60 - held - 1).tick(resumed.rollout, 1, 1, None).rollout.step == 0
    assert steps(held + pause + 60 - held).tick(resumed.rollout, 1, 1, None).rollout.step == 1


def test_times_are_written_to_the_second_in_utc() -> None:
    moment = datetime(2026, 3, 1, 13, 0, 0, 700_000, tzinfo=UTC).astimezone()
    assert rfc3339(moment) == "2026-03-01T13:00:00Z"
    assert parse_rfc3339("2026-03-01T13:00:00Z") == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert parse_rfc3339("2026-03-01T13:00:00") == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert parse_rfc3339("soon") is None and parse_rfc3339(None) is None
