"""From the name a model used back to the service's own tool, in one catalog only."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from toolfleet.catalog.formats import anthropic, gemini, mcp, openai
from toolfleet.gateway.names import CallFormat, index_catalog

from .fixtures import LOOSE_SCHEMA, catalog, entry, tool


def test_a_prefixed_collision_name_leads_to_its_service_and_the_services_own_name() -> None:
    index = index_catalog(catalog("x", entry("a", "ns1", [tool("lookup")]),
                                  entry("b", "ns2", [tool("lookup")])))
    for format in CallFormat:
        found = index.resolve(format, "b_lookup")
        assert found is not None
        assert (found.namespace, found.service, found.service_tool_name) == ("ns2", "b", "lookup")
        # The plain name was given to nobody: it is not found.
        assert index.resolve(format, "lookup") is None


def test_a_tool_another_catalog_publishes_is_not_found_in_this_one() -> None:
    mine = index_catalog(catalog("mine", entry("a", "ns1", [tool("lookup")])))
    catalog("theirs", entry("b", "ns2", [tool("secret")]))
    assert mine.resolve(CallFormat.openai, "secret") is None
    assert mine.names(CallFormat.openai) == ["lookup"]


def test_every_name_each_rendering_publishes_resolves_in_that_format() -> None:
    built = catalog("x", entry("a", "ns1", [tool("lookup"), tool("find")]),
                    entry("b", "ns2", [tool("lookup")]))
    index = index_catalog(built)
    published = {
        CallFormat.openai: [t["function"]["name"] for t in openai.render_catalog(built)],
        CallFormat.anthropic: [t["name"] for t in anthropic.render_catalog(built)],
        CallFormat.gemini: [d["name"]
                            for d in gemini.render_catalog(built)["functionDeclarations"]],
        CallFormat.mcp: [t["name"] for t in mcp.render_catalog(built)["tools"]],
    }
    for format, names in published.items():
        assert sorted(names) == index.names(format)
        assert all(index.resolve(format, name) is not None for name in names)


def test_strictness_is_what_the_openai_rendering_says() -> None:
    built = catalog("x", entry("a", "ns1", [tool("tight"), tool("loose", LOOSE_SCHEMA)]))
    index = index_catalog(built)
    rendered = {t["function"]["name"]: t["function"].get("strict", False)
                for t in openai.render_catalog(built)}
    assert rendered == {"tight": True, "loose": False}
    assert {t.name: index.is_strict(t) for t in built.tools} == rendered


@given(st.text(max_size=80))
def test_any_other_name_is_simply_not_found(name: str) -> None:
    index = index_catalog(catalog("x", entry("a", "ns1", [tool("lookup")])))
    if name != "lookup":
        assert all(index.resolve(format, name) is None for format in CallFormat)
