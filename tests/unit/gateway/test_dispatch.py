"""What the gateway passes on to a service besides the arguments: the W3C trace context."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolfleet.gateway.dispatch import trace_headers

PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_well_formed_traceparent_and_its_tracestate_are_passed_on() -> None:
    assert trace_headers({"traceparent": PARENT, "tracestate": "a=1", "other": "x"}) == {
        "traceparent": PARENT, "tracestate": "a=1"}


def test_a_tracestate_alone_or_a_malformed_traceparent_is_not() -> None:
    assert trace_headers({"tracestate": "a=1"}) == {}
    assert trace_headers({"traceparent": PARENT.upper(), "tracestate": "a=1"}) == {}
    assert trace_headers({"traceparent": "ff" + PARENT[2:]}) == {}  # version ff is invalid


@given(st.text(max_size=60))
def test_whatever_arrives_only_a_well_formed_traceparent_leaves(value: str) -> None:
    passed = trace_headers({"traceparent": value})
    assert passed in ({}, {"traceparent": value.strip()})
