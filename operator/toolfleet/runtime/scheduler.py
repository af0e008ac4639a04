"""One bounded scheduler for reconciles: a work queue keyed by object, as controllers use.

Every reason to reconcile an object (a watch event, a canary's pause ending, a
periodic resync, a retry) becomes `add(key, delay)`. The queue:

- runs a key at most once at a time; a key added while it runs runs again after;
- keeps the earliest due time when a key is added twice (no duplicate work);
- runs at most `workers` keys at once, on a thread pool of its own of that size
  (the API client blocks; asyncio's default pool, min(32, CPUs + 4) threads and
  shared with everything else, would cap the workers at a few on a small node);
- retries a key whose work raised `Retry` with capped exponential backoff
  (`base_delay * 2**n`, at most `max_delay`), at most `max_attempts` times in a
  row; then it logs and leaves the key to its next event or resync, so a
  failure that does not heal is never hot-looped;
- resets a key's backoff once its work succeeds.

The shape follows client-go's rate-limited work queue
(k8s.io/client-go/util/workqueue: ItemExponentialFailureRateLimiter).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from toolfleet.metrics import RESYNCS

log = logging.getLogger(__name__)


class Retry(Exception):
    """Raised by work that failed for a reason that may pass (API unavailable, conflict).

    `after`: seconds after which the work is due again whatever happens (a canary's
    pause ending); the retry comes no later, and giving up does not drop it.
    """

    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff: attempt n (from 0) waits base * 2**n, at most `cap` s."""

    base: float = 0.5
    cap: float = 30.0
    max_attempts: int = 10

    def delay(self, attempt: int) -> float:
        """Seconds before retry number `attempt` (0 is the first retry)."""
        return float(min(self.cap, self.base * (2 ** min(attempt, 30))))


# What work returns: seconds after which to run the key again (a canary's pause), or None.
Work = Callable[[Hashable], float | None]


class WorkQueue:
    """Keys due at times, worked by a bounded pool; see the module docstring."""

    def __init__(self, work: Work, *, workers: int = 4, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._work = work
        self._workers = max(1, workers)
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._due: dict[Hashable, float] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._order = itertools.count()
        self._running: set[Hashable] = set()
        self._again: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def failures(self) -> dict[Hashable, int]:
        """Consecutive failures of each key still being retried."""
        return dict(self._failures)

    def add(self, key: Hashable, delay: float = 0.0) -> None:
        """Run `key` after `delay` seconds (or sooner, if it is already due sooner)."""
        due = self._clock() + max(0.0, delay)
        if key in self._running and delay <= 0:
            self._again.add(key)
            return
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), key))
        self._wake.set()

    def add_threadsafe(self, key: Hashable, delay: float = 0.0) -> None:
        """`add` from a thread other than the queue's event loop."""
        if self._loop is None:
            raise RuntimeError("the work queue is not running")
        self._loop.call_soon_threadsafe(self.add, key, delay)

    def pending(self) -> int:
        """Keys waiting to run."""
        return len(self._due)

    def depth(self) -> int:
        """Keys running or due now (not those waiting for a later time): the backlog."""
        now = self._clock()
        return len(self._running) + sum(1 for due in self._due.values() if due <= now)

    async def run(self) -> None:
        """Work keys as they fall due, until cancelled."""
        self._loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(self._workers)
        tasks: set[asyncio.Task[None]] = set()
        threads = ThreadPoolExecutor(self._workers, thread_name_prefix="reconcile")
        loop = self._loop

        def run(key: Hashable) -> asyncio.Future[float | None]:
            return loop.run_in_executor(threads, self._work, key)

        try:
            while True:
                key = await self._next_due()
                await slots.acquire()
                self._running.add(key)
                task = asyncio.create_task(self._run_one(key, slots, run))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            for task in list(tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # Work already running finishes on its own (a thread cannot be stopped).
            threads.shutdown(wait=False, cancel_futures=True)

    async def _next_due(self) -> Hashable:
        while True:
            while self._heap:
                due, _, key = self._heap[0]
                if self._due.get(key) != due or key in self._running:
                    heapq.heappop(self._heap)  # superseded by an earlier add, or running
                    if key in self._running and self._due.get(key) == due:
                        self._again.add(key)
                        del self._due[key]
                    continue
                wait = due - self._clock()
                if wait <= 0:
                    heapq.heappop(self._heap)
                    del self._due[key]
                    return key
                break
            self._wake.clear()
            timeout = (self._heap[0][0] - self._clock()) if self._heap else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _run_one(self, key: Hashable, slots: asyncio.Semaphore,
                       run: Callable[[Hashable], asyncio.Future[float | None]]) -> None:
        try:
            again = await run(key)
        except Retry as err:
            attempt = self._failures.get(key, 0)
            if attempt + 1 >= self._backoff.max_attempts:
                self._failures.pop(key, None)
                log.error("giving up on %s after %d attempts: %s; the next change or resync "
                          "tries again", key, attempt + 1, err)
                self._running.discard(key)
                if err.after is not None:
                    self.add(key, err.after)
            else:
                self._failures[key] = attempt + 1
                delay = self._backoff.delay(attempt)
                if err.after is not None:
                    delay = min(delay, err.after)
                log.warning("%s failed (attempt %d): %s; retrying in %.1fs", key, attempt + 1,
                            err, delay)
                self._running.discard(key)
                self.add(key, delay)
            again = None
        except Exception:
            # A bug: log it with its traceback, and leave the key to its next event.
            log.exception("reconcile of %s failed", key)
            self._failures.pop(key, None)
            again = None
        else:
            self._failures.pop(key, None)
        finally:
            self._running.discard(key)
            slots.release()
        if again is not None:
            self.add(key, again)
        if key in self._again:
            self._again.discard(key)
            self.add(key)


async def resync(queue: WorkQueue, keys: Callable[[], list[Hashable]], *, every: float,
                 active: Callable[[], bool] | None = None) -> None:
    """Every `every` seconds, queue every key, so what no event reported is repaired.

    `active` (run in a thread: it may call the API server) says whether this
    replica may work now; a replica that kopf peering paused skips the round.
    """
    while True:
        await asyncio.sleep(every)
        if active is not None and not await asyncio.to_thread(active):
            continue
        current = keys()
        log.debug("resync of %d object(s)", len(current))
        for key in current:
            queue.add(key)
        RESYNCS.inc()
