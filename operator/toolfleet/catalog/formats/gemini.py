"""Gemini rendering: one Tool of `functionDeclarations` with `parametersJsonSchema`.

Gemini reads a subset of JSON Schema and may ignore the rest; keywords outside
that subset are reported as warnings (see `unsupported_keywords`) so authors
know which constraints the model is not held to. The input schema is the one
`catalog.dialects` adapts for Gemini: `$schema` removed (Gemini refuses it),
`items: {}` for arrays without items, `const` as a one-value enum.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from toolfleet.catalog.dialects.profiles import GEMINI_READ_KEYWORDS
from toolfleet.catalog.dialects.publish import adapt_tool
from toolfleet.catalog.model import Catalog, CatalogTool
from toolfleet.jsonschema.paths import Finding
from toolfleet.jsonschema.walker import ANNOTATION_KEYWORDS, walk, without_keyword

# The keywords Gemini reads (its profile in `catalog.dialects.profiles`); others may be
# ignored.
GEMINI_KEYWORDS = GEMINI_READ_KEYWORDS


def gemini_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema as Gemini takes it: unchanged but for `$schema`, removed at every level."""
    result: dict[str, Any] = without_keyword(schema, "$schema")
    return result


def unsupported_keywords(schema: Mapping[str, Any]) -> list[Finding]:
    """Keywords Gemini may ignore, each where it appears.

    Annotations (description, default, examples...) are not listed: ignoring
    them changes what the model may send no more than reading them does.
    """
    findings = []
    for path, node in walk(schema):
        for keyword in node:
            # const reaches Gemini as a one-value enum, which it reads.
            if keyword in GEMINI_KEYWORDS or keyword in ANNOTATION_KEYWORDS \
                    or keyword == "const":
                if keyword == "oneOf":
                    findings.append(Finding((*path, keyword), "Gemini reads 'oneOf' as "
                                            "'anyOf': a value matching several branches is "
                                            "not refused"))
                continue
            findings.append(Finding((*path, keyword), f"Gemini does not support '{keyword}' "
                                    "and may ignore it, so the model is not held to it; state "
                                    "the constraint in the description too"))
    return findings


def render_tool(tool: CatalogTool) -> dict[str, Any]:
    """One function declaration: name, description, parametersJsonSchema (and response)."""
    declaration: dict[str, Any] = {
        "name": tool.name,
        "description": tool.description,
        "parametersJsonSchema": _parameters(tool),
    }
    if tool.output_schema is not None:
        declaration["responseJsonSchema"] = gemini_schema(tool.output_schema)
    return declaration


def render_catalog(catalog: Catalog) -> dict[str, Any]:
    """The catalog as one Gemini Tool: {"functionDeclarations": [...]}."""
    return {"functionDeclarations": [
        render_tool(tool) for tool in catalog.tools
        if adapt_tool(tool.name, tool.input_schema, "gemini").schema is not None]}


def _parameters(tool: CatalogTool) -> dict[str, Any]:
    adapted = adapt_tool(tool.name, tool.input_schema, "gemini").schema
    return gemini_schema(tool.input_schema) if adapted is None else adapted
