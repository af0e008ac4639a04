"""The replica split (rollout/traffic.py): how many pods the canary runs for its weight."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.rollout.traffic import canary_replicas, replica_split


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 500), st.integers(0, 100))
def test_replica_split_adds_up_and_respects_the_floors(total: int, weight: int) -> None:
    stable, canary = replica_split(total, weight)
    assert stable + canary == total and stable >= 0 and canary >= 0
    if total >= 2 and 0 < weight < 100:
        assert canary >= 1 and stable >= 1
    if weight == 0:
        assert canary == 0
    if weight == 100:
        assert stable == 0
    if 0 < weight < 100 and total >= 2:
        assert canary >= min(-(-total * weight // 100), total - 1)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 200), st.integers(0, 99))
def test_replica_split_gives_the_canary_more_as_the_weight_rises(total: int, weight: int) -> None:
    assert replica_split(total, weight)[1] <= replica_split(total, weight + 1)[1]


def test_replica_split_examples() -> None:
    assert replica_split(10, 25) == (7, 3)
    assert replica_split(3, 1) == (2, 1)
    assert replica_split(3, 99) == (1, 2)
    assert replica_split(1, 50) == (1, 0)
    assert replica_split(0, 50) == (0, 0)
    with pytest.raises(ValueError, match="percentage"):
        replica_split(3, 101)




# -- the canary Deployment's replicas -------------------------------------------------


def test_canary_replicas_examples() -> None:
    assert canary_replicas(min_replicas=1, stable_replicas=0, weight=20) == 1  # of 2
    assert canary_replicas(min_replicas=1, stable_replicas=1, weight=50) == 1  # of 2
    assert canary_replicas(min_replicas=4, stable_replicas=2, weight=50) == 2  # of 4
    assert canary_replicas(min_replicas=2, stable_replicas=10, weight=25) == 3  # of 10
    assert canary_replicas(min_replicas=3, stable_replicas=6, weight=100) == 6
    assert canary_replicas(min_replicas=3, stable_replicas=6, weight=0) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 100), st.integers(0, 500), st.integers(1, 100))
def test_a_canary_with_a_weight_always_has_a_pod(min_replicas: int, stable_replicas: int,
                                                 weight: int) -> None:
    assert canary_replicas(min_replicas, stable_replicas, weight) >= 1


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 100), st.integers(0, 500), st.integers(0, 100))
def test_canary_replicas_is_the_canary_share_of_at_least_two(
        min_replicas: int, stable_replicas: int, weight: int) -> None:
    total = max(2, min_replicas, stable_replicas)
    replicas = canary_replicas(min_replicas, stable_replicas, weight)
    assert replicas == replica_split(total, weight)[1]
    assert replicas <= total and (weight == 100 or replicas < total)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 100), st.integers(0, 500), st.integers(0, 99))
def test_canary_replicas_rise_with_the_weight(min_replicas: int, stable_replicas: int,
                                              weight: int) -> None:
    assert canary_replicas(min_replicas, stable_replicas, weight) <= (
        canary_replicas(min_replicas, stable_replicas, weight + 1))


def test_canary_replicas_reject_a_weight_outside_a_percentage() -> None:
    with pytest.raises(ValueError, match="percentage"):
        canary_replicas(1, 1, 101)
