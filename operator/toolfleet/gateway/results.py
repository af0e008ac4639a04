"""What a tool call produced, in one form for every caller protocol.

The form is MCP's `CallToolResult` (content blocks, structuredContent,
isError; MCP specification 2025-11-25, "Tools"), kept as the service sent it;
each vendor shape is rendered from it in `calls`, and MCP callers get it as it
is. `Outcome` is how the call is counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """How a call ended, as the metric `toolfleet_gateway_tool_calls_total` counts it.

    ok: the tool answered a result. tool_error: the tool answered, but with an
    error (an MCP `isError` result, or a 4xx from an HTTP tool): the caller's
    arguments or the tool's own judgement. error: no answer from the tool (a
    5xx, a timeout, a refused or dropped connection, no backend with room).
    """

    ok = "ok"
    tool_error = "tool_error"
    error = "error"


@dataclass(frozen=True)
class ToolResult:
    """A call's result as MCP carries it: content blocks, structured content, isError.

    `content` holds MCP content blocks in their wire form ({"type": "text",
    "text": ...} and so on); `structured_content` is the JSON object the tool
    returned, when it did.
    """

    content: list[dict[str, Any]]
    structured_content: dict[str, Any] | None = None
    is_error: bool = False
    outcome: Outcome = Outcome.ok
    # Seconds a caller should wait before trying again, when the call was shed.
    retry_after: float | None = None
    # Why the gateway itself failed the call (None when the tool answered).
    failure: str | None = field(default=None, compare=False)

    def text(self) -> str:
        """What a model reads: the text blocks joined, else the structured content as JSON."""
        texts = [str(block.get("text", "")) for block in self.content
                 if block.get("type") == "text"]
        if texts:
            return "\n".join(texts)
        if self.structured_content is not None:
            return json.dumps(self.structured_content, separators=(",", ":"))
        return ""

    def to_mcp(self) -> dict[str, Any]:
        """The result as an MCP `CallToolResult` (camelCase wire form)."""
        result: dict[str, Any] = {"content": self.content}
        if self.structured_content is not None:
            result["structuredContent"] = self.structured_content
        if self.is_error:
            result["isError"] = True
        return result


def failed(message: str, outcome: Outcome = Outcome.error,
           retry_after: float | None = None) -> ToolResult:
    """An error result the gateway makes itself (timeout, no backend, overload).

    The message is what the model reads, so it says what happened and what to
    do; it never holds a stack trace.
    """
    return ToolResult(content=[{"type": "text", "text": message}], is_error=True,
                      outcome=outcome, retry_after=retry_after, failure=message)


def json_rpc_error(code: int, message: str, hint: str | None = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 error response to a request whose id is unknown (`id: null`), the
    body of every /mcp refusal made before the MCP server reads the request; `hint`
    rides in `error.data` (JSON-RPC 2.0, section 5.1)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if hint is not None:
        error["data"] = {"hint": hint}
    return {"jsonrpc": "2.0", "id": None, "error": error}
