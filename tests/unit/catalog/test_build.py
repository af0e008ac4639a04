"""Building the canonical catalog (operator/toolfleet/catalog/build.py)."""

from __future__ import annotations

import re

from toolfleet.api.common import TOOL_NAME_PATTERN
from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog.build import build_catalog, build_default_catalog, prefixed_name
from toolfleet.catalog.model import Catalog, Conflict, ConflictResolution, Exclusion
from toolfleet.catalog.source import entry_from_body
from toolfleet.resources.tracks import Track

from .fixtures import READY, body, entry, tool
from .test_source import rollout


def spec(**fields: object) -> ToolCatalogSpec:
    """A catalog spec over every namespace, with these fields as written in YAML."""
    return ToolCatalogSpec.model_validate({"namespaceSelector": {}, **fields})


def names(catalog: Catalog) -> list[str]:
    return [t.name for t in catalog.tools]


def test_a_tool_carries_its_service_endpoints_and_schemas() -> None:
    weather = tool("get_weather", "Weather now.", title="Weather", timeoutSeconds=10,
                   annotations={"readOnlyHint": True},
                   outputSchema={"type": "object", "properties": {"t": {"type": "number"}}})
    catalog = build_default_catalog([entry("weather", "ml", [weather])])
    (published,) = catalog.tools
    assert published.name == published.service_tool_name == "get_weather"
    assert (published.service, published.namespace, published.exposure) == \
        ("weather", "ml", "public")
    assert published.title == "Weather"
    assert published.timeout_seconds == 10
    assert published.input_schema == weather["inputSchema"]
    assert published.output_schema == weather["outputSchema"]
    assert published.annotations is not None and published.annotations.read_only_hint
    assert (published.protocol, published.path) == ("http", "/tools/get_weather")
    assert published.versions == ["1.0.0"]
    assert published.ready is True
    assert [e.url for e in published.endpoints] == ["http://weather.ml.svc.cluster.local:8080"]


def test_an_mcp_service_is_called_at_its_mcp_endpoint() -> None:
    catalog = build_default_catalog([entry(protocol="mcp")])
    assert (catalog.tools[0].protocol, catalog.tools[0].path) == ("mcp", "/mcp")


def test_a_custom_path_is_kept() -> None:
    catalog = build_default_catalog([entry(tools=[tool(path="/v2/lookup")])])
    assert catalog.tools[0].path == "/v2/lookup"


def test_a_canary_lists_both_endpoints_with_their_weights_and_versions() -> None:
    status = {"conditions": [READY], "stableVersion": "1.0.0", "stableRevision": "5tab1e0000",
              "rollout": rollout("Progressing", weight=25)}
    catalog = build_default_catalog([entry_from_body(body(version="1.1.0", status=status), {},
                                                     cluster_domain="cluster.local")])
    (published,) = catalog.tools
    assert [(e.track, e.version, e.weight) for e in published.endpoints] == [
        (Track.stable, "1.0.0", 75), (Track.canary, "1.1.0", 25)]
    assert sum(e.weight for e in published.endpoints) == 100
    assert published.versions == ["1.0.0", "1.1.0"]


def test_selection_by_labels_namespaces_and_exposure() -> None:
    entries = [
        entry("a", "ml", [tool("a_tool")], labels={"team": "ml"}),
        entry("b", "ml", [tool("b_tool")], labels={"team": "web"}),
        entry("c", "ml", [tool("c_tool")], labels={"team": "ml"}, exposure="internal"),
        entry("d", "other", [tool("d_tool")], labels={"team": "ml"}),
    ]
    catalog = build_catalog("ml-tools", entries, ToolCatalogSpec.model_validate(
        {"selector": {"matchLabels": {"team": "ml"}}, "exposures": ["public", "internal"]}),
        "ml")
    assert catalog.name == "ml-tools"
    assert names(catalog) == ["a_tool", "c_tool"]
    assert catalog.excluded == [] and catalog.conflicts == []


def test_unready_services_are_excluded_with_the_reason_unless_asked_for() -> None:
    entries = [entry("up", tools=[tool("up_tool")]),
               entry("down", tools=[tool("down_tool")], ready=False)]
    catalog = build_catalog("c", entries, spec(), None)
    assert names(catalog) == ["up_tool"]
    assert catalog.excluded == [Exclusion(
        tool="down_tool", service="team-a/down",
        reason="the service is not Ready (its Ready condition is not True); it is published "
               "once Ready, or now with includeUnready: true")]
    with_unready = build_catalog("c", entries, spec(includeUnready=True), None)
    assert names(with_unready) == ["down_tool", "up_tool"]
    assert [t.ready for t in with_unready.tools] == [False, True]
    assert with_unready.excluded == []


def test_a_tool_with_an_invalid_schema_is_excluded_and_its_neighbours_are_not() -> None:
    broken = tool("broken", schema={"type": "object", "properties": {"a": {"type": "strin"}}})
    catalog = build_default_catalog([entry(tools=[tool("fine"), broken])])
    assert names(catalog) == ["fine"]
    assert catalog.excluded == [Exclusion(
        tool="broken", service="team-a/svc",
        reason="spec.tools[1].inputSchema.properties.a.type: 'strin' is not a JSON Schema "
               "type; use one of string, number, integer, boolean, object, array, null (or a "
               "list of them)")]


def test_a_tool_with_only_warnings_is_published() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
              "properties": {"q": {"type": "string", "minLength": 1}}}
    catalog = build_default_catalog([entry(tools=[tool("warned", schema=draft7)])])
    assert names(catalog) == ["warned"]
    assert catalog.excluded == []


def test_reject_leaves_every_colliding_tool_out_and_says_so() -> None:
    entries = [entry("alpha", tools=[tool("search"), tool("only_alpha")]),
               entry("beta", "team-b", [tool("search")])]
    catalog = build_catalog("c", entries, spec(), None)
    assert names(catalog) == ["only_alpha"]
    assert catalog.conflicts == [Conflict(
        tool="search", services=["team-a/alpha", "team-b/beta"],
        resolution=ConflictResolution.rejected)]


def test_prefix_renames_every_colliding_tool_and_reports_the_new_names() -> None:
    entries = [entry("alpha", tools=[tool("search"), tool("only_alpha")]),
               entry("beta", "team-b", [tool("search")])]
    catalog = build_catalog("c", entries, spec(collisionStrategy="prefix"), None)
    assert names(catalog) == ["alpha_search", "beta_search", "only_alpha"]
    assert catalog.conflicts == [Conflict(
        tool="search", services=["team-a/alpha", "team-b/beta"],
        resolution=ConflictResolution.prefixed, published_as=["alpha_search", "beta_search"])]
    renamed = {t.name: t.service_tool_name for t in catalog.tools}
    assert renamed["alpha_search"] == renamed["beta_search"] == "search"


def test_prefix_tells_apart_services_of_one_name_in_two_namespaces() -> None:
    entries = [entry("svc", "team-a", [tool("search")]), entry("svc", "team-b", [tool("search")])]
    catalog = build_catalog("c", entries, spec(collisionStrategy="prefix"), None)
    assert names(catalog) == ["team-a_svc_search", "team-b_svc_search"]


def test_prefix_does_not_take_the_name_of_a_tool_that_did_not_collide() -> None:
    entries = [entry("alpha", tools=[tool("search")]), entry("beta", tools=[tool("search")]),
               entry("gamma", tools=[tool("alpha_search")])]
    catalog = build_catalog("c", entries, spec(collisionStrategy="prefix"), None)
    assert "alpha_search" in names(catalog)
    assert catalog.conflicts[0].published_as == ["team-a_alpha_search", "team-a_beta_search"]
    published = [t for t in catalog.tools if t.name == "alpha_search"]
    assert [t.service for t in published] == ["gamma"]


def test_prefixed_names_stay_valid_and_within_64_characters() -> None:
    long_tool = "t" * 60
    name = prefixed_name("a-very-long-service-name", long_tool, "ns/svc/tool")
    assert len(name) == 64
    assert re.match(TOOL_NAME_PATTERN, name)
    assert name != prefixed_name("a-very-long-service-name", long_tool, "ns2/svc/tool")
    assert prefixed_name("9lives.v2", "run") == "_9lives_v2_run"


def test_long_colliding_names_are_published_within_the_limit() -> None:
    long_tool = "x" * 64
    entries = [entry("alpha", tools=[tool(long_tool)]), entry("beta", tools=[tool(long_tool)])]
    catalog = build_catalog("c", entries, spec(collisionStrategy="prefix"), None)
    assert len(catalog.tools) == 2
    assert all(len(t.name) <= 64 and re.match(TOOL_NAME_PATTERN, t.name) for t in catalog.tools)
    assert len(set(names(catalog))) == 2


def test_the_hash_changes_when_a_description_changes() -> None:
    before = build_default_catalog([entry(tools=[tool(description="Look it up.")])])
    after = build_default_catalog([entry(tools=[tool(description="Look it up quickly.")])])
    assert before.hash != after.hash


def test_the_hash_changes_when_canary_weights_change() -> None:
    def at(weight: int) -> str:
        status = {"conditions": [READY], "stableVersion": "1.0.0", "stableRevision": "r",
                  "rollout": rollout("Progressing", weight)}
        return build_default_catalog([entry_from_body(body(status=status), {},
                                                      cluster_domain="cluster.local")]).hash

    assert at(20) != at(50)


def test_the_hash_does_not_change_otherwise() -> None:
    entries = [entry("a", "ml", [tool("one"), tool("two")]), entry("b", "web", [tool("three")])]
    first = build_default_catalog(entries)
    assert build_default_catalog(list(reversed(entries))).hash == first.hash
    assert build_default_catalog(entries).hash == first.hash
    # Services the catalog does not select do not move it.
    private = entry("p", "ml", [tool("secret")], exposure="private")
    assert build_default_catalog([*entries, private]).hash == first.hash
    # Nor does the catalog's own name.
    assert build_catalog("other", entries, spec(), None).hash == first.hash


def test_everything_in_the_output_is_sorted() -> None:
    entries = [entry("z", tools=[tool("b"), tool("a")]), entry("y", tools=[tool("a")]),
               entry("x", tools=[tool("c")], ready=False), entry("w", tools=[tool("c")],
                                                                ready=False)]
    catalog = build_catalog("c", entries, spec(), None)
    assert names(catalog) == ["b"]
    assert [e.service for e in catalog.excluded] == ["team-a/w", "team-a/x"]
    assert catalog.conflicts[0].services == ["team-a/y", "team-a/z"]
