"""The dialect decisions as the catalog publishes them: per tool per format, the exclusions
they add, the vendors' per-request tool limits, and the lines the CLI prints.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from toolfleet.catalog.dialects.adapt import (
    VENDOR_FORMATS,
    Adaptation,
    Verdict,
    adapt_input_schema,
    name_violations,
)
from toolfleet.catalog.dialects.profiles import FORMAT_PROFILES
from toolfleet.catalog.model import Catalog, CatalogTool, Exclusion, FormatDialect, KeyRenaming


def adapt_tool(name: str, input_schema: Mapping[str, Any], format: str) -> Adaptation:
    """What `format` receives of the tool named `name`: its name is checked too.

    Remembered per (name, schema, format): every publish of a fleet renders every
    tool in every format, and the tools rarely change between publishes. The
    Adaptation returned is shared: read it, do not change it.
    """
    # Key order kept: what is published keeps the author's order of properties.
    return _adapt_tool(name, json.dumps(input_schema, separators=(",", ":")), format)


@functools.lru_cache(maxsize=16384)
def _adapt_tool(name: str, schema_json: str, format: str) -> Adaptation:
    input_schema = json.loads(schema_json)
    refused = name_violations(name, format)
    if refused:
        return Adaptation(format=format, verdict=Verdict.excluded, schema=None,
                          reasons=tuple(refused))
    return adapt_input_schema(input_schema, format)


def tool_dialects(name: str, input_schema: Mapping[str, Any]) -> dict[str, FormatDialect] | None:
    """Per format, what it publishes when not the schema as written; None when every
    format publishes it as written."""
    dialects = {}
    for format in VENDOR_FORMATS:
        adaptation = adapt_tool(name, input_schema, format)
        if adaptation.verdict != Verdict.unchanged:
            dialects[format] = FormatDialect(
                verdict=str(adaptation.verdict), changes=list(adaptation.changes),
                renames=[KeyRenaming(at=list(r.at), keys=dict(r.keys))
                         for r in adaptation.renames],
                reason="; ".join(adaptation.reasons) or None)
    return dialects or None


def format_exclusions(tools: Iterable[CatalogTool]) -> list[Exclusion]:
    """One Exclusion per tool and format that leaves it out, naming the format."""
    return [Exclusion(tool=tool.service_tool_name, service=f"{tool.namespace}/{tool.service}",
                      format=format, reason=f"left out of {format} only: {dialect.reason}")
            for tool in tools for format, dialect in sorted((tool.dialects or {}).items())
            if dialect.verdict == Verdict.excluded]


def tools_in_format(catalog: Catalog, format: str) -> list[CatalogTool]:
    """The tools `format`'s rendering lists."""
    return [tool for tool in catalog.tools if not tool.excluded_from(format)]


def over_tool_limits(catalog: Catalog, formats: Iterable[str]) -> list[str]:
    """A warning per published format whose rendering lists more tools than one request
    of that vendor may carry."""
    warnings = []
    for format in formats:
        for profile in FORMAT_PROFILES.get(format, ()):
            limit = profile.tools_per_request
            count = len(tools_in_format(catalog, format))
            if limit is not None and count > limit.value:
                warnings.append(
                    f"{format}: {count} tools, over the {limit.value} tools one "
                    f"{profile.display} request may carry ({limit.source}); a router "
                    f"sending them all is refused, so give each consumer a ToolCatalog "
                    "(a selector for the tools it needs) or send a subset")
    return warnings


def describe_formats(name: str, input_schema: Mapping[str, Any]) -> list[str]:
    """One line per format saying what it receives of the tool, for `toolfleet validate`."""
    dialects = tool_dialects(name, input_schema)
    lines = []
    for format in VENDOR_FORMATS:
        dialect = (dialects or {}).get(format)
        if dialect is None:
            lines.append(f"{format}: as written")
        elif dialect.verdict == Verdict.excluded:
            lines.append(f"{format}: left out ({dialect.reason})")
        else:
            detail = [*dialect.changes, *(
                f"{original!r} published as {published!r}" for entry in dialect.renames
                for published, original in sorted(entry.keys.items()))]
            lines.append(f"{format}: {dialect.verdict}: {'; '.join(detail)}")
    return lines
