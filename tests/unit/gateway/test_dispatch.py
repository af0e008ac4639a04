"""What the gateway passes on to a service: the W3C trace context, strict arguments
and renamed property keys mapped back."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from toolfleet.catalog.formats.openai_arguments import arguments_from_strict
from toolfleet.gateway.dispatch import Dispatcher, trace_headers
from toolfleet.gateway.metrics import GatewayMetrics
from toolfleet.gateway.names import CallFormat, index_catalog
from toolfleet.gateway.results import ToolResult
from toolfleet.gateway.upstream import UpstreamCall

from .fixtures import catalog, entry, tool

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


NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "records": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "score": {"type": "number"}}}},
        "mode": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {
            "k": {"type": "integer"}}}]},
        "note": {"type": "string"},
    },
    "required": ["records"],
}
JSON_WITHOUT_NULL = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["records", "mode", "note", "id", "score", "k"]), inner,
                      max_size=3),
    max_leaves=12)


@given(st.dictionaries(st.sampled_from(["records", "mode", "note"]), JSON_WITHOUT_NULL,
                       max_size=3))
def test_strict_arguments_without_a_null_are_forwarded_as_they_are(arguments: Any) -> None:
    # What lets the dispatcher skip the mapping for them: it only ever removes nulls.
    assert arguments_from_strict(NESTED_SCHEMA, arguments) == arguments


# -- property keys a format renamed ------------------------------------------------------

ODATA_SCHEMA = {"type": "object", "properties": {
    "$top": {"type": "integer"}, "$filter": {"type": "string"},
    "@odata.type": {"type": "string"}}, "required": ["$filter"]}


class _RecordingUpstream:
    """Stands in for the services: remembers the arguments each call carried."""

    def __init__(self) -> None:
        self.arguments: list[dict[str, Any]] = []

    async def call(self, call: UpstreamCall) -> tuple[ToolResult, int]:
        self.arguments.append(call.arguments)
        return ToolResult(content=[{"type": "text", "text": "ok"}]), 1


def _dispatch(format: CallFormat, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    published = catalog("team-a.search", entry("graph", "team-a", [
        tool("list_users", ODATA_SCHEMA)]))
    upstream = _RecordingUpstream()
    dispatcher = Dispatcher(catalogs=None,  # type: ignore[arg-type]
                            upstream=upstream,  # type: ignore[arg-type]
                            metrics=GatewayMetrics())
    index = index_catalog(published)
    found = index.resolve(format, name)
    assert found is not None
    asyncio.run(dispatcher.call(index, found, found.endpoints[0], arguments, format=format,
                                headers={}, consumer="test"))
    return upstream.arguments[0]


def test_an_anthropic_call_with_renamed_keys_reaches_the_service_with_its_own_keys() -> None:
    sent = {"_top": 5, "_filter": "startswith(displayName,'a')", "_odata.type": "user"}
    assert _dispatch(CallFormat.anthropic, "list_users", sent) == {
        "$top": 5, "$filter": "startswith(displayName,'a')", "@odata.type": "user"}


def test_formats_that_kept_the_keys_pass_them_on_unchanged() -> None:
    sent = {"$top": 5, "$filter": "x"}
    assert _dispatch(CallFormat.gemini, "list_users", sent) == sent
    assert _dispatch(CallFormat.mcp, "list_users", sent) == sent
