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
    "FormatDialect",
    "KeyRenaming",
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
    effective_weight: int | None = Field(
        default=None, ge=0, le=100,
        description="Percent of the pods behind the service's Service that run this "
        "revision, while a canary runs with trafficRouting replicas: the share a caller "
        "of the Service gets, which a GPU swap makes differ from `weight`. Unset when the "
        "split is exact (the gateway and an HTTPRoute split by `weight`).",
    )


class KeyRenaming(ApiModel):
    """Property keys one format publishes under other names, at one place in the arguments."""

    at: list[str | int | None] = Field(
        description="Where in the arguments, from their root: a property key (as "
        "published), a tuple position, or null for any array item or any value of an open "
        "map.")
    keys: dict[str, str] = Field(description="Published key -> the service's own key.")


class FormatDialect(ApiModel):
    """What one format publishes of a tool when it is not the schema as written."""

    verdict: str = Field(description="rewritten (exact rewrites), renamed (property keys "
                         "renamed; see renames), or excluded (left out of this format).")
    changes: list[str] = Field(default_factory=list,
                               description="The exact rewrites made, and where.")
    renames: list[KeyRenaming] = Field(
        default_factory=list, description="How to map a call's arguments in this format "
        "back to the service's keys: at each place, rename published keys to their "
        "originals (the gateway does this).")
    reason: str | None = Field(default=None, description="Why the tool is left out of this "
                               "format, when it is.")


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
    dialects: dict[str, FormatDialect] | None = Field(
        default=None, description="Per format (openai, anthropic, gemini, mcp), what it "
        "publishes when not the schema as written: exact rewrites, renamed keys with the "
        "mapping back, or the reason it is left out. Formats not named publish the schema "
        "as written.")

    def dialect(self, format: str) -> FormatDialect | None:
        """What `format` publishes of the tool, when not the schema as written."""
        return (self.dialects or {}).get(format)

    def excluded_from(self, format: str) -> bool:
        """Whether `format` leaves the tool out."""
        dialect = self.dialect(format)
        return dialect is not None and dialect.verdict == "excluded"


class CatalogGateway(ApiModel):
    """Where the gateway serves a catalog, so that a router needs one address."""

    mcp: str = Field(description="The catalog as one MCP server (streamable HTTP): "
                     "<gateway>/mcp/<catalog>.")
    calls: str = Field(description="The tool-call API taking calls as a model produced "
                       "them: POST <gateway>/v1/catalogs/<catalog>/calls?format=openai|"
                       "anthropic|gemini.")


def gateway_urls(base_url: str, catalog: str) -> CatalogGateway:
    """The gateway's URLs for `catalog`, from its base URL (e.g. http://gw.ns.svc:80)."""
    base = base_url.rstrip("/")
    return CatalogGateway(mcp=f"{base}/mcp/{catalog}",
                          calls=f"{base}/v1/catalogs/{catalog}/calls")


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
    gateway: CatalogGateway | None = Field(
        default=None, description="Where the gateway serves this catalog, when one is "
        "installed; the tools' endpoints stay the services' own.")


def hash_tools(tools: list[CatalogTool]) -> str:
    """sha256 over the canonical JSON of the tools sorted by name.

    Only tools are hashed (no names of the catalog, no timestamps), so equal
    inputs always give the same hash and an ETag survives operator restarts.
    """
    ordered = sorted((tool.to_wire() for tool in tools), key=lambda wire: str(wire["name"]))
    return canonical_hash(ordered)
