"""In-flight limits and passive outlier ejection of the addresses behind a revision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolfleet.gateway.backends import BackendLimits, BackendPool, Overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_calls_go_to_the_address_with_fewest_in_flight() -> None:
    pool = BackendPool(BackendLimits(max_in_flight=4))
    first = pool.acquire(["a", "b"])
    second = pool.acquire(["a", "b"])
    assert {first, second} == {"a", "b"}


def test_past_the_in_flight_limit_of_every_address_the_call_is_shed() -> None:
    pool = BackendPool(BackendLimits(max_in_flight=2))
    for _ in range(4):
        pool.acquire(["a", "b"])
    with pytest.raises(Overloaded) as shed:
        pool.acquire(["a", "b"])
    assert shed.value.retry_after > 0
    pool.release("a", success=True)
    assert pool.acquire(["a", "b"]) == "a"


def test_failures_in_a_row_eject_an_address_for_a_growing_while() -> None:
    clock = Clock()
    pool = BackendPool(BackendLimits(consecutive_failures=3, base_ejection_seconds=10), clock)
    for attempt in range(3):
        assert pool.acquire(["a", "b"], avoid=frozenset({"b"})) == "a"
        ejected = pool.release("a", success=False)
        assert ejected == (attempt == 2)
    assert pool.ejected("a")
    assert pool.acquire(["a", "b"]) == "b"
    clock.now = 10.5
    assert not pool.ejected("a")
    for _ in range(3):
        pool.acquire(["a"])
        pool.release("a", success=False)
    clock.now = 10.5 + 19
    assert pool.ejected("a")  # the second ejection lasts 20 s


def test_a_success_resets_the_count_and_a_call_without_verdict_counts_nothing() -> None:
    pool = BackendPool(BackendLimits(consecutive_failures=2))
    for success in (False, True, False, None, None):
        pool.acquire(["a"])
        assert not pool.release("a", success=success)
    assert pool.state("a").in_flight == 0


def test_when_every_address_is_ejected_they_are_all_still_used() -> None:
    pool = BackendPool(BackendLimits(consecutive_failures=1))
    for address in ("a", "b"):
        pool.acquire([address])
        pool.release(address, success=False)
    assert pool.acquire(["a", "b"]) in {"a", "b"}


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from([True, False, None])),
                max_size=60))
def test_in_flight_never_goes_negative_nor_past_the_limit(steps: list[tuple[str, bool | None]]
                                                          ) -> None:
    pool = BackendPool(BackendLimits(max_in_flight=3, consecutive_failures=2))
    held: list[str] = []
    for address, verdict in steps:
        if verdict is None and held:
            pool.release(held.pop(0), success=None)
            continue
        try:
            held.append(pool.acquire(["a", "b", "c"], avoid=frozenset(address)))
        except Overloaded:
            assert len(held) == 9
    for address in "abc":
        assert 0 <= pool.state(address).in_flight <= 3
