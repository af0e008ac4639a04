"""The canonical catalog document: every published tool with where and how to call it.

Every vendor rendering (OpenAI, Anthropic, Gemini, MCP) is computed from this one
document, and its hash is the catalog's identity: the ETag routers send back and
the value in ToolCatalog status.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from toolfleet.api.common import ApiModel
from toolfleet.api.toolcatalog import Conflict, ConflictResolution, Exclusion
from toolfleet.api.toolservice import Exposure, Protocol, ToolAnnotations
from toolfleet.jsonschema.canonical import canonical_hash
from toolfleet.resources.tracks import Track

__all__ = [
    "MCP_PATH",
    "Catalog",
    "CatalogTool",
    "Conflict",
    "ConflictResolution",
    "Endpoint",
    "Exclusion",
    "Track",
    "hash_tools",
]

# Where a service with protocol mcp serves MCP over streamable HTTP.
MCP_PATH = "/mcp"


class Endpoint(ApiModel):
    """One place a tool can be called, with the share of traffic it should receive."""

    url: str = Field(description="Base URL of the service revision, without the tool's path.")
    track: Track = Field(description="stable, or canary while a rollout runs.")
    version: str = Field(description="spec.version of the revision behind this URL.")
    revision: str | None = Field(default=None, description="Revision hash, when known.")
    weight: int = Field(
        ge=0, le=100,
        description="Percent of calls a router that splits traffic itself should send here; "
        "the weights of a tool's endpoints add up to 100.",
    )
    ready: bool = Field(description="Whether the service reports Ready.")


class CatalogTool(ApiModel):
    """A tool as published: what it is (schemas, hints) and how to reach it."""

    name: str = Field(description="The name published to models; unique in the catalog.")
    service_tool_name: str = Field(
        description="The name the service itself knows the tool by: what an MCP tools/call "
        "sends. Differs from name when a collision was resolved by prefixing.",
    )
    title: str | None = Field(default=None, description="Human-readable name.")
    description: str = Field(description="What the tool does and when to use it.")
    input_schema: dict[str, Any] = Field(description="JSON Schema (2020-12) of the arguments.")
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the structured result, when declared."
    )
    annotations: ToolAnnotations | None = Field(default=None, description="MCP hints.")
    timeout_seconds: int = Field(description="How long to wait for a result.")
    service: str = Field(description="Name of the ToolService offering the tool.")
    namespace: str = Field(description="Namespace of that ToolService.")
    exposure: Exposure = Field(description="The service's exposure.")
    versions: list[str] = Field(
        description="Versions serving the tool: the stable one first, then the canary's."
    )
    endpoints: list[Endpoint] = Field(description="Stable endpoint, then canary endpoint.")
    ready: bool = Field(description="Whether the service reports Ready.")
    protocol: Protocol = Field(
        description="http: POST the arguments as JSON to endpoint url + path. mcp: call "
        "tools/call with serviceToolName over streamable HTTP at endpoint url + path.",
    )
    path: str = Field(description="Path on each endpoint: the tool's path, or /mcp.")


class Catalog(ApiModel):
    """The canonical catalog document."""

    name: str = Field(description="The catalog's name; default for the built-in catalog.")
    hash: str = Field(description="sha256 (hex) of the tools; see hash_tools.")
    tools: list[CatalogTool] = Field(description="Published tools, sorted by name.")
    conflicts: list[Conflict] = Field(
        default_factory=list, description="Colliding tool names and what was done."
    )
    excluded: list[Exclusion] = Field(
        default_factory=list, description="Tools of selected services left out, with reasons."
    )


def hash_tools(tools: list[CatalogTool]) -> str:
    """sha256 over the canonical JSON of the tools sorted by name.

    Only tools are hashed (no names of the catalog, no timestamps), so equal
    inputs always give the same hash and an ETag survives operator restarts.
    """
    ordered = sorted((tool.to_wire() for tool in tools), key=lambda wire: str(wire["name"]))
    return canonical_hash(ordered)
