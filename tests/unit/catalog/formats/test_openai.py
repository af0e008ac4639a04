"""OpenAI rendering (operator/toolfleet/catalog/formats/openai.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from toolfleet.catalog.formats import openai, openai_strict

from ..fixtures import catalog_of, corpus, tool
from ..sdk import assert_openai_accepts
from ..strategies import Node, object_schemas
from .test_openai_strict import assert_closed

CORPUS = corpus()
# Whether a faithful strict form exists, and the first reason when not.
EXPECTED_STRICT = {
    "book_flight": "'oneOf' is not supported in strict mode",
    "classify_image": "format 'uri' is not supported in strict mode",
    "create_calendar_event": None,
    "create_order": None,
    "edit_file": None,
    "get_current_time": None,
    "get_weather": None,
    "github_create_issue": None,
    "plan_route": None,
    "run_python": "'uniqueItems' is not supported in strict mode",
    "run_sql_query": None,
    "scale_deployment": "'maxLength' is not supported in strict mode",
    "search_logs": None,
    "send_email": "'uniqueItems' is not supported in strict mode",
    "set_thermostat": "an object that allows arbitrary keys cannot be strict",
    "store_document": "a free-form object (no properties) cannot be strict",
    "summarize_document": None,
    "translate_text": None,
    "web_search": "'minLength' is not supported in strict mode",
}


def test_the_corpus_covers_every_case_it_expects() -> None:
    assert set(CORPUS) == set(EXPECTED_STRICT)
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_accepted_by_the_openai_sdk(name: str) -> None:
    catalog = catalog_of([CORPUS[name]])
    (rendered,) = openai.render_catalog(catalog)
    assert_openai_accepts(rendered)
    function = rendered["function"]
    assert function["name"] == CORPUS[name]["name"]
    assert function["description"] == CORPUS[name]["description"]
    expected = EXPECTED_STRICT[name]
    if expected is None:
        assert function["strict"] is True
        assert_closed(function["parameters"])
    else:
        assert "strict" not in function
        assert function["parameters"] == CORPUS[name]["inputSchema"]
        reasons = openai_strict.strict_transform(CORPUS[name]["inputSchema"]).reasons
        assert expected in reasons[0].message


def test_strict_is_never_claimed_for_a_schema_the_transform_refuses() -> None:
    catalog = catalog_of([tool(schema=CORPUS["store_document"]["inputSchema"])])
    (rendered,) = openai.render_catalog(catalog)
    assert "strict" not in rendered["function"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas())
def test_every_generated_schema_renders_to_a_tool_the_sdk_accepts(node: Node) -> None:
    (rendered,) = openai.render_catalog(catalog_of([tool(schema=node.schema)]))
    assert_openai_accepts(rendered)
    assert rendered["function"].get("strict", False) == openai_strict.strict_transform(
        node.schema).possible
