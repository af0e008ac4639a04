"""The pure publish of every catalog (operator/toolfleet/reconcile/catalog.py).

Each test is a situation the publisher meets: it builds the World the shell
would gather, and checks what the plan and the writes say to do.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.catalog.objects import toolcatalog, toolservice, toolservice_fleets
from tests.unit.catalog.realistic import realistic_catalog

from toolfleet.api.toolcatalog import ToolCatalogStatus
from toolfleet.catalog.configmap_reader import read_configmaps
from toolfleet.catalog.configmaps import CATALOG_NAME_ANNOTATION
from toolfleet.catalog.model import Catalog, gateway_urls
from toolfleet.catalog.render import FORMATS
from toolfleet.reconcile.catalog import (
    FORMATS_ANNOTATION,
    OPERATOR_LABEL,
    Fleet,
    Plan,
    Publication,
    World,
    plan,
    published_selector,
    write,
)
from toolfleet.settings import Settings
from toolfleet.status.conditions import find
from toolfleet.status.events import EventType

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
SETTINGS = Settings(namespace="toolfleet-system")


def world(toolservices: list[dict[str, Any]], toolcatalogs: list[dict[str, Any]] | None = None,
          namespace_labels: dict[str, dict[str, str]] | None = None) -> World:
    return World(settings=SETTINGS, fleet=Fleet(toolservices=toolservices,
                                                toolcatalogs=toolcatalogs or [],
                                                namespace_labels=namespace_labels or {}))


def observe(previous: World, *, toolservices: list[dict[str, Any]] | None = None,
            toolcatalogs: list[dict[str, Any]] | None = None) -> World:
    """The next World: new objects where given, the rest as before."""
    fleet = previous.fleet
    return replace(previous, fleet=replace(
        fleet,
        toolservices=fleet.toolservices if toolservices is None else toolservices,
        toolcatalogs=fleet.toolcatalogs if toolcatalogs is None else toolcatalogs))


def settle(before: World, the_plan: Plan, now: datetime = NOW) -> World:
    """Apply a plan as if every write went through; the World the next publish observes."""
    published = dict(before.published)
    statuses = {(u.namespace, u.name): u.status for u in the_plan.statuses}
    for removal in the_plan.removals:
        del published[removal.key]
    for publication in the_plan.publications:
        written = write(publication, {}, publication.written or (), now)
        published[publication.key] = written.published
        if written.status is not None:
            statuses[(written.status.namespace, written.status.name)] = written.status.status
    toolcatalogs = []
    for body in before.fleet.toolcatalogs:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        if key in statuses:
            body = {**body, "status": statuses[key].to_wire()}
        toolcatalogs.append(body)
    return replace(before, settled=the_plan.settled, published=published,
                   fleet=replace(before.fleet, toolcatalogs=toolcatalogs))


def published(the_plan: Plan) -> dict[str, Catalog]:
    return {p.key: p.catalog for p in the_plan.publications}


def tool_names(catalog: Catalog) -> list[str]:
    return sorted(t.name for t in catalog.tools)


def only(the_plan: Plan, key: str) -> Publication:
    (publication,) = [p for p in the_plan.publications if p.key == key]
    return publication


def is_empty(the_plan: Plan) -> bool:
    return not (the_plan.publications or the_plan.removals or the_plan.statuses)


# -- a new catalog --------------------------------------------------------------------

def test_the_first_publish_serves_the_built_in_catalog_and_every_toolcatalog() -> None:
    first = world([toolservice("search", tools=["find"])], [toolcatalog("tools")])
    the_plan = plan(first, NOW)
    assert sorted(published(the_plan)) == ["default", "team-a.tools"]
    assert tool_names(published(the_plan)["default"]) == ["find"]
    assert [p.written for p in the_plan.publications] == [None, None]
    assert (the_plan.removals, the_plan.statuses, the_plan.left_out) == ([], [], [])


def test_a_new_catalog_is_written_to_configmaps_in_its_own_namespace_and_reported() -> None:
    body = toolcatalog("tools", spec={"formats": ["openai", "mcp"]})
    the_plan = plan(world([toolservice("search", tools=["find", "rank"])], [body]), NOW)
    written = write(only(the_plan, "team-a.tools"), {}, (), NOW)

    (config_map,) = written.config_maps
    meta = config_map["metadata"]
    assert (meta["namespace"], meta["name"]) == ("team-a", "toolfleet-catalog-team-a.tools")
    assert meta["labels"][OPERATOR_LABEL] == "toolfleet-system"
    assert meta["annotations"][FORMATS_ANNOTATION] == "openai,mcp"
    assert meta["annotations"][CATALOG_NAME_ANNOTATION] == "team-a.tools"
    assert meta["ownerReferences"] == [{
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog", "name": "tools",
        "uid": body["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    # Its declared formats, and the canonical document every replica renders them from.
    assert set(read_configmaps(written.config_maps)) == {"openai", "mcp", "canonical"}
    assert written.stale == []

    assert written.status is not None
    status = written.status.status
    assert (status.tool_count, status.config_maps, status.observed_generation) == (
        2, ["toolfleet-catalog-team-a.tools"], 1)
    ready = find(status.conditions, "Ready")
    assert ready is not None and (ready.status, ready.reason) == ("True", "Published")
    assert [(e.type, e.reason) for e in written.status.events] == [
        (EventType.normal, "Published")]


def test_the_built_in_catalog_has_no_owner_and_no_status() -> None:
    the_plan = plan(world([toolservice("search")]), NOW)
    written = write(only(the_plan, "default"), {}, (), NOW)
    (config_map,) = written.config_maps
    assert config_map["metadata"]["namespace"] == "toolfleet-system"
    assert "ownerReferences" not in config_map["metadata"]
    assert written.status is None


def test_the_first_configmap_holding_the_manifest_is_applied_last() -> None:
    # Large enough to be sharded: a reader never finds a manifest naming missing shards.
    publication = Publication(catalog=realistic_catalog(300), formats=FORMATS,
                              namespace="toolfleet-system", labels={})
    names = [cm["metadata"]["name"] for cm in write(publication, {}, (), NOW).config_maps]
    assert names == ["toolfleet-catalog--default--1", "toolfleet-catalog-default"]


def test_the_store_renderings_are_used_as_they_are() -> None:
    publication = only(plan(world([toolservice("search")]), NOW), "default")
    rendered = write(publication, {}, (), NOW)
    documents = read_configmaps(rendered.config_maps)
    again = write(publication, documents, (), NOW)
    assert again.config_maps == rendered.config_maps


def test_the_selector_finds_only_this_installations_catalogs() -> None:
    assert published_selector("toolfleet-system") == (
        "toolfleet.io/catalog,toolfleet.io/operator=toolfleet-system")


# -- an unchanged catalog writes nothing ----------------------------------------------------

def test_a_publish_that_sees_nothing_new_plans_nothing() -> None:
    first = world([toolservice("search"), toolservice("lookup", "team-b", ["fetch"])],
                  [toolcatalog("tools"), toolcatalog("all", spec={"namespaceSelector": {}})])
    settled = settle(first, plan(first, NOW))
    again = plan(settled, LATER)
    assert is_empty(again), again
    assert again.settled == settled.settled


fleets = toolservice_fleets(max_size=5)


@settings(max_examples=30, deadline=None)
@given(bodies=fleets, strategy=st.sampled_from(["reject", "prefix"]),
       formats=st.lists(st.sampled_from(["canonical", "openai", "mcp"]), min_size=1,
                        unique=True))
def test_whatever_the_fleet_a_second_publish_of_it_plans_nothing(
        bodies: list[dict[str, Any]], strategy: str, formats: list[str]) -> None:
    first = world(bodies, [toolcatalog("tools", spec={
        "collisionStrategy": strategy, "namespaceSelector": {}, "formats": formats,
        "exposures": ["public", "internal"]})])
    assert is_empty(plan(settle(first, plan(first, NOW)), LATER))


def test_a_changed_catalog_is_published_again_and_knows_its_configmaps() -> None:
    first = world([toolservice("search", tools=["find"])], [toolcatalog("tools")])
    settled = settle(first, plan(first, NOW))
    changed = observe(settled, toolservices=[toolservice("search", tools=["find", "rank"])])
    the_plan = plan(changed, LATER)
    assert sorted(published(the_plan)) == ["default", "team-a.tools"]
    assert only(the_plan, "team-a.tools").written == ("toolfleet-catalog-team-a.tools",)
    assert tool_names(published(the_plan)["team-a.tools"]) == ["find", "rank"]


def test_a_new_generation_that_changes_no_tool_updates_only_the_status() -> None:
    first = world([toolservice("search")], [toolcatalog("tools")])
    settled = settle(first, plan(first, NOW))
    (body,) = settled.fleet.toolcatalogs
    edited = {**body, "metadata": {**body["metadata"], "generation": 2},
              "spec": {"includeUnready": True}}
    the_plan = plan(observe(settled, toolcatalogs=[edited]), LATER)
    assert the_plan.publications == []
    (update,) = the_plan.statuses
    assert update.status.observed_generation == 2
    assert update.events == ()  # nothing a user must hear about


def test_a_toolcatalog_created_again_under_its_name_is_written_again() -> None:
    first = world([toolservice("search")], [toolcatalog("tools")])
    settled = settle(first, plan(first, NOW))
    again = toolcatalog("tools")
    again["metadata"]["uid"] = "a-new-uid"
    the_plan = plan(observe(settled, toolcatalogs=[again]), LATER)
    assert list(published(the_plan)) == ["team-a.tools"]


# -- a removed ToolCatalog ------------------------------------------------------------------

def test_a_removed_toolcatalog_stops_being_served_and_its_configmaps_are_deleted() -> None:
    first = world([toolservice("search")], [toolcatalog("tools"), toolcatalog("more")])
    settled = settle(first, plan(first, NOW))
    remaining = [b for b in settled.fleet.toolcatalogs if b["metadata"]["name"] == "more"]
    the_plan = plan(observe(settled, toolcatalogs=remaining), LATER)
    (removal,) = the_plan.removals
    assert (removal.key, removal.namespace, removal.config_maps) == (
        "team-a.tools", "team-a", ("toolfleet-catalog-team-a.tools",))
    assert the_plan.publications == [] and the_plan.statuses == []
    assert "team-a.tools" not in settle(settled, the_plan).published


def test_the_built_in_catalog_is_never_removed() -> None:
    first = world([toolservice("search")])
    settled = settle(first, plan(first, NOW))
    assert plan(observe(settled, toolservices=[]), LATER).removals == []


def test_shards_a_catalog_no_longer_needs_are_stale() -> None:
    publication = only(plan(world([toolservice("search")]), NOW), "default")
    existing = ["toolfleet-catalog-default", "toolfleet-catalog--default--1",
                "toolfleet-catalog--default--2", "toolfleet-catalog-default.other"]
    assert write(publication, {}, existing, NOW).stale == [
        "toolfleet-catalog--default--1", "toolfleet-catalog--default--2"]


# -- an invalid ToolCatalog spec ------------------------------------------------------------

def test_an_invalid_toolcatalog_is_reported_once_and_not_published() -> None:
    broken = toolcatalog("broken", spec={"collisionStrategy": "merge"})
    first = world([toolservice("search")], [broken])
    the_plan = plan(first, NOW)
    assert list(published(the_plan)) == ["default"]
    (update,) = the_plan.statuses
    assert (update.namespace, update.name) == ("team-a", "broken")
    ready = find(update.status.conditions, "Ready")
    assert ready is not None and (ready.status, ready.reason) == ("False", "InvalidSpec")
    assert "spec.collisionStrategy" in ready.message
    assert [(e.type, e.reason) for e in update.events] == [(EventType.warning, "InvalidSpec")]
    assert plan(settle(first, the_plan), LATER).statuses == []


def test_a_toolcatalog_made_invalid_keeps_its_last_publish() -> None:
    first = world([toolservice("search")], [toolcatalog("tools")])
    settled = settle(first, plan(first, NOW))
    (body,) = settled.fleet.toolcatalogs
    broken = {**body, "metadata": {**body["metadata"], "generation": 2},
              "spec": {"formats": []}}
    the_plan = plan(observe(settled, toolcatalogs=[broken]), LATER)
    assert (the_plan.publications, the_plan.removals) == ([], [])
    (update,) = the_plan.statuses
    assert update.status.tool_count == 1
    assert update.status.config_maps == ["toolfleet-catalog-team-a.tools"]


# -- ToolServices not yet reconciled ----------------------------------------------------------

def test_a_toolservice_never_reconciled_is_left_out_as_not_ready() -> None:
    the_plan = plan(world([toolservice("search", tools=["find"]),
                           toolservice("fresh", tools=["warm"], ready=None)],
                          [toolcatalog("tools")]), NOW)
    catalog = published(the_plan)["team-a.tools"]
    assert tool_names(catalog) == ["find"]
    assert [(e.service, e.tool) for e in catalog.excluded] == [("team-a/fresh", "warm")]


def test_a_spec_change_is_published_once_its_reconcile_is_done() -> None:
    first = world([toolservice("search", tools=["find"])])
    settled = settle(first, plan(first, NOW))
    edited = toolservice("search", tools=["find", "rank"])
    edited["metadata"]["generation"] = 2  # status still for generation 1
    waiting = plan(observe(settled, toolservices=[edited]), LATER)
    assert is_empty(waiting)
    reconciled = {**edited, "status": {**edited["status"], "observedGeneration": 2}}
    done = plan(observe(settle(settled, waiting), toolservices=[reconciled]), LATER)
    assert tool_names(published(done)["default"]) == ["find", "rank"]


def test_an_unreadable_toolservice_is_left_out_of_every_catalog_with_the_reason() -> None:
    broken = toolservice("broken")
    broken["spec"]["tools"][0]["inputSchema"] = {"type": "array"}
    the_plan = plan(world([toolservice("search"), broken]), NOW)
    (reason,) = the_plan.left_out
    assert reason.startswith("toolservice team-a/broken: spec is invalid")
    assert tool_names(published(the_plan)["default"]) == ["lookup"]


# -- a collision in a reject catalog -----------------------------------------------------------

def test_a_collision_in_a_reject_catalog_leaves_both_out_and_degrades_it() -> None:
    first = world([toolservice("search", tools=["find", "rank"]),
                   toolservice("lookup", tools=["find"])],
                  [toolcatalog("tools", spec={"collisionStrategy": "reject"})])
    the_plan = plan(first, NOW)
    catalog = published(the_plan)["team-a.tools"]
    assert tool_names(catalog) == ["rank"]
    assert [(c.tool, c.services) for c in catalog.conflicts] == [
        ("find", ["team-a/lookup", "team-a/search"])]
    # The built-in catalog prefixes instead.
    assert tool_names(published(the_plan)["default"]) == [
        "lookup_find", "rank", "search_find"]

    written = write(only(the_plan, "team-a.tools"), {}, (), NOW)
    assert written.status is not None
    degraded = find(written.status.status.conditions, "Degraded")
    assert degraded is not None and (degraded.status, degraded.reason) == (
        "True", "ToolsLeftOut")
    assert [(e.type, e.reason) for e in written.status.events] == [
        (EventType.normal, "Published"), (EventType.warning, "ToolsLeftOut")]


def test_the_built_in_catalogs_strategy_is_a_setting() -> None:
    rejecting = replace(world([toolservice("search", "dev"), toolservice("search", "staging")]),
                        settings=Settings(default_collision_strategy="reject"))
    assert tool_names(published(plan(rejecting, NOW))["default"]) == []


def test_a_status_already_as_planned_is_not_written() -> None:
    body = toolcatalog("tools")
    the_plan = plan(world([toolservice("search")], [body]), NOW)
    publication = only(the_plan, "team-a.tools")
    first = write(publication, {}, (), NOW)
    assert first.status is not None
    stored = {**body, "status": ToolCatalogStatus.model_validate(
        first.status.status.to_wire()).to_wire()}
    again = write(replace(publication, toolcatalog=stored), {}, (), LATER)
    assert again.status is None


# -- a gateway installed ------------------------------------------------------------------

def test_with_a_gateway_every_catalog_names_its_urls_and_keeps_the_service_endpoints() -> None:
    with_gateway = replace(SETTINGS, gateway_url="http://gw.toolfleet-system.svc.cluster.local")
    first = replace(world([toolservice("search", tools=["find"])], [toolcatalog("tools")]),
                    settings=with_gateway)
    catalogs = published(plan(first, NOW))

    gateway = catalogs["team-a.tools"].gateway
    assert gateway is not None and gateway.to_wire() == {
        "mcp": "http://gw.toolfleet-system.svc.cluster.local/mcp/team-a.tools",
        "calls": "http://gw.toolfleet-system.svc.cluster.local/v1/catalogs/team-a.tools/calls"}
    assert catalogs["default"].gateway is not None
    assert catalogs["default"].gateway.mcp.endswith("/mcp/default")
    # Routers that call services themselves still find them.
    (tool,) = catalogs["default"].tools
    assert tool.endpoints and ".svc.cluster.local" in tool.endpoints[0].url
    # What a router reads: the canonical document and the MCP rendering name the gateway.
    written = write(only(plan(first, NOW), "default"), {}, (), NOW)
    documents = {k: json.loads(v) for k, v in read_configmaps(written.config_maps).items()}
    assert documents["canonical"]["gateway"] == gateway_urls(
        "http://gw.toolfleet-system.svc.cluster.local", "default").to_wire()
    assert documents["mcp"]["_meta"] == {"toolfleet.io/gateway": documents["canonical"]["gateway"]}
    assert isinstance(documents["openai"], list)


def test_without_a_gateway_no_catalog_names_one() -> None:
    catalogs = published(plan(world([toolservice("search")], [toolcatalog("tools")]), NOW))
    assert [c.gateway for c in catalogs.values()] == [None, None]
