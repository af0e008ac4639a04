"""Building the canonical catalog from observed ToolServices: select, check, resolve names.

Nothing is dropped silently. A selected service's tool is either published or
listed in `excluded` with the reason; colliding names are either all rejected
or all renamed, and listed in `conflicts` either way.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from toolfleet.api.toolcatalog import CollisionStrategy, ToolCatalogSpec
from toolfleet.api.toolservice import Protocol, Tool
from toolfleet.catalog.dialects.publish import format_exclusions, tool_dialects
from toolfleet.catalog.model import (
    MCP_PATH,
    Catalog,
    CatalogTool,
    Conflict,
    ConflictResolution,
    Exclusion,
    hash_tools,
)
from toolfleet.catalog.selection import (
    DEFAULT_CATALOG_NAME,
    default_catalog_spec,
    select_entries,
)
from toolfleet.catalog.source import ServiceEntry
from toolfleet.catalog.validate import errors, validate_tool

MAX_TOOL_NAME = 64
# Hex digits of the hash that keeps a shortened prefixed name unique.
NAME_HASH_LENGTH = 8
# Reasons in `excluded` quote this many of a tool's errors; the rest are counted.
MAX_ERRORS_QUOTED = 3

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class _Candidate:
    """A tool that passed its checks, waiting for its published name."""

    entry: ServiceEntry
    tool: Tool

    @property
    def key(self) -> str:
        return f"{self.entry.key}/{self.tool.name}"


def build_catalog(name: str, entries: Iterable[ServiceEntry], spec: ToolCatalogSpec,
                  namespace: str | None) -> Catalog:
    """The canonical catalog `name` (living in `namespace`) from every observed entry.

    Entries are selected by the spec (see `select_entries`); tools of unready
    services are excluded unless spec.includeUnready; tools with validation
    errors are excluded with the first errors as the reason; colliding names
    are resolved by spec.collisionStrategy. The result does not depend on the
    order of `entries`.
    """
    excluded: list[Exclusion] = []
    candidates: list[_Candidate] = []
    for entry in select_entries(entries, spec, namespace):
        for index, tool in enumerate(entry.spec.tools):
            reason = _exclusion_reason(entry, tool, index, spec.include_unready)
            if reason is None:
                candidates.append(_Candidate(entry, tool))
            else:
                excluded.append(Exclusion(tool=tool.name, service=entry.key, reason=reason))

    if spec.collision_strategy == CollisionStrategy.prefix:
        names, conflicts = _resolve_by_prefix(candidates)
    else:
        names, conflicts = _resolve_by_rejection(candidates)
    tools = sorted((_catalog_tool(c, names[c.key]) for c in candidates if c.key in names),
                   key=lambda tool: tool.name)
    excluded += format_exclusions(tools)
    return Catalog(
        name=name,
        hash=hash_tools(tools),
        tools=tools,
        conflicts=sorted(conflicts, key=lambda c: c.tool),
        excluded=sorted(excluded, key=lambda e: (e.service, e.tool, e.format or "")),
    )


def build_default_catalog(entries: Iterable[ServiceEntry]) -> Catalog:
    """The built-in `default` catalog: every public tool in every namespace."""
    return build_catalog(DEFAULT_CATALOG_NAME, entries, default_catalog_spec(), namespace=None)


def prefixed_name(service: str, tool: str, qualifier: str = "") -> str:
    """`<service>_<tool>` made safe for every vendor and at most 64 characters.

    Characters vendors refuse become _, a leading digit or - gets a leading _,
    and a name too long keeps its start and ends with a short hash of
    `qualifier` (which should identify the tool), so it stays unique.
    """
    name = _UNSAFE_NAME_CHARS.sub("_", f"{service}_{tool}")
    if not re.match(r"[A-Za-z_]", name):
        name = f"_{name}"
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256((qualifier or name).encode()).hexdigest()[:NAME_HASH_LENGTH]
    return f"{name[:MAX_TOOL_NAME - NAME_HASH_LENGTH - 1]}_{digest}"


def _exclusion_reason(entry: ServiceEntry, tool: Tool, index: int,
                      include_unready: bool) -> str | None:
    if not entry.ready and not include_unready:
        return ("the service is not Ready (its Ready condition is not True); it is published "
                "once Ready, or now with includeUnready: true")
    problems = errors(validate_tool(tool, f"spec.tools[{index}]", warnings=False))
    if not problems:
        return None
    quoted = "; ".join(str(p) for p in problems[:MAX_ERRORS_QUOTED])
    more = len(problems) - MAX_ERRORS_QUOTED
    return quoted + (f"; and {more} more" if more > 0 else "")


def _by_name(candidates: list[_Candidate]) -> dict[str, list[_Candidate]]:
    groups: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.tool.name].append(candidate)
    for group in groups.values():
        group.sort(key=lambda c: c.key)
    return groups


def _resolve_by_rejection(
    candidates: list[_Candidate],
) -> tuple[dict[str, str], list[Conflict]]:
    names: dict[str, str] = {}
    conflicts = []
    for tool_name, group in _by_name(candidates).items():
        if len(group) == 1:
            names[group[0].key] = tool_name
        else:
            conflicts.append(Conflict(
                tool=tool_name, services=[c.entry.key for c in group],
                resolution=ConflictResolution.rejected,
            ))
    return names, conflicts


def _resolve_by_prefix(candidates: list[_Candidate]) -> tuple[dict[str, str], list[Conflict]]:
    """Rename every member of a colliding group; never rename a tool that did not collide.

    A prefixed name may itself collide: with a tool that has that name, or when
    two namespaces hold services of one name. Such names are qualified with the
    namespace too, and then reduced to a hash; a group that still cannot be told
    apart is rejected whole.
    """
    groups = _by_name(candidates)
    names = {group[0].key: tool_name for tool_name, group in groups.items() if len(group) == 1}
    taken = set(names.values())
    conflicts = []
    for tool_name in sorted(name for name, group in groups.items() if len(group) > 1):
        group = groups[tool_name]
        published = _unique_prefixed_names(group, taken)
        if published is None:
            conflicts.append(Conflict(tool=tool_name, services=[c.entry.key for c in group],
                                      resolution=ConflictResolution.rejected))
            continue
        taken.update(published)
        names.update({c.key: new for c, new in zip(group, published, strict=True)})
        conflicts.append(Conflict(tool=tool_name, services=[c.entry.key for c in group],
                                  resolution=ConflictResolution.prefixed,
                                  published_as=published))
    return names, conflicts


def _unique_prefixed_names(group: list[_Candidate], taken: set[str]) -> list[str] | None:
    """Names for a colliding group, the plainest form that is unique, or None."""
    options = [_name_forms(c) for c in group]
    for form in range(len(options[0])):
        published = [names[form] for names in options]
        if len(set(published)) == len(published) and not taken & set(published):
            return published
    return None


def _name_forms(candidate: _Candidate) -> tuple[str, str, str]:
    """Prefixed by service; by namespace and service; by a hash of namespace/service."""
    entry, tool, key = candidate.entry, candidate.tool.name, candidate.key
    digest = hashlib.sha256(entry.key.encode()).hexdigest()[:NAME_HASH_LENGTH]
    return (
        prefixed_name(entry.name, tool, key),
        prefixed_name(f"{entry.namespace}_{entry.name}", tool, key),
        prefixed_name(digest, tool, key),
    )


def _catalog_tool(candidate: _Candidate, published_name: str) -> CatalogTool:
    entry, tool = candidate.entry, candidate.tool
    versions: list[str] = []
    for endpoint in entry.endpoints:
        if endpoint.version not in versions:
            versions.append(endpoint.version)
    is_mcp = entry.spec.protocol == Protocol.mcp
    # The schema as written: a null inside it (a default, an enum value) is meaningful.
    input_schema = tool.input_schema.model_dump(mode="json", by_alias=True)
    return CatalogTool(
        name=published_name,
        service_tool_name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=input_schema,
        output_schema=tool.output_schema,
        annotations=tool.annotations,
        timeout_seconds=tool.timeout_seconds,
        service=entry.name,
        namespace=entry.namespace,
        exposure=entry.spec.access.exposure,
        versions=versions,
        endpoints=list(entry.endpoints),
        ready=entry.ready,
        protocol=entry.spec.protocol,
        path=MCP_PATH if is_mcp else tool.http_path(),
        dialects=tool_dialects(published_name, input_schema),
    )
