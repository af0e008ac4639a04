"""Calls in each vendor's shape, parsed; answers in that shape, as the vendor's SDK types them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import ToolResultBlockParam, ToolUseBlock
from google.genai.types import FunctionCall, Part
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletionMessageFunctionToolCall, ChatCompletionToolMessageParam
from pydantic import TypeAdapter

from toolfleet.gateway.calls import (
    CallShapeError,
    ParsedCalls,
    ToolCall,
    parse_calls,
    render_answers,
    vendor_error_body,
    vendor_format,
)
from toolfleet.gateway.names import CallFormat
from toolfleet.gateway.results import Outcome, ToolResult, failed

ARGS = {"records": [{"x": 1}], "k": None}
# What each vendor's model produces, built with the vendor's own SDK types.
OPENAI_CALL = ChatCompletionMessageFunctionToolCall(
    id="call_1", type="function",
    function={"name": "segment_customers", "arguments": json.dumps(ARGS)},  # type: ignore[arg-type]
).model_dump(mode="json", exclude_none=True)
ANTHROPIC_CALL = ToolUseBlock(id="toolu_1", type="tool_use", name="segment_customers",
                              input=ARGS).model_dump(mode="json", exclude_none=True)
GEMINI_CALL = FunctionCall(id="g1", name="segment_customers", args=ARGS).model_dump(
    mode="json", by_alias=True, exclude_none=True)
CALLS = {CallFormat.openai: OPENAI_CALL, CallFormat.anthropic: ANTHROPIC_CALL,
         CallFormat.gemini: GEMINI_CALL}
OK = ToolResult(content=[{"type": "text", "text": '{"k":3}'}], structured_content={"k": 3})
TOOL_ERROR = ToolResult(content=[{"type": "text", "text": '{"error":"k_min > k_max"}'}],
                        is_error=True, outcome=Outcome.tool_error)
TIMEOUT = failed("segment_customers did not answer within 60s")

_OPENAI_ANSWER: TypeAdapter[Any] = TypeAdapter(ChatCompletionToolMessageParam)
_ANTHROPIC_ANSWER: TypeAdapter[Any] = TypeAdapter(ToolResultBlockParam)


def keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)


@pytest.mark.parametrize("format", list(CALLS))
def test_a_call_as_the_model_produced_it_is_read(format: CallFormat) -> None:
    parsed = parse_calls(format, CALLS[format])
    assert parsed == ParsedCalls([ToolCall(id=parsed.calls[0].id, name="segment_customers",
                                           arguments=ARGS)], as_list=False)
    assert parsed.calls[0].id in {"call_1", "toolu_1", "g1"}


def test_a_gemini_call_may_come_as_its_part_and_without_id() -> None:
    part = Part(function_call=FunctionCall(name="f", args={"a": 1})).model_dump(
        mode="json", by_alias=True, exclude_none=True)
    assert parse_calls(CallFormat.gemini, part).calls == [ToolCall(None, "f", {"a": 1})]


@pytest.mark.parametrize("format", list(CALLS))
def test_answers_come_in_the_order_of_the_calls_and_as_a_list_for_a_list(
        format: CallFormat) -> None:
    second = {**CALLS[format]}
    parsed = parse_calls(format, [CALLS[format], second])
    answers = render_answers(format, parsed, [OK, TOOL_ERROR])
    assert isinstance(answers, list)
    assert len(answers) == 2
    single = render_answers(format, parse_calls(format, CALLS[format]), [OK])
    assert isinstance(single, dict)
    assert single == answers[0]


def test_openai_answers_are_tool_messages_the_sdk_accepts() -> None:
    parsed = parse_calls(CallFormat.openai, [OPENAI_CALL] * 3)
    for answer in render_answers(CallFormat.openai, parsed, [OK, TOOL_ERROR, TIMEOUT]):
        _OPENAI_ANSWER.validate_python(answer)
        assert set(answer) <= keys(ChatCompletionToolMessageParam)
        assert answer["role"] == "tool"
        assert answer["tool_call_id"] == "call_1"
    ok, error, timeout = render_answers(CallFormat.openai, parsed, [OK, TOOL_ERROR, TIMEOUT])
    assert ok["content"] == '{"k":3}'
    assert "k_min > k_max" in error["content"]
    assert "did not answer within 60s" in timeout["content"]


def test_anthropic_answers_are_tool_results_flagged_when_they_failed() -> None:
    parsed = parse_calls(CallFormat.anthropic, [ANTHROPIC_CALL] * 2)
    ok, error = render_answers(CallFormat.anthropic, parsed, [OK, TOOL_ERROR])
    for answer in (ok, error):
        _ANTHROPIC_ANSWER.validate_python(answer)
        assert set(answer) <= keys(ToolResultBlockParam)
        assert answer["tool_use_id"] == "toolu_1"
    assert "is_error" not in ok
    assert error["is_error"] is True


def test_gemini_answers_are_function_response_parts_with_output_or_error() -> None:
    parsed = parse_calls(CallFormat.gemini, [GEMINI_CALL, {"name": "segment_customers"}])
    ok, error = render_answers(CallFormat.gemini, parsed, [OK, TOOL_ERROR])
    for answer in (ok, error):
        Part.model_validate(answer)  # forbids unknown fields
    assert ok == {"functionResponse": {"name": "segment_customers", "id": "g1",
                                       "response": {"output": {"k": 3}}}}
    assert error["functionResponse"]["response"] == {"error": '{"error":"k_min > k_max"}'}
    assert "id" not in error["functionResponse"]


@pytest.mark.parametrize(("format", "body", "where"), [
    (CallFormat.openai, {**OPENAI_CALL, "function": {"name": "f", "arguments": "{"}},
     "function.arguments"),
    (CallFormat.openai, {**OPENAI_CALL, "function": {"name": "f", "arguments": "[1]"}},
     "function.arguments"),
    (CallFormat.openai, {**OPENAI_CALL, "function": {"name": "f", "arguments": {"a": 1}}},
     "function.arguments"),
    (CallFormat.openai, {"type": "function", "function": {"name": "f"}}, "id"),
    (CallFormat.openai, {**OPENAI_CALL, "type": "custom"}, "type"),
    (CallFormat.anthropic, {**ANTHROPIC_CALL, "type": "text"}, "type"),
    (CallFormat.anthropic, {**ANTHROPIC_CALL, "input": [1]}, "input"),
    (CallFormat.gemini, {"args": {}}, "name"),
    (CallFormat.gemini, [{"name": "f"}, {"name": "g", "args": "x"}], "[1].args"),
    (CallFormat.gemini, [], "body"),
    (CallFormat.anthropic, "tool_use", "body"),
])
def test_a_malformed_call_is_refused_at_its_place_with_a_hint(
        format: CallFormat, body: Any, where: str) -> None:
    with pytest.raises(CallShapeError) as refused:
        parse_calls(format, body)
    assert refused.value.where == where
    assert refused.value.hint
    assert 400 <= refused.value.status < 500


def test_the_format_must_be_named() -> None:
    with pytest.raises(CallShapeError, match="no format"):
        vendor_format(None)
    with pytest.raises(CallShapeError, match="'mcp'") as refused:
        vendor_format("mcp")
    assert "/mcp/{catalog}" in refused.value.hint


def test_errors_come_in_each_vendors_envelope_with_a_hint() -> None:
    assert vendor_error_body(CallFormat.openai, 404, "no tool", "h")["error"]["type"] == \
        "not_found_error"
    anthropic = vendor_error_body(CallFormat.anthropic, 429, "busy", "h")
    assert anthropic == {"type": "error", "error": {"type": "rate_limit_error",
                                                    "message": "busy", "hint": "h"}}
    assert vendor_error_body(CallFormat.gemini, 400, "bad", "h")["error"]["status"] == \
        "INVALID_ARGUMENT"
    assert vendor_error_body(None, 400, "bad", "h") == {"error": "bad", "hint": "h"}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["id", "type", "name", "function",
                                                       "arguments", "input", "args",
                                                       "functionCall", "x"]), inner,
                                      max_size=4),
                    max_leaves=12)


@given(st.sampled_from(list(CALLS)), JSON)
def test_any_json_is_either_calls_or_a_refusal_never_another_error(
        format: CallFormat, body: Any) -> None:
    try:
        parsed = parse_calls(format, body)
    except CallShapeError as refused:
        assert 400 <= refused.status < 500
        return
    assert parsed.calls
    assert all(isinstance(call.arguments, dict) and call.name for call in parsed.calls)
