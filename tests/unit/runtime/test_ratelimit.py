"""The client-side rate limit (operator/toolfleet/runtime/ratelimit.py): client-go's QPS and burst.

A fake clock stands still unless a test moves it, and a fake sleep only records:
the tests check which request is let through when, never how fast anything runs.
"""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolfleet.runtime.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def bucket(qps: float, burst: int, clock: Clock) -> TokenBucket:
    return TokenBucket(qps, burst, clock=clock, sleep=clock.sleep)


def test_a_burst_goes_at_once_and_the_rest_at_the_rate_in_the_order_they_came() -> None:
    clock = Clock()
    limiter = bucket(qps=50, burst=100, clock=clock)

    waits = [limiter.take() for _ in range(103)]

    assert waits[:100] == [0.0] * 100
    assert waits[100:] == pytest.approx([0.02, 0.04, 0.06])


def test_a_quiet_spell_refills_the_bucket_but_never_past_the_burst() -> None:
    clock = Clock()
    limiter = bucket(qps=10, burst=5, clock=clock)
    for _ in range(5):
        limiter.take()

    clock.now += 0.3  # three tokens flowed in
    assert [limiter.take() for _ in range(4)] == pytest.approx([0, 0, 0, 0.1])

    clock.now += 3600  # an hour idle still saves five only
    assert [limiter.take() for _ in range(6)][-1] == pytest.approx(0.1)


@given(st.floats(min_value=0.5, max_value=200), st.integers(min_value=1, max_value=50),
       st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_no_stretch_of_time_lets_through_more_than_the_burst_and_the_rate(
        qps: float, burst: int, gaps: list[float]) -> None:
    clock = Clock()
    limiter = bucket(qps, burst, clock)
    start = clock.now
    granted = []
    for gap in gaps:
        clock.now += gap
        granted.append(clock.now + limiter.take())

    assert granted == sorted(granted)  # first come, first served
    for i, at in enumerate(granted):
        # Requests 0..i all went by `at`; the bucket holds `burst` at `start`.
        assert i + 1 <= burst + (at - start) * qps + 1e-6


def test_threads_sharing_one_bucket_each_get_a_turn_of_their_own() -> None:
    clock = Clock()
    limiter = bucket(qps=100, burst=10, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def taker() -> None:
        for _ in range(25):
            wait = limiter.take()
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=taker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 200 takes at a standing clock: ten at once, then one slot of 10 ms each, none shared.
    turns = sorted(round(wait * 100) for wait in waits)
    assert turns == [0] * 10 + list(range(1, 191))


@pytest.mark.parametrize(("qps", "burst"), [(0, 10), (-1, 10), (5, 0)])
def test_a_bucket_that_lets_nothing_through_is_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match="qps > 0 and burst >= 1"):
        TokenBucket(qps, burst)
