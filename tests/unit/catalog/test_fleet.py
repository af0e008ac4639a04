"""Every catalog of the fleet (operator/toolfleet/catalog/fleet.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.common import Condition, LabelSelector
from toolfleet.api.toolcatalog import CollisionStrategy, ToolCatalogStatus
from toolfleet.catalog.fleet import (
    CatalogTarget,
    build_all,
    catalog_status,
    catalog_targets,
    collisions,
    endpoint_name,
    invalid_catalog_status,
    service_entries,
)
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.selection import DEFAULT_CATALOG_NAME
from toolfleet.catalog.source import ServiceEntry
from toolfleet.status.conditions import find
from toolfleet.status.events import condition_events

from .objects import T1, toolcatalog, toolservice, toolservice_fleets

PROPERTIES = settings(max_examples=50, deadline=None)
OPERATOR_NAMESPACE = "toolfleet-system"
T2, T3 = "2025-01-01T00:05:00Z", "2025-01-01T00:10:00Z"
CONFIG_MAPS = ["toolcatalog-team-a.tools"]


def entries(*bodies: dict[str, Any],
            namespace_labels: dict[str, dict[str, str]] | None = None) -> list[ServiceEntry]:
    found, errors = service_entries(bodies, namespace_labels or {}, cluster_domain="cluster.local")
    assert errors == []
    return found


def targets(*bodies: dict[str, Any],
            default_strategy: CollisionStrategy = CollisionStrategy.prefix
            ) -> list[CatalogTarget]:
    found, errors = catalog_targets(bodies, OPERATOR_NAMESPACE, default_strategy)
    assert errors == {}
    return found


def catalogs(targets_: list[CatalogTarget], found: list[ServiceEntry]) -> dict[str, Catalog]:
    return {target.key: catalog for target, catalog in build_all(targets_, found)}


def published(catalog: Catalog) -> list[tuple[str, str]]:
    """(service key, tool name as the service knows it) of every published tool."""
    return sorted((f"{t.namespace}/{t.service}", t.service_tool_name) for t in catalog.tools)


def condition(status: ToolCatalogStatus, type_: str) -> Condition:
    found = find(status.conditions, type_)
    assert found is not None, type_
    return found


# -- catalog_targets ------------------------------------------------------------------

def test_the_built_in_catalog_is_served_as_default_from_the_operator_namespace() -> None:
    (default,) = targets()
    assert (default.key, default.namespace) == (DEFAULT_CATALOG_NAME, OPERATOR_NAMESPACE)
    assert default.is_default and default.body is None
    assert default.spec.namespace_selector == LabelSelector()
    assert default.spec.collision_strategy == CollisionStrategy.prefix
    assert set(default.formats) == {"canonical", "openai", "anthropic", "gemini", "mcp"}


def test_the_built_in_catalog_comes_before_every_toolcatalog() -> None:
    found = targets(toolcatalog("aaa", "a"), toolcatalog("tools"))
    assert [t.key for t in found] == ["default", "a.aaa", "team-a.tools"]


@pytest.mark.parametrize("strategy", list(CollisionStrategy))
def test_the_built_in_catalogs_collision_strategy_is_configurable(
        strategy: CollisionStrategy) -> None:
    twice = entries(toolservice("search", "dev"), toolservice("search", "staging"))
    (default,) = targets(default_strategy=strategy)
    catalog = catalogs([default], twice)[DEFAULT_CATALOG_NAME]
    assert default.spec.collision_strategy == strategy
    if strategy == CollisionStrategy.prefix:
        assert sorted(t.name for t in catalog.tools) == ["dev_search_lookup",
                                                         "staging_search_lookup"]
    else:
        assert catalog.tools == []
        assert [(c.tool, c.services) for c in catalog.conflicts] == [
            ("lookup", ["dev/search", "staging/search"])]


def test_a_toolcatalog_is_served_as_namespace_dot_name_from_its_own_namespace() -> None:
    body = toolcatalog("default", "ml", {"formats": ["openai"], "collisionStrategy": "prefix"})
    _, target = targets(body)
    assert (target.key, target.namespace) == ("ml.default", "ml")
    assert not target.is_default and target.body is body
    assert target.selection_namespace == "ml"
    assert target.formats == ("openai",)
    assert target.spec.collision_strategy == CollisionStrategy.prefix


def test_a_toolcatalog_without_spec_fields_gets_the_defaults() -> None:
    _, target = targets(toolcatalog("tools"))
    assert target.spec.namespace_selector is None
    assert target.spec.collision_strategy == CollisionStrategy.reject
    assert target.spec.exposures == ["public"]


@pytest.mark.parametrize(("spec", "expected"), [
    ({"collisionStrategy": "merge"}, "spec.collisionStrategy: Input should be 'reject' or "
                                     "'prefix'"),
    ({"formats": []}, "spec.formats: List should have at least 1 item"),
    ({"colisionStrategy": "reject"}, "spec.colisionStrategy: Extra inputs are not permitted"),
    ({"selector": {"matchExpressions": [{"key": "team", "operator": "Near"}]}},
     "spec.selector.matchExpressions.0.operator"),
])
def test_an_invalid_toolcatalog_is_reported_by_key_and_not_published(
        spec: dict[str, Any], expected: str) -> None:
    bad, good = toolcatalog("broken", "ml", spec), toolcatalog("tools", "ml")
    found, errors = catalog_targets([bad, good], OPERATOR_NAMESPACE)
    assert [t.key for t in found] == ["default", "ml.tools"]
    assert list(errors) == ["ml.broken"]
    assert expected in errors["ml.broken"]


def test_every_problem_of_an_invalid_spec_is_reported() -> None:
    _, errors = catalog_targets(
        [toolcatalog("broken", spec={"collisionStrategy": "merge", "formats": []})],
        OPERATOR_NAMESPACE)
    assert "spec.collisionStrategy" in errors["team-a.broken"]
    assert "spec.formats" in errors["team-a.broken"]


# -- endpoint_name --------------------------------------------------------------------

dns_labels = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?\Z")
dns_subdomains = st.lists(dns_labels, min_size=1, max_size=3).map(".".join)


@PROPERTIES
@given(namespace=dns_labels, name=dns_subdomains)
def test_an_endpoint_name_splits_back_at_its_first_dot(namespace: str, name: str) -> None:
    key = endpoint_name(namespace, name)
    assert key.split(".", 1) == [namespace, name]
    assert key != DEFAULT_CATALOG_NAME


def test_a_toolcatalog_named_default_does_not_shadow_the_built_in_catalog() -> None:
    assert endpoint_name("toolfleet-system", "default") == "toolfleet-system.default"


# -- service_entries ------------------------------------------------------------------

def test_unreadable_toolservices_are_reported_and_the_rest_are_read() -> None:
    bad_spec = toolservice("broken-spec", "ml")
    bad_spec["spec"]["tools"][0]["inputSchema"] = {"type": "array"}
    bad_status = toolservice("broken-status", "ml")
    bad_status["status"]["conditions"][0]["status"] = "Maybe"
    found, errors = service_entries(
        [toolservice("search", "ml"), bad_spec, bad_status, toolservice("fresh", ready=None)],
        {"ml": {"env": "prod"}}, cluster_domain="cluster.local")
    assert [e.key for e in found] == ["ml/search", "team-a/fresh"]
    assert [e.namespace_labels for e in found] == [{"env": "prod"}, {}]
    assert [e.ready for e in found] == [True, False]
    assert len(errors) == 2
    assert "toolservice ml/broken-spec: spec is invalid" in errors[0]
    assert "toolservice ml/broken-status: status is unreadable" in errors[1]


# -- build_all ------------------------------------------------------------------------

def fleet() -> list[ServiceEntry]:
    return entries(
        toolservice("search", "team-a", ["find"]),
        toolservice("billing", "team-a", ["invoice"], exposure="internal"),
        toolservice("forecast", "team-b", ["predict"]),
        toolservice("secrets", "team-b", ["peek"], exposure="private"),
        toolservice("audit", "team-b", ["trail"], exposure="internal"),
    )


def test_the_default_catalog_spans_every_namespace_and_public_services_only() -> None:
    catalog = catalogs(targets(), fleet())[DEFAULT_CATALOG_NAME]
    assert published(catalog) == [("team-a/search", "find"), ("team-b/forecast", "predict")]
    assert catalog.name == DEFAULT_CATALOG_NAME


def test_a_toolcatalog_without_namespace_selector_sees_only_its_own_namespace() -> None:
    found = catalogs(targets(toolcatalog("everything", "team-b",
                                         {"exposures": ["public", "internal", "private"]}),
                             toolcatalog("public", "team-a")), fleet())
    assert published(found["team-b.everything"]) == [
        ("team-b/audit", "trail"), ("team-b/forecast", "predict"), ("team-b/secrets", "peek")]
    assert published(found["team-a.public"]) == [("team-a/search", "find")]
    assert found["team-b.everything"].name == "team-b.everything"


def test_a_toolcatalog_selects_namespaces_by_their_labels() -> None:
    found = entries(toolservice("search", "team-a"), toolservice("forecast", "team-b"),
                    namespace_labels={"team-b": {"env": "prod"}})
    catalog = catalogs(targets(toolcatalog(
        "prod", "team-a", {"namespaceSelector": {"matchLabels": {"env": "prod"}}})),
        found)["team-a.prod"]
    assert published(catalog) == [("team-b/forecast", "lookup")]


def test_every_target_gets_a_catalog_in_order() -> None:
    found = targets(toolcatalog("one"), toolcatalog("two", "team-b"))
    assert [(t.key, c.name) for t, c in build_all(found, fleet())] == [
        ("default", "default"), ("team-a.one", "team-a.one"), ("team-b.two", "team-b.two")]


# -- catalog_status -------------------------------------------------------------------

def reject_catalog(*bodies: dict[str, Any]) -> Catalog:
    (_, target) = targets(toolcatalog("tools", spec={"collisionStrategy": "reject"}))
    return catalogs([target], entries(*bodies))["team-a.tools"]


def test_a_published_catalog_is_ready_with_its_counts() -> None:
    catalog = reject_catalog(toolservice("search", tools=["find", "rank"]))
    status = catalog_status(ToolCatalogStatus(), 3, catalog, CONFIG_MAPS, T1)
    ready = condition(status, "Ready")
    assert (ready.status, ready.reason) == ("True", "Published")
    assert ready.message == "2 tool(s) published in 1 ConfigMap(s)"
    degraded = condition(status, "Degraded")
    assert (degraded.status, degraded.reason) == ("False", "AsExpected")
    assert status.tool_count == 2
    assert status.hash == catalog.hash
    assert status.short_hash == catalog.hash[:12]
    assert status.config_maps == CONFIG_MAPS
    assert (status.conflicts, status.excluded) == ([], [])
    assert status.observed_generation == 3
    assert {c.observed_generation for c in status.conditions} == {3}
    assert {c.last_transition_time for c in status.conditions} == {T1}


def test_a_name_conflict_degrades_the_catalog() -> None:
    catalog = reject_catalog(toolservice("search", tools=["find"]),
                             toolservice("lookup", tools=["find", "fetch"]))
    status = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1)
    degraded = condition(status, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ToolsLeftOut")
    assert ("1 name conflict(s) left out, 0 published under prefixed names, 0 tool(s) "
            "excluded") in degraded.message
    assert [(c.tool, c.services) for c in status.conflicts] == [
        ("find", ["team-a/lookup", "team-a/search"])]
    assert condition(status, "Ready").status == "True"
    assert status.tool_count == 1


def test_a_prefixed_conflict_says_the_tools_were_renamed_and_how() -> None:
    (_, target) = targets(toolcatalog("tools", spec={"collisionStrategy": "prefix"}))
    catalog = catalogs([target], entries(toolservice("search", tools=["find"]),
                                         toolservice("lookup", tools=["find", "fetch"])))[
        "team-a.tools"]
    status = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1)
    degraded = condition(status, "Degraded")
    # Nothing was left out, but a caller of plain `find` now gets a 404.
    assert (degraded.status, degraded.reason) == ("True", "ToolsRenamed")
    assert degraded.message.startswith(
        "0 name conflict(s) left out, 1 published under prefixed names (find as "
        "lookup_find, search_find), 0 tool(s) excluded"), degraded.message
    assert status.tool_count == 3


def test_an_excluded_tool_degrades_the_catalog() -> None:
    catalog = reject_catalog(toolservice("search"),
                             toolservice("starting", tools=["warm"], ready=False))
    status = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1)
    degraded = condition(status, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ToolsLeftOut")
    assert ("0 name conflict(s) left out, 0 published under prefixed names, 1 tool(s) "
            "excluded") in degraded.message
    assert [(e.service, e.tool) for e in status.excluded] == [("team-a/starting", "warm")]


def test_transition_times_move_only_for_conditions_that_flip() -> None:
    degraded = catalog_status(ToolCatalogStatus(), 1, reject_catalog(
        toolservice("search"), toolservice("starting", tools=["warm"], ready=False)),
        CONFIG_MAPS, T1)
    healed = catalog_status(degraded, 2, reject_catalog(
        toolservice("search"), toolservice("starting", tools=["warm"])), CONFIG_MAPS, T2)
    assert condition(healed, "Degraded").status == "False"
    assert condition(healed, "Degraded").last_transition_time == T2
    assert condition(healed, "Ready").last_transition_time == T1
    assert condition(healed, "Ready").message == "2 tool(s) published in 1 ConfigMap(s)"
    assert (healed.excluded, healed.observed_generation) == ([], 2)


fleets = toolservice_fleets(max_size=6)


@PROPERTIES
@given(bodies=fleets, strategy=st.sampled_from(["reject", "prefix"]),
       generation=st.integers(1, 9))
def test_a_republish_that_sees_nothing_new_writes_an_equal_status(
        bodies: list[dict[str, Any]], strategy: str, generation: int) -> None:
    (_, target) = targets(toolcatalog("tools", spec={"collisionStrategy": strategy,
                                                     "namespaceSelector": {}}))
    catalog = catalogs([target], entries(*bodies))["team-a.tools"]
    first = catalog_status(ToolCatalogStatus(), generation, catalog, CONFIG_MAPS, T1)
    # As the next publish reads it back from the API server, later.
    stored = ToolCatalogStatus.model_validate(first.to_wire())
    again = catalog_status(stored, generation, catalog, CONFIG_MAPS, T3)
    assert again == first
    assert again.to_wire() == first.to_wire()


# -- invalid_catalog_status -----------------------------------------------------------

def test_an_invalid_spec_makes_the_catalog_unready_and_keeps_the_last_publish() -> None:
    catalog = reject_catalog(toolservice("search"))
    good = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1)
    message = "spec.formats: List should have at least 1 item after validation, not 0"
    broken = invalid_catalog_status(good, 2, message, T2)
    ready = condition(broken, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "InvalidSpec", message)
    assert (ready.last_transition_time, ready.observed_generation) == (T2, 2)
    assert broken.observed_generation == 2
    assert (broken.tool_count, broken.hash, broken.config_maps) == (1, catalog.hash,
                                                                    CONFIG_MAPS)
    assert condition(broken, "Degraded") == condition(good, "Degraded")
    # Left as it is, it stays as it is.
    assert invalid_catalog_status(broken, 2, message, T3) == broken
    # Fixed, it is published and Ready again from that moment.
    fixed = catalog_status(broken, 3, catalog, CONFIG_MAPS, T3)
    assert (condition(fixed, "Ready").status, condition(fixed, "Ready").reason,
            condition(fixed, "Ready").last_transition_time) == ("True", "Published", T3)


# -- collisions -----------------------------------------------------------------------

def reject_in_team_a() -> list[CatalogTarget]:
    return targets(toolcatalog("tools", "team-a", {"collisionStrategy": "reject"}))


def candidate(name: str = "finder", namespace: str = "team-a",
              tools: list[str] | None = None, **kwargs: Any) -> ServiceEntry:
    (entry,) = entries(toolservice(name, namespace, tools or ["summarize", "lookup"], **kwargs))
    return entry


def test_a_tool_name_taken_in_a_rejecting_catalog_is_refused_with_the_fix() -> None:
    others = entries(toolservice("search", "team-a", ["lookup"]))
    (problem,) = collisions(candidate(), others, reject_in_team_a())
    assert problem.startswith("spec.tools[1].name: 'lookup' is already offered by "
                              "team-a/search in catalog 'team-a.tools'")
    assert "rename the tool" in problem and "collisionStrategy: prefix" in problem


def test_every_colliding_tool_and_catalog_is_named() -> None:
    others = entries(toolservice("search", "team-a", ["lookup", "summarize"]))
    found = targets(toolcatalog("tools", spec={"collisionStrategy": "reject"}),
                    toolcatalog("more", spec={"collisionStrategy": "reject"}))
    problems = collisions(candidate(), others, found)
    assert len(problems) == 4
    assert sum("spec.tools[0].name: 'summarize'" in p for p in problems) == 2
    assert sum("catalog 'team-a.more'" in p for p in problems) == 2


def test_no_collision_in_a_catalog_that_prefixes() -> None:
    others = entries(toolservice("search", "team-a", ["lookup"]))
    found = targets(toolcatalog("tools", spec={"collisionStrategy": "prefix"}))
    assert collisions(candidate(), others, found) == []


def test_the_default_catalog_refuses_only_when_configured_to() -> None:
    others = entries(toolservice("search", "team-b", ["lookup"]))
    assert collisions(candidate(), others, targets()) == []
    (problem,) = collisions(candidate(), others,
                            targets(default_strategy=CollisionStrategy.reject))
    assert "team-b/search in catalog 'default'" in problem


def test_a_service_does_not_collide_with_itself_on_update() -> None:
    current = entries(toolservice("finder", "team-a", ["lookup"]))
    assert collisions(candidate(), current, reject_in_team_a()) == []


def test_readiness_is_ignored() -> None:
    others = entries(toolservice("search", "team-a", ["lookup"], ready=False))
    assert len(collisions(candidate(ready=None), others, reject_in_team_a())) == 1


@pytest.mark.parametrize(("why", "rival", "new"), [
    ("the rival is in another namespace", toolservice("search", "team-b", ["lookup"]),
     candidate()),
    ("the rival is not in the catalog", toolservice("search", "team-a", ["lookup"],
                                                    exposure="internal"), candidate()),
    ("the candidate is not in the catalog", toolservice("search", "team-a", ["lookup"]),
     candidate(exposure="private")),
])
def test_no_collision_with_what_the_catalog_does_not_publish(
        why: str, rival: dict[str, Any], new: ServiceEntry) -> None:
    assert collisions(new, entries(rival), reject_in_team_a()) == [], why


# -- vendor dialects in status ---------------------------------------------------------------

def _catalog_of(tools: list[dict[str, Any]], per_service: int = 50) -> Catalog:
    bodies = []
    for start in range(0, len(tools), per_service):
        body = toolservice("graph" if start == 0 else f"graph{start}")
        body["spec"]["tools"] = tools[start:start + per_service]
        bodies.append(body)
    (_, target) = targets(toolcatalog("tools"))
    return catalogs([target], entries(*bodies))["team-a.tools"]


def _tool(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "description": "A tool.", "path": f"/{name}", "inputSchema": schema}


def test_a_catalog_over_openais_128_tools_per_request_warns_in_status() -> None:
    catalog = _catalog_of([_tool(f"t{i:03d}", {"type": "object"}) for i in range(130)])
    status = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1,
                            formats=("canonical", "openai", "anthropic"))
    limits = condition(status, "WithinToolLimits")
    assert (limits.status, limits.reason) == ("False", "OverToolLimit")
    assert limits.message.startswith("openai: 130 tools, over the 128 tools one OpenAI Chat "
                                     "Completions (function tools) request may carry")
    assert "give each consumer a ToolCatalog" in limits.message
    events = condition_events([], status.conditions)
    assert any(e.type == "Warning" and e.reason == "OverToolLimit" and "128" in e.message
               for e in events)

    within = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1,
                            formats=("canonical", "anthropic"))
    assert condition(within, "WithinToolLimits").status == "True"


def test_a_tool_left_out_of_one_format_is_named_with_the_format_and_reason() -> None:
    patterned = {"type": "object", "properties": {"$top": {"type": "integer"}},
                 "patternProperties": {"^\\$": {"type": "integer"}}}
    catalog = _catalog_of([_tool("search", patterned)])
    assert [t.name for t in catalog.tools] == ["search"]  # still in the other formats
    status = catalog_status(ToolCatalogStatus(), 1, catalog, CONFIG_MAPS, T1)
    degraded = condition(status, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ToolsLeftOut")
    assert "1 left out of one format (team-a/graph tool search left out of anthropic: " \
        "inputSchema.patternProperties: patternProperties match ['$top']" in degraded.message
    assert [(e.tool, e.format) for e in status.excluded] == [("search", "anthropic")]
