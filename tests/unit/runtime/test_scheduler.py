"""The work queue every reconcile runs through (operator/toolfleet/runtime/scheduler.py).

Delays are tiny, and waits are for a condition with a deadline: the tests check
order and lower bounds (a backoff never retries early), never how fast.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Hashable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from toolfleet.runtime.scheduler import Backoff, Retry, WorkQueue, resync

FAST = Backoff(base=0.01, cap=0.04, max_attempts=4)


class Recorder:
    """Work that records when each key ran, and fails or requeues as told."""

    def __init__(self, fail_times: int = 0, requeue: float | None = None,
                 hold: float = 0.0, error: type[Exception] = Retry) -> None:
        self.fail_times = fail_times
        self.requeue = requeue
        self.hold = hold
        self.error = error
        self.runs: list[tuple[Hashable, float]] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, key: Hashable) -> float | None:
        with self._lock:
            self.runs.append((key, time.monotonic()))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            failing = len(self.runs) <= self.fail_times
        try:
            time.sleep(self.hold)
            if failing:
                raise self.error("the API server answered 503")
            return self.requeue if len(self.runs) < 3 else None
        finally:
            with self._lock:
                self.running -= 1


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


async def with_queue(queue: WorkQueue, body: Callable[[], object]) -> None:
    task = asyncio.create_task(queue.run())
    try:
        result = body()
        if asyncio.iscoroutine(result):
            await result
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_temporary_failure_is_retried_with_growing_delays_until_it_succeeds() -> None:
    work = Recorder(fail_times=2)
    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add(("team-a", "forecaster"))
        await until(lambda: len(work.runs) == 3)
        await until(lambda: queue.failures == {})

    asyncio.run(with_queue(queue, scenario))
    times = [at for _, at in work.runs]
    assert times[1] - times[0] >= FAST.delay(0)
    assert times[2] - times[1] >= FAST.delay(1)


def test_retries_stop_at_the_bound() -> None:
    work = Recorder(fail_times=1000)
    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add("k")
        await until(lambda: len(work.runs) == FAST.max_attempts)
        # Past the bound nothing is due any more: the key waits for its next event.
        await until(lambda: queue.pending() == 0 and work.running == 0)
        await asyncio.sleep(FAST.cap * 3)

    asyncio.run(with_queue(queue, scenario))
    assert len(work.runs) == FAST.max_attempts


def test_giving_up_keeps_a_time_the_work_was_due_anyway() -> None:
    # A child refused for good must not drop a canary's next step: the failed work
    # says when it is due anyway, and that stands after the retries end.
    runs: list[float] = []

    def work(key: Hashable) -> float | None:
        runs.append(time.monotonic())
        raise Retry("quota exceeded", after=FAST.cap * 4)

    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add("k")
        await until(lambda: len(runs) == FAST.max_attempts + 1)

    asyncio.run(with_queue(queue, scenario))
    assert runs[-1] - runs[-2] >= FAST.cap * 4


def test_a_bug_is_not_retried() -> None:
    work = Recorder(fail_times=1000, error=KeyError)
    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add("k")
        await until(lambda: len(work.runs) == 1 and work.running == 0)
        await asyncio.sleep(FAST.cap * 3)

    asyncio.run(with_queue(queue, scenario))
    assert len(work.runs) == 1


def test_work_asks_to_run_again_after_a_delay() -> None:
    work = Recorder(requeue=0.02)
    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add("k")
        await until(lambda: len(work.runs) == 3)

    asyncio.run(with_queue(queue, scenario))
    times = [at for _, at in work.runs]
    assert times[1] - times[0] >= 0.02


def test_one_key_never_runs_twice_at_once_and_changes_meanwhile_are_not_lost() -> None:
    work = Recorder(hold=0.05)
    queue = WorkQueue(work, workers=4, backoff=FAST)

    async def scenario() -> None:
        queue.add("k")
        await until(lambda: work.running == 1)
        for _ in range(10):
            queue.add("k")
        await until(lambda: len(work.runs) == 2 and work.running == 0)
        await asyncio.sleep(0.1)

    asyncio.run(with_queue(queue, scenario))
    assert work.most_at_once == 1
    assert len(work.runs) == 2


def test_workers_bound_how_many_keys_run_at_once() -> None:
    work = Recorder(hold=0.02)
    queue = WorkQueue(work, workers=3, backoff=FAST)

    async def scenario() -> None:
        for i in range(12):
            queue.add(i)
        await until(lambda: len(work.runs) == 12 and work.running == 0)

    asyncio.run(with_queue(queue, scenario))
    assert 1 < work.most_at_once <= 3
    assert sorted(key for key, _ in work.runs) == list(range(12))  # type: ignore[type-var]


def test_every_worker_runs_at_once_however_few_cpus_the_machine_has() -> None:
    # Reconciles wait on the API server, not the CPU: 40 workers run 40 keys at once
    # (each here waits until all the others have started) on any machine.
    everyone = threading.Barrier(40, timeout=10)
    passed: list[Hashable] = []

    def work(key: Hashable) -> None:
        everyone.wait()
        passed.append(key)

    queue = WorkQueue(work, workers=40, backoff=FAST)

    async def scenario() -> None:
        for i in range(40):
            queue.add(i)
        await until(lambda: len(passed) == 40 or everyone.broken, timeout=20)

    asyncio.run(with_queue(queue, scenario))
    assert not everyone.broken
    assert sorted(passed) == list(range(40))  # type: ignore[type-var]


def test_the_earliest_due_time_wins() -> None:
    work = Recorder()
    queue = WorkQueue(work, backoff=FAST)

    async def scenario() -> None:
        queue.add("k", delay=60)
        queue.add("k", delay=0)
        await until(lambda: len(work.runs) == 1)

    asyncio.run(with_queue(queue, scenario))
    assert queue.pending() == 0


def test_resync_queues_every_key_only_while_this_replica_may_work() -> None:
    work = Recorder()
    queue = WorkQueue(work, backoff=FAST)
    active = [False]

    async def scenario() -> None:
        task = asyncio.create_task(resync(queue, lambda: ["a", "b"], every=0.01,
                                          active=lambda: active[0]))
        await asyncio.sleep(0.05)
        assert work.runs == []
        active[0] = True
        await until(lambda: {key for key, _ in work.runs} == {"a", "b"})
        task.cancel()

    asyncio.run(with_queue(queue, scenario))


def test_resyncs_are_counted_only_when_they_queue_the_keys() -> None:
    queue = WorkQueue(Recorder(), backoff=FAST)
    active = [False]

    def rounds() -> float:
        return REGISTRY.get_sample_value("toolfleet_resyncs_total") or 0.0

    before = rounds()

    async def scenario() -> None:
        task = asyncio.create_task(resync(queue, lambda: ["a"], every=0.01,
                                          active=lambda: active[0]))
        await asyncio.sleep(0.05)
        assert rounds() == before
        active[0] = True
        await until(lambda: rounds() >= before + 2)
        task.cancel()

    asyncio.run(with_queue(queue, scenario))


def test_the_depth_is_what_runs_or_is_due_not_what_waits_for_later() -> None:
    release = threading.Event()
    queue = WorkQueue(lambda key: release.wait(10) and None, workers=1, backoff=FAST)

    async def scenario() -> None:
        queue.add("running")
        await until(lambda: queue.depth() == 1 and queue.pending() == 0)
        queue.add("due")
        queue.add("paused canary", delay=600)
        assert (queue.depth(), queue.pending()) == (2, 2)
        release.set()
        await until(lambda: queue.depth() == 0)
        assert queue.pending() == 1

    asyncio.run(with_queue(queue, scenario))


@given(attempts=st.integers(min_value=0, max_value=200),
       base=st.floats(min_value=0.001, max_value=5), cap=st.floats(min_value=0.001, max_value=600))
def test_backoff_grows_and_never_passes_its_cap(attempts: int, base: float, cap: float) -> None:
    backoff = Backoff(base=base, cap=cap)
    assert 0 < backoff.delay(attempts) <= cap
    assert backoff.delay(attempts) <= backoff.delay(attempts + 1)
