"""Each vendor's own SDK types, as judges of what the renderers produce.

TypedDicts (OpenAI, Anthropic) let unknown keys through pydantic validation, and
MCP's models ignore them, so keys are compared too: a rendering must say
nothing the vendor does not define.
"""

from __future__ import annotations

import re
from typing import Any

from anthropic.types import ToolParam
from google.genai.types import Tool as GeminiTool
from mcp.types import ListToolsResult
from openai.types.chat import ChatCompletionToolParam
from openai.types.shared_params import FunctionDefinition
from pydantic import TypeAdapter

from toolfleet.api.common import TOOL_NAME_PATTERN

_OPENAI_TOOL: TypeAdapter[Any] = TypeAdapter(ChatCompletionToolParam)
_OPENAI_FUNCTION: TypeAdapter[Any] = TypeAdapter(FunctionDefinition)
_ANTHROPIC_TOOL: TypeAdapter[Any] = TypeAdapter(ToolParam)
# Name rules the SDKs document but do not check.
_OPENAI_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ANTHROPIC_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__) | set(typed_dict.__optional_keys__)


def assert_openai_accepts(rendered: dict[str, Any]) -> None:
    """One Chat Completions tool, checked by the openai SDK's types."""
    _OPENAI_TOOL.validate_python(rendered)
    _OPENAI_FUNCTION.validate_python(rendered["function"])
    assert set(rendered) <= _keys(ChatCompletionToolParam)
    assert set(rendered["function"]) <= _keys(FunctionDefinition)
    assert _OPENAI_NAME.match(rendered["function"]["name"])
    assert re.match(TOOL_NAME_PATTERN, rendered["function"]["name"])


def assert_anthropic_accepts(rendered: dict[str, Any]) -> None:
    """One Messages tool, checked by the anthropic SDK's types."""
    _ANTHROPIC_TOOL.validate_python(rendered)
    assert set(rendered) <= _keys(ToolParam)
    assert _ANTHROPIC_NAME.match(rendered["name"])
    assert rendered["input_schema"]["type"] == "object"


def assert_gemini_accepts(rendered: dict[str, Any]) -> None:
    """A Gemini Tool, checked by google-genai's model (which forbids unknown fields)."""
    parsed = GeminiTool.model_validate(rendered)
    declarations = parsed.function_declarations or []
    assert len(declarations) == len(rendered["functionDeclarations"])
    for declaration, raw in zip(declarations, rendered["functionDeclarations"], strict=True):
        assert declaration.name == raw["name"]
        assert declaration.parameters_json_schema == raw["parametersJsonSchema"]
        assert declaration.parameters is None  # the two are mutually exclusive
    assert "$schema" not in keys_anywhere(rendered)


def assert_mcp_accepts(rendered: dict[str, Any]) -> None:
    """A tools/list result, checked by the mcp SDK's model, with nothing ignored."""
    parsed = ListToolsResult.model_validate(rendered)
    again = parsed.model_dump(by_alias=True, exclude_none=True, mode="json")
    assert again["tools"] == rendered["tools"]
    for item in rendered["tools"]:
        assert item["inputSchema"]["type"] == "object"
        if "outputSchema" in item:
            assert item["outputSchema"]["type"] == "object"


def keys_anywhere(value: Any) -> set[str]:
    """Every object key at any depth of a JSON value."""
    if isinstance(value, dict):
        found = set(value)
        for item in value.values():
            found |= keys_anywhere(item)
        return found
    if isinstance(value, list):
        found = set()
        for item in value:
            found |= keys_anywhere(item)
        return found
    return set()
