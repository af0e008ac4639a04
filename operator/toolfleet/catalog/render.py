"""The catalog in each published format, as deterministic JSON bytes.

Equal catalogs give byte-identical output (sorted keys, fixed separators), so
ConfigMap updates and ETags change only when the catalog does.
"""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolcatalog import CatalogFormat
from toolfleet.catalog.formats import anthropic, gemini, mcp, openai
from toolfleet.catalog.model import Catalog
from toolfleet.jsonschema.canonical import canonical_json

# The API's list of formats, in its order: canonical, openai, anthropic, gemini, mcp.
FORMATS = tuple(str(f.value) for f in CatalogFormat)


def render_document(catalog: Catalog, format: str) -> Any:
    """The catalog in one format, as a JSON-ready value."""
    if format == "canonical":
        return catalog.to_wire()
    if format == "openai":
        return openai.render_catalog(catalog)
    if format == "anthropic":
        return anthropic.render_catalog(catalog)
    if format == "gemini":
        return gemini.render_catalog(catalog)
    if format == "mcp":
        return mcp.render_catalog(catalog)
    raise ValueError(f"unknown catalog format {format!r}; use one of {', '.join(FORMATS)}")


def render(catalog: Catalog, format: str) -> bytes:
    """The catalog in one format as UTF-8 JSON: sorted keys, no spaces, no trailing newline."""
    return canonical_json(render_document(catalog, format)).encode()
