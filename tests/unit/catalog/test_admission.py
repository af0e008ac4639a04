"""Whether to admit a ToolService (operator/toolfleet/catalog/admission.py).

That the API server asks the webhook and shows its answer is checked in
tests/e2e/test_catalog.py; here, each verdict.
"""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolcatalog import CollisionStrategy
from toolfleet.catalog.admission import CONFLICT, INVALID, Verdict, admit_toolservice

from .objects import toolcatalog, toolservice

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def verdict(candidate: dict[str, Any], *others: dict[str, Any],
            toolcatalogs: list[dict[str, Any]] | None = None,
            default_strategy: CollisionStrategy = CollisionStrategy.prefix) -> Verdict:
    return admit_toolservice(
        candidate, toolservices=list(others), toolcatalogs=toolcatalogs or [],
        namespace_labels={}, operator_namespace="toolfleet-system",
        cluster_domain="cluster.local", default_strategy=default_strategy)


def rejecting() -> list[dict[str, Any]]:
    return [toolcatalog("tools", spec={"collisionStrategy": "reject"})]


def test_a_valid_toolservice_is_admitted() -> None:
    assert verdict(toolservice("search"), toolservice("other", tools=["fetch"]),
                   toolcatalogs=rejecting()) == Verdict(True)


def test_an_invalid_schema_is_refused_with_its_path() -> None:
    candidate = toolservice("search")
    candidate["spec"]["tools"][0]["inputSchema"] = {
        "type": "object", "properties": {"q": {"type": "strang"}}}
    found = verdict(candidate)
    assert (found.allowed, found.code) == (False, INVALID)
    assert "spec.tools[0].inputSchema" in found.message and "strang" in found.message


def test_an_unsafe_name_is_refused() -> None:
    found = verdict(toolservice("search", tools=["look up!"]))
    assert (found.allowed, found.code) == (False, INVALID)
    assert "spec.tools[0].name" in found.message


def test_problems_short_of_errors_are_warnings_of_an_admitted_toolservice() -> None:
    candidate = toolservice("search")
    candidate["spec"]["tools"][0]["inputSchema"]["$schema"] = DRAFT_07
    found = verdict(candidate)
    assert found.allowed
    (warning,) = found.warnings
    assert warning.startswith("spec.tools[0].inputSchema.$schema")


def test_a_name_taken_in_a_rejecting_catalog_is_a_conflict_naming_rival_and_catalog() -> None:
    found = verdict(toolservice("copy", tools=["lookup"]), toolservice("search"),
                    toolcatalogs=rejecting())
    assert (found.allowed, found.code) == (False, CONFLICT)
    assert found.message.startswith("spec.tools[0].name: 'lookup' is already offered by "
                                    "team-a/search in catalog 'team-a.tools'")


def test_where_every_catalog_prefixes_a_taken_name_is_admitted() -> None:
    assert verdict(toolservice("copy", tools=["lookup"]), toolservice("search")).allowed


def test_the_built_in_catalog_refuses_a_taken_name_only_when_set_to_reject() -> None:
    found = verdict(toolservice("copy", "team-b", tools=["lookup"]), toolservice("search"),
                    default_strategy=CollisionStrategy.reject)
    assert (found.allowed, found.code) == (False, CONFLICT)
    assert "catalog 'default'" in found.message


def test_an_update_does_not_collide_with_the_toolservice_itself() -> None:
    assert verdict(toolservice("search"), toolservice("search"),
                   toolcatalogs=rejecting()).allowed


def test_an_object_without_namespace_is_refused() -> None:
    candidate = toolservice("search")
    del candidate["metadata"]["namespace"]
    found = verdict(candidate)
    assert (found.allowed, found.code) == (False, INVALID)
    assert "metadata.namespace" in found.message


def test_a_rival_among_many_is_found_whichever_of_its_tools_takes_the_name() -> None:
    fleet = [toolservice(f"svc-{i}", tools=[f"tool_{i}"]) for i in range(200)]
    rival = toolservice("search", tools=["fetch", "lookup"])
    broken = toolservice("broken")
    broken["spec"]["tools"] = "not a list"  # what a watch may hold of an old object
    found = verdict(toolservice("copy", tools=["summarize", "lookup"]), *fleet, broken, rival,
                    toolcatalogs=rejecting())
    assert (found.allowed, found.code) == (False, CONFLICT)
    assert found.message.startswith("spec.tools[1].name: 'lookup' is already offered by "
                                    "team-a/search")
