"""What a service declares: its tools, each a typed function with pydantic input and output.

A service package builds one `ServiceDefinition`; everything else (the HTTP
routes, the MCP server, the metrics, the ToolService manifest) is derived from
it, so a tool is described once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from toolfleet_service.schema import tool_schema

# The intersection of what OpenAI, Anthropic, Gemini and MCP accept as a tool name.
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
SERVICE_NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)


class ToolModel(BaseModel):
    """Base of tool input and output models: unknown fields are rejected, not ignored.

    A misspelt argument (`contamintion`) then fails with a message naming it
    instead of silently taking the default.
    """

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolHints:
    """MCP tool annotations: hints for routers, not enforced."""

    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = False

    def as_json(self) -> dict[str, bool]:
        """The hints with their MCP (and ToolService) names."""
        return {
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }


@dataclass(frozen=True)
class ToolDefinition(Generic[InputT, OutputT]):
    """One tool: a name, a description for the model that calls it, and a typed function.

    `run` is plain synchronous code (it is given a worker thread); it may raise
    `ToolInputError` for input that is well-formed but unusable. `rows_field`
    names the list argument that TOOLFLEET_MAX_ROWS limits. `example` is a valid
    input: the service runs it at start-up before it reports ready.
    """

    name: str
    title: str
    description: str
    input_model: type[InputT]
    output_model: type[OutputT]
    run: Callable[[InputT], OutputT]
    example: Mapping[str, Any]
    rows_field: str = "records"
    hints: ToolHints = field(default_factory=ToolHints)
    timeout_seconds: int = 30

    def __post_init__(self) -> None:
        if not TOOL_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"tool name {self.name!r} must match {TOOL_NAME_PATTERN.pattern} "
                "(letters, digits, _ and -, at most 64, not starting with a digit or -)"
            )
        if self.rows_field not in self.input_model.model_fields:
            raise ValueError(
                f"tool {self.name}: rows_field {self.rows_field!r} is not a field of "
                f"{self.input_model.__name__}"
            )

    @property
    def path(self) -> str:
        """The HTTP path the tool is served at: POST /tools/<name>."""
        return f"/tools/{self.name}"

    @cached_property
    def input_schema(self) -> dict[str, Any]:
        """JSON Schema of the arguments."""
        return tool_schema(self.input_model, "validation")

    @cached_property
    def output_schema(self) -> dict[str, Any]:
        """JSON Schema of the result."""
        return tool_schema(self.output_model, "serialization")

    def descriptor(self) -> dict[str, Any]:
        """The tool as a ToolService lists it (camelCase), also served at GET /tools."""
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "path": self.path,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.hints.as_json(),
            "timeoutSeconds": self.timeout_seconds,
        }


@dataclass(frozen=True)
class ServiceDefinition:
    """A specialist service: its name (a DNS label), version, and tools."""

    name: str
    version: str
    description: str
    tools: tuple[ToolDefinition[Any, Any], ...]

    def __post_init__(self) -> None:
        if not SERVICE_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"service name {self.name!r} must be a DNS label: lower-case letters, digits "
                "and -, at most 63, starting and ending with a letter or digit"
            )
        names = [tool.name for tool in self.tools]
        if not names:
            raise ValueError(f"service {self.name} declares no tools")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"service {self.name}: tool names repeat: {', '.join(duplicates)}")

    def tool(self, name: str) -> ToolDefinition[Any, Any] | None:
        """The tool called `name`, if the service has one."""
        return next((tool for tool in self.tools if tool.name == name), None)
