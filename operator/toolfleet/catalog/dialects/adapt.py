"""What each format receives of a tool: its input schema as is, rewritten, renamed, or
nothing (left out of that format, with the reason).

`adapt_input_schema` is the one decision; the renderers publish its schema, the
catalog builder records its verdict (and the renames, which the gateway maps
back) in the canonical rendering, and `toolfleet validate` prints it. Every
output is checked against the format's profiles (`schema_violations`): a
schema that would still break a rule is never published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from toolfleet.catalog.dialects.profiles import FORMAT_PROFILES, Profile
from toolfleet.catalog.dialects.renames import KeyRenames, rename_keys
from toolfleet.catalog.dialects.rewrites import add_missing_items, const_to_enum
from toolfleet.jsonschema.paths import Finding, Path, format_path
from toolfleet.jsonschema.walker import walk, without_keyword

# The formats a tool is adapted for, in the API's order.
VENDOR_FORMATS = tuple(FORMAT_PROFILES)


class Verdict(StrEnum):
    """What one format receives of a tool."""

    unchanged = "unchanged"
    rewritten = "rewritten"
    renamed = "renamed"
    excluded = "excluded"


@dataclass(frozen=True)
class Adaptation:
    """One format's form of a tool's input schema.

    `schema` is None when excluded; `changes` says what exact rewrites were
    made (and where), `renames` how to map arguments back, `reasons` why the
    tool is left out.
    """

    format: str
    verdict: Verdict
    schema: dict[str, Any] | None
    changes: tuple[str, ...] = ()
    renames: tuple[KeyRenames, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)


def adapt_input_schema(schema: Mapping[str, Any], format: str) -> Adaptation:
    """The input schema as `format` (openai, anthropic, gemini or mcp) receives it.

    Raises ValueError for another format.
    """
    if format not in FORMAT_PROFILES:
        raise ValueError(f"unknown format {format!r}; use one of {', '.join(VENDOR_FORMATS)}")
    changes: list[str] = []
    renames: list[KeyRenames] = []
    out: Any = dict(schema)
    if format == "gemini" and _has_keyword(out, "$schema"):
        out = without_keyword(out, "$schema")
        changes.append("$schema removed (Gemini refuses it; the dialect is 2020-12 anyway)")
    if format in ("openai", "gemini"):
        out, places = add_missing_items(out)
        changes += [f"{_where(p)}: items {{}} added (an array without items)" for p in places]
    if format == "gemini":
        out, places = const_to_enum(out)
        changes += [f"{_where(p)}: const written as a one-value enum" for p in places]
    if format == "anthropic":
        renamed = rename_keys(out, _key_rule(format))
        if renamed.reasons:
            return _excluded(format, [f"{_where(f.path)}: {f.message}" for f in renamed.reasons]
                             + ["no reversible rename of the property keys Anthropic refuses"])
        out, renames = renamed.schema, renamed.renames
    violations = [v for profile in FORMAT_PROFILES[format]
                  for v in schema_violations(out, profile)]
    if violations:
        return _excluded(format, [f"{_where(v.path)}: {v.message}" for v in violations])
    verdict = Verdict.renamed if renames else Verdict.rewritten if changes \
        else Verdict.unchanged
    return Adaptation(format=format, verdict=verdict, schema=out, changes=tuple(changes),
                      renames=tuple(renames))


def schema_violations(schema: Any, profile: Profile) -> list[Finding]:
    """Every place where `schema` breaks a rule of `profile`, with the rule's source."""
    findings = []
    for path, node in walk(schema):
        findings += _node_violations(path, node, profile)
    return findings


def _node_violations(path: Path, node: Mapping[str, Any], profile: Profile) -> list[Finding]:
    findings = []
    keys = profile.property_keys
    properties = node.get("properties")
    if keys is not None and isinstance(properties, Mapping):
        findings += [Finding((*path, "properties", k), f"property key {k!r} does not match "
                             f"{keys.pattern} ({keys.source})")
                     for k in properties if not keys.matches(k)]
    kind = node.get("type")
    declares_array = kind == "array" or (isinstance(kind, list) and "array" in kind)
    if profile.array_needs_items and declares_array and "items" not in node:
        findings.append(Finding(path, f"{profile.array_needs_items.text} "
                                f"({profile.array_needs_items.source})"))
    if profile.const_not_read and "const" in node:
        findings.append(Finding((*path, "const"), f"{profile.const_not_read.text} "
                                f"({profile.const_not_read.source})"))
    findings += [Finding((*path, k), f"'{k}' is refused ({profile.refused_keywords_source})")
                 for k in node if k in profile.refused_keywords]
    return findings


def name_violations(name: str, format: str) -> list[str]:
    """Why `format`'s profiles refuse a tool name; empty when all accept it."""
    return [f"tool name {name!r} does not match {p.tool_names.pattern} ({p.tool_names.source})"
            for p in FORMAT_PROFILES[format] if not p.tool_names.matches(name)]


def _key_rule(format: str) -> Any:
    rule = FORMAT_PROFILES[format][0].property_keys
    assert rule is not None  # only formats with a key rule are renamed
    return rule


def _has_keyword(schema: Any, keyword: str) -> bool:
    return any(keyword in node for _, node in walk(schema))


def _excluded(format: str, reasons: list[str]) -> Adaptation:
    return Adaptation(format=format, verdict=Verdict.excluded, schema=None,
                      reasons=tuple(reasons))


def _where(path: Path) -> str:
    return format_path("inputSchema", path)
