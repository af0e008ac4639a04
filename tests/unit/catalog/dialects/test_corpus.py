"""The corpus of schemas that break tool calling: each format's verdict, and every output
checked against that vendor's rules (operator/toolfleet/catalog/dialects/)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from toolfleet.catalog.dialects.adapt import schema_violations
from toolfleet.catalog.dialects.profiles import FORMAT_PROFILES
from toolfleet.catalog.dialects.publish import adapt_tool, tools_in_format
from toolfleet.catalog.render import render_document

from ..fixtures import catalog_of, tool
from ..sdk import (
    assert_anthropic_accepts,
    assert_gemini_accepts,
    assert_mcp_accepts,
    assert_openai_accepts,
)
from .corpus import CORPUS, FORMATS, X


def test_the_corpus_holds_at_least_thirty_schemas_each_valid_json_schema() -> None:
    assert len(CORPUS) >= 30
    for schema, _ in CORPUS.values():
        Draft202012Validator.check_schema(schema)


def test_every_verdict_is_used_by_some_format() -> None:
    used = {verdict for _, verdicts in CORPUS.values() for verdict in verdicts}
    assert used == {"unchanged", "rewritten", "renamed", "excluded"}


@pytest.mark.parametrize("name", sorted(CORPUS))
@pytest.mark.parametrize("format", FORMATS)
def test_each_format_publishes_the_expected_form_and_keeps_its_vendors_rules(
        name: str, format: str) -> None:
    schema, verdicts = CORPUS[name]
    adaptation = adapt_tool(name, schema, format)
    expected = verdicts[FORMATS.index(format)]
    assert adaptation.verdict == expected, adaptation.reasons or adaptation.changes
    if expected == X:
        assert adaptation.schema is None and adaptation.reasons
        return
    assert adaptation.schema is not None
    for profile in FORMAT_PROFILES[format]:
        assert schema_violations(adaptation.schema, profile) == [], profile.name
        assert profile.tool_names.matches(name)
    Draft202012Validator.check_schema(adaptation.schema)
    if expected == "unchanged":
        assert adaptation.schema == schema or format == "gemini"


def test_the_whole_corpus_as_one_catalog_renders_what_each_sdk_accepts() -> None:
    catalog = catalog_of([tool(name=name, schema=schema)
                          for name, (schema, _) in CORPUS.items()])
    for format in FORMATS:
        left_out = {name for name, (_, verdicts) in CORPUS.items()
                    if verdicts[FORMATS.index(format)] == X}
        assert {t.name for t in tools_in_format(catalog, format)} == set(CORPUS) - left_out
        assert {e.tool for e in catalog.excluded if e.format == format} == left_out
    openai = render_document(catalog, "openai")
    for rendered in openai:
        assert_openai_accepts(rendered)
    anthropic = render_document(catalog, "anthropic")
    for rendered in anthropic:
        assert_anthropic_accepts(rendered)
    assert_gemini_accepts(render_document(catalog, "gemini"))
    assert_mcp_accepts(render_document(catalog, "mcp"))
    for format, rendered_tools in (("openai", [t["function"] for t in openai]),
                                   ("anthropic", anthropic)):
        names = {t["name"] for t in rendered_tools}
        assert names == {t.name for t in tools_in_format(catalog, format)}


def _keys(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = set(schema.get("properties") or {}) if isinstance(
            schema.get("properties"), dict) else set()
        return found | {k for v in schema.values() for k in _keys(v)}
    if isinstance(schema, list):
        return {k for v in schema for k in _keys(v)}
    return set()


def test_no_anthropic_rendering_carries_a_key_anthropic_refuses() -> None:
    rule = FORMAT_PROFILES["anthropic"][0].property_keys
    assert rule is not None
    catalog = catalog_of([tool(name=name, schema=schema)
                          for name, (schema, _) in CORPUS.items()])
    for rendered in render_document(catalog, "anthropic"):
        assert all(rule.matches(key) for key in _keys(rendered["input_schema"]))
