"""Stable or canary: the step's exact weight, or the pinned revision."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolfleet.gateway.routing import RevisionNotServed, RevisionRouter

from .fixtures import catalog, entry, tool


def tools_at(weight: int) -> list:  # type: ignore[type-arg]
    built = catalog("x", entry("svc", "ns", [tool("one"), tool("two")], canary_weight=weight))
    return list(built.tools)


def test_without_a_canary_every_call_goes_to_stable() -> None:
    (only,) = catalog("x", entry("svc", "ns", [tool("one")])).tools
    router = RevisionRouter()
    assert {router.choose(only).track for _ in range(50)} == {"stable"}


def test_at_weight_20_a_thousand_calls_give_the_canary_exactly_200() -> None:
    router = RevisionRouter()
    (tool_one, _) = tools_at(20)
    tracks = Counter(router.choose(tool_one).track for _ in range(1000))
    assert tracks == {"canary": 200, "stable": 800}


@given(st.integers(1, 99), st.integers(1, 1000), st.lists(st.booleans(), min_size=1000,
                                                          max_size=1000))
def test_any_weight_is_exact_in_every_hundred_calls_whatever_tool_is_called(
        weight: int, calls: int, which_tool: list[bool]) -> None:
    tool_one, tool_two = tools_at(weight)
    router = RevisionRouter()
    picks = [router.choose(tool_one if which_tool[i] else tool_two).track for i in range(calls)]
    # Calls to any tool of the service share one split.
    expected = calls * weight / 100
    assert abs(picks.count("canary") - expected) < 1
    for start in range(0, calls - 99, 100):
        assert picks[start:start + 100].count("canary") == weight


def test_the_split_is_interleaved_not_in_bursts() -> None:
    (tool_one, _) = tools_at(20)
    router = RevisionRouter()
    picks = [router.choose(tool_one).track for _ in range(100)]
    runs = "".join("c" if p == "canary" else "s" for p in picks)
    assert "cc" not in runs
    assert "s" * 5 not in runs


def test_a_pin_by_track_revision_or_version_overrides_the_weights() -> None:
    (tool_one, _) = tools_at(20)
    router = RevisionRouter()
    for pin in ("canary", "c4n4ry0000", "1.1.0"):
        assert {router.choose(tool_one, pin).track for _ in range(10)} == {"canary"}
    for pin in ("stable", "st4ble0000", "1.0.0"):
        assert router.choose(tool_one, pin).track == "stable"


def test_a_pin_the_service_does_not_serve_is_refused_with_what_it_serves() -> None:
    (tool_one, _) = tools_at(20)
    with pytest.raises(RevisionNotServed, match=r"serves stable \(st4ble0000, version 1.0.0\)"):
        RevisionRouter().choose(tool_one, "9.9.9")


def test_new_weights_start_a_new_split() -> None:
    router = RevisionRouter()
    (at_20, _) = tools_at(20)
    (at_50, _) = tools_at(50)
    for _ in range(7):
        router.choose(at_20)
    picks = Counter(router.choose(at_50).track for _ in range(100))
    assert picks == {"canary": 50, "stable": 50}
