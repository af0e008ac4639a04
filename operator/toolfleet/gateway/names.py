"""From the name a model used back to the service and the service's own tool name.

A catalog publishes each tool under one name per format. Every format uses
`CatalogTool.name` (the service's own name, or `<service>_<tool>` when a
collision was resolved by prefixing), a name every vendor's profile accepts
(`catalog.dialects.profiles`); a tool a format leaves out
(`CatalogTool.excluded_from`) is not found under that format. A name is looked
up in one catalog only: a tool another catalog publishes is not found here,
which is what keeps a consumer inside the catalogs it may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from toolfleet.catalog.formats.openai_strict import strict_transform
from toolfleet.catalog.model import Catalog, CatalogTool


class CallFormat(StrEnum):
    """The shapes a call can arrive in: the three vendors' and MCP's."""

    openai = "openai"
    anthropic = "anthropic"
    gemini = "gemini"
    mcp = "mcp"


def published_name(tool: CatalogTool, format: CallFormat) -> str:
    """The name `format`'s rendering of the catalog gives `tool`.

    Every rendering in toolfleet.catalog.formats publishes `tool.name`; this is
    the one place a per-vendor rename would be mirrored.
    """
    del format  # no format renames tools yet
    return tool.name


@dataclass(frozen=True)
class CatalogIndex:
    """One catalog's tools by published name, per format, with their strictness.

    Built once per catalog hash (see `index_catalog`) so a call costs a dict
    lookup, not a scan or a schema transform.
    """

    catalog: Catalog
    by_format: Mapping[CallFormat, Mapping[str, CatalogTool]]
    # Names (catalog names) of the tools OpenAI's rendering marks `strict`.
    openai_strict: frozenset[str] = field(default_factory=frozenset)

    def resolve(self, format: CallFormat, name: str) -> CatalogTool | None:
        """The tool published as `name` in `format`, or None when this catalog has none."""
        return self.by_format[format].get(name)

    def is_strict(self, tool: CatalogTool) -> bool:
        """Whether OpenAI's rendering of this catalog marks `tool` strict."""
        return tool.name in self.openai_strict

    def names(self, format: CallFormat) -> list[str]:
        """Every published name in `format`, sorted: what an error offers instead."""
        return sorted(self.by_format[format])


def index_catalog(catalog: Catalog) -> CatalogIndex:
    """The lookup tables of one catalog: published names per format, and strictness.

    Strictness is decided exactly as the OpenAI rendering decides it
    (`strict_transform(...).possible`), so the gateway maps back precisely the
    calls whose arguments the model produced under strict mode.
    """
    by_format = {
        format: {published_name(tool, format): tool for tool in catalog.tools
                 if not tool.excluded_from(str(format))}
        for format in CallFormat
    }
    strict = frozenset(tool.name for tool in catalog.tools
                       if strict_transform(tool.input_schema).possible)
    return CatalogIndex(catalog=catalog, by_format=by_format, openai_strict=strict)


def unpublished_hint(operator_namespace: str) -> str:
    """What to do about a catalog name nothing publishes (the same on /calls and /mcp).

    Other catalogs' names are not offered: a caller may see only what it may call.
    """
    return ("a catalog is named 'default' or '<namespace>.<toolcatalog>', and is served "
            "once published: check the ToolCatalog's status (kubectl get toolcatalog) and "
            "that its namespace is one the operator watches; this gateway serves what the "
            f"operator installed in namespace {operator_namespace!r} publishes")
