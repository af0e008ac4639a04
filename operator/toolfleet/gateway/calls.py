"""Tool calls in each vendor's own shape: parse what the model produced, answer what the
router sends back to the model.

Accepted bodies (one call, or a JSON array of them):
- OpenAI Chat Completions: a `tool_calls[]` item,
  `{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}`
  (openai SDK: `ChatCompletionMessageFunctionToolCall`).
- Anthropic Messages: a `tool_use` content block, `{"type": "tool_use", "id", "name", "input"}`
  (anthropic SDK: `ToolUseBlock`).
- Gemini: a `functionCall`, `{"name", "args", "id"?}`, or the Part holding it,
  `{"functionCall": {...}}` (google-genai SDK: `FunctionCall`, `Part`).

Answers, in the same order (a list for a list, one object for one):
- OpenAI: `{"role": "tool", "tool_call_id", "content"}` (`ChatCompletionToolMessageParam`).
- Anthropic: `{"type": "tool_result", "tool_use_id", "content", "is_error"?}`
  (`ToolResultBlockParam`).
- Gemini: `{"functionResponse": {"name", "response": {"output"} or {"error"}, "id"?}}`
  (a `Part`; Gemini reads `output` and `error` keys of `response`).

A malformed body is refused with `CallShapeError`, whose `vendor_error_body`
is that vendor's own error envelope with a hint added.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolfleet.gateway.names import CallFormat
from toolfleet.gateway.results import ToolResult

# Most calls one request may carry: a model rarely emits more than a handful in one turn.
MAX_CALLS_PER_REQUEST = 128
# Longest call id echoed back; ids are opaque but not unbounded.
MAX_CALL_ID_LENGTH = 256
_VENDOR_FORMATS = (CallFormat.openai, CallFormat.anthropic, CallFormat.gemini)


@dataclass(frozen=True)
class ToolCall:
    """One call, whatever shape it came in: its id (None for Gemini without one), the name
    the model used, and the arguments as a JSON object."""

    id: str | None
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ParsedCalls:
    """The calls of one request, and whether they came as a list (the answer mirrors it)."""

    calls: list[ToolCall]
    as_list: bool


class CallShapeError(ValueError):
    """A request body that is not a call in the vendor's shape.

    `where` locates the problem ("[1].function.arguments"), `hint` says how to
    fix it; `status` is the HTTP status to answer with.
    """

    def __init__(self, where: str, problem: str, hint: str, status: int = 400) -> None:
        # Places are built as "<where>.<key>"; at the top level where is "".
        where = where.lstrip(".") or "body"
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem
        self.hint = hint
        self.status = status


def vendor_format(raw: str | None) -> CallFormat:
    """The call format named by the `format` query parameter.

    Raises CallShapeError (400) for a missing or unknown format, naming the choices.
    """
    names = ", ".join(str(f) for f in _VENDOR_FORMATS)
    if raw is None or raw not in {str(f) for f in _VENDOR_FORMATS}:
        got = "no format" if raw is None else f"format {raw[:40]!r}"
        raise CallShapeError("query", f"{got} given",
                             f"add ?format= one of {names} to say which vendor's shape the "
                             "body has; MCP clients use /mcp/{catalog} instead")
    return CallFormat(raw)


def parse_calls(format: CallFormat, body: Any) -> ParsedCalls:
    """The calls in a decoded JSON body of `format`'s shape.

    Raises CallShapeError pointing at the first problem: not an object or a
    list, an empty or too long list, a missing or mistyped field, OpenAI
    arguments that are not a JSON object encoded as text.
    """
    if isinstance(body, list):
        if not body:
            raise CallShapeError("body", "the list of calls is empty",
                                 "send one call, or a list of one or more")
        if len(body) > MAX_CALLS_PER_REQUEST:
            raise CallShapeError("body", f"{len(body)} calls in one request",
                                 f"send at most {MAX_CALLS_PER_REQUEST} calls per request",
                                 status=413)
        return ParsedCalls([_parse_one(format, item, f"[{i}]") for i, item in enumerate(body)],
                           as_list=True)
    return ParsedCalls([_parse_one(format, body, "")], as_list=False)


def _parse_one(format: CallFormat, item: Any, where: str) -> ToolCall:
    if format == CallFormat.openai:
        return _parse_openai(item, where)
    if format == CallFormat.anthropic:
        return _parse_anthropic(item, where)
    return _parse_gemini(item, where)


def _parse_openai(item: Any, where: str) -> ToolCall:
    shape = ('{"id": "call_...", "type": "function", "function": {"name": "...", '
             '"arguments": "{...}"}}, an item of a message\'s tool_calls')
    item = _object(item, where, shape)
    if item.get("type", "function") != "function":
        raise CallShapeError(f"{where}.type", f"type is {str(item.get('type'))[:40]!r}",
                             'only function tool calls can be forwarded: "type": "function"')
    call_id = _text_field(item, "id", where, shape)
    function = _object(item.get("function"), f"{where}.function", shape)
    name = _text_field(function, "name", f"{where}.function", shape)
    raw = function.get("arguments")
    if raw is None or raw == "":
        arguments: Any = {}  # a function without parameters may come with no arguments
    elif isinstance(raw, str):
        try:
            arguments = json.loads(raw)
        except ValueError as error:
            raise CallShapeError(f"{where}.function.arguments",
                                 f"is not valid JSON ({error})",
                                 "send the arguments string exactly as the model produced it: "
                                 "a JSON object encoded as text") from None
    else:
        raise CallShapeError(f"{where}.function.arguments", "is not a string",
                             "OpenAI sends arguments as a JSON object encoded as text; "
                             "send it unchanged")
    if not isinstance(arguments, dict):
        raise CallShapeError(f"{where}.function.arguments", "is not a JSON object",
                             "tool arguments are a JSON object, e.g. '{\"records\": [...]}'")
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _parse_anthropic(item: Any, where: str) -> ToolCall:
    shape = '{"type": "tool_use", "id": "toolu_...", "name": "...", "input": {...}}'
    item = _object(item, where, shape)
    if item.get("type") != "tool_use":
        raise CallShapeError(f"{where}.type", f"type is {str(item.get('type'))[:40]!r}",
                             'send the tool_use content block: "type": "tool_use"')
    call_id = _text_field(item, "id", where, shape)
    name = _text_field(item, "name", where, shape)
    arguments = item.get("input", {})
    if not isinstance(arguments, dict):
        raise CallShapeError(f"{where}.input", "is not a JSON object",
                             "a tool_use block's input is the arguments object")
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _parse_gemini(item: Any, where: str) -> ToolCall:
    shape = ('{"name": "...", "args": {...}, "id"?: "..."} (a functionCall), '
             'or {"functionCall": ...}')
    item = _object(item, where, shape)
    if "functionCall" in item:
        where = f"{where}.functionCall"
        item = _object(item["functionCall"], where, shape)
    name = _text_field(item, "name", where, shape)
    call_id = item.get("id")
    if call_id is not None:
        call_id = _text_field(item, "id", where, shape)
    arguments = item.get("args")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise CallShapeError(f"{where}.args", "is not a JSON object",
                             "a functionCall's args is the arguments object")
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _object(value: Any, where: str, shape: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        kind = "a list" if isinstance(value, list) else type(value).__name__
        raise CallShapeError(where, f"is {kind}, not a JSON object",
                             f"send the call as the model produced it: {shape}")
    return value


def _text_field(item: Mapping[str, Any], key: str, where: str, shape: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        problem = "is missing" if value is None else "is not a non-empty string"
        raise CallShapeError(f"{where}.{key}", problem,
                             f"send the call as the model produced it: {shape}")
    if key == "id" and len(value) > MAX_CALL_ID_LENGTH:
        raise CallShapeError(f"{where}.id",
                             f"is {len(value)} characters long",
                             f"call ids are at most {MAX_CALL_ID_LENGTH} characters")
    return value


def render_answer(format: CallFormat, call: ToolCall, result: ToolResult) -> dict[str, Any]:
    """What the router sends back to the model for one call, in `format`'s shape."""
    if format == CallFormat.openai:
        # OpenAI has no error flag on a tool message: the text says it.
        return {"role": "tool", "tool_call_id": call.id or "", "content": result.text()}
    if format == CallFormat.anthropic:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call.id or "",
                                 "content": result.text()}
        if result.is_error:
            block["is_error"] = True
        return block
    response: dict[str, Any]
    if result.is_error:
        response = {"error": result.structured_content or result.text()}
    else:
        response = {"output": result.structured_content if result.structured_content
                    is not None else result.text()}
    function_response: dict[str, Any] = {"name": call.name, "response": response}
    if call.id is not None:
        function_response["id"] = call.id
    return {"functionResponse": function_response}


def render_answers(format: CallFormat, parsed: ParsedCalls,
                   results: Sequence[ToolResult]) -> Any:
    """The answers to every call of a request, in order: a list for a list, else one."""
    answers = [render_answer(format, call, result)
               for call, result in zip(parsed.calls, results, strict=True)]
    return answers if parsed.as_list else answers[0]


def vendor_error_body(format: CallFormat | None, status: int, message: str,
                      hint: str) -> dict[str, Any]:
    """An error in the envelope the vendor's own API uses, with a `hint` added.

    OpenAI: {"error": {"message", "type", "code"}}; Anthropic: {"type": "error",
    "error": {"type", "message"}}; Gemini (Google APIs): {"error": {"code",
    "message", "status"}}; no format yet: {"error", "hint"}.
    """
    if format == CallFormat.openai:
        return {"error": {"message": message, "type": _openai_type(status), "param": None,
                          "code": status, "hint": hint}}
    if format == CallFormat.anthropic:
        return {"type": "error", "error": {"type": _anthropic_type(status), "message": message,
                                           "hint": hint}}
    if format == CallFormat.gemini:
        return {"error": {"code": status, "message": message, "status": _google_status(status),
                          "hint": hint}}
    return {"error": message, "hint": hint}


def _openai_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
            429: "rate_limit_error"}.get(status, "invalid_request_error" if status < 500
                                          else "server_error")


def _anthropic_type(status: int) -> str:
    return {401: "authentication_error", 403: "permission_error", 404: "not_found_error",
            413: "request_too_large", 429: "rate_limit_error", 503: "overloaded_error",
            }.get(status, "invalid_request_error" if status < 500 else "api_error")


def _google_status(status: int) -> str:
    return {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
            413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED"}.get(status, "INVALID_ARGUMENT" if status < 500
                                          else "INTERNAL")
