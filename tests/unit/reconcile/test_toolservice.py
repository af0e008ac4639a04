"""The pure reconcile of a ToolService (operator/toolfleet/reconcile/toolservice.py).

Each test is a situation the operator meets: it builds the World the shell
would gather, and checks what the plan and the report say to write.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.unit.resources.fixtures import UID, owner, wire

from toolfleet.catalog.source import entry_from_body
from toolfleet.reconcile.toolservice import (
    Applied,
    World,
    analysis_due,
    plan,
    report,
    used_by_others,
)
from toolfleet.resources.revisions import build_revisions
from toolfleet.rollout.analysis import AnalysisResult, Outcome, StepAnalysis
from toolfleet.rollout.control import CONTROL_ANNOTATION
from toolfleet.rollout.revision import revision_of
from toolfleet.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
SETTINGS = Settings()
CANARY = {"strategy": "canary", "steps": [{"weight": 20, "pauseSeconds": 60}]}


def toolservice(spec: dict[str, Any], status: dict[str, Any] | None = None,
                annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
            "metadata": {"name": "forecaster", "namespace": "team-a", "uid": UID,
                         "generation": 2, "annotations": annotations or {}},
            "spec": spec, "status": status or {}}


def ready_deployment(revision: str, replicas: int = 1, name: str = "forecaster"
                     ) -> dict[str, Any]:
    return {"metadata": {"name": name, "generation": 1,
                         "labels": {"toolfleet.io/revision": revision}},
            "spec": {"replicas": replicas},
            "status": {"observedGeneration": 1, "replicas": replicas,
                       "readyReplicas": replicas, "updatedReplicas": replicas}}


def settle(world: World, stable: dict[str, Any] | None = None) -> World:
    """Reconcile once, as if every write went through; the world with the status written."""
    the_plan = plan(world, NOW)
    result = report(world, the_plan, Applied(stable=stable), NOW)
    status = result.status.model_dump(by_alias=True, mode="json") if result.status else (
        world.toolservice["status"])
    return replace(world, toolservice={**world.toolservice, "status": status})


def kinds(children: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(c["kind"], c["metadata"]["name"]) for c in children]


def test_a_new_service_gets_every_child_and_a_status_saying_it_is_not_ready_yet() -> None:
    world = World(toolservice=toolservice(wire()), settings=SETTINGS)
    the_plan = plan(world, NOW)
    assert kinds(the_plan.children) == [
        ("ServiceAccount", "forecaster"), ("Deployment", "forecaster"),
        ("Service", "forecaster"), ("HorizontalPodAutoscaler", "forecaster"),
        ("PodDisruptionBudget", "forecaster"), ("NetworkPolicy", "forecaster")]
    result = report(world, the_plan, Applied(), NOW)
    assert result.status is not None
    ready = next(c for c in result.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "ReplicasNotReady")
    # Pods starting are no trouble: a new service raises no Warning for them.
    assert [e.reason for e in result.events if e.type == "Warning"] == []


def test_a_steady_service_writes_no_status_and_emits_no_event() -> None:
    spec = wire()
    stable = ready_deployment(revision_of(owner().spec))
    world = settle(World(toolservice=toolservice(spec), settings=SETTINGS, stable=stable),
                   stable)
    result = report(world, plan(world, NOW), Applied(), NOW + timedelta(minutes=5))
    assert (result.status, result.events, result.annotations) == (None, [], {})


def test_apply_failures_show_in_status_naming_the_child() -> None:
    world = World(toolservice=toolservice(wire()), settings=SETTINGS)
    failed = Applied(errors=['Service forecaster: services "forecaster" is forbidden: '
                             "exceeded quota"])
    result = report(world, plan(world, NOW), failed, NOW)
    assert result.status is not None
    degraded = next(c for c in result.status.conditions if c.type == "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ApplyFailed")
    assert "Service forecaster" in degraded.message and "exceeded quota" in degraded.message


def test_a_new_service_with_invalid_tools_says_so_in_a_warning_event() -> None:
    spec = wire()
    spec["tools"][0]["inputSchema"] = {"type": "object", "properties": {
        "q": {"type": "string", "minLength": -3}}}
    world = World(toolservice=toolservice(spec), settings=SETTINGS)
    result = report(world, plan(world, NOW), Applied(), NOW)
    warnings = {e.reason: e.message for e in result.events if e.type == "Warning"}
    assert "InvalidTools" in warnings, result.events
    assert "left out of every catalog" in warnings["InvalidTools"]
    assert "minLength" in warnings["InvalidTools"]


def test_an_unreadable_spec_is_reported_without_touching_children() -> None:
    world = World(toolservice=toolservice({"version": "1", "image": "x", "port": "http"}),
                  settings=SETTINGS)
    the_plan = plan(world, NOW)
    assert (the_plan.children, the_plan.deletes) == ([], [])
    result = report(world, the_plan, Applied(), NOW)
    assert result.status is not None
    reasons = {c.type: (c.status, c.reason) for c in result.status.conditions}
    assert reasons == {"Ready": ("False", "InvalidSpec"), "Degraded": ("True", "InvalidSpec")}


def test_a_new_revision_under_canary_runs_beside_the_stable_one() -> None:
    old = wire(rollout=CANARY)
    stable_revision = revision_of(owner(rollout=CANARY).spec)
    stable = ready_deployment(stable_revision, replicas=3)
    world = settle(World(toolservice=toolservice(old), settings=SETTINGS, stable=stable), stable)
    revisions = build_revisions(owner(rollout=CANARY), {stable_revision: owner(
        rollout=CANARY).spec})
    new = wire(rollout=CANARY, version="1.5.0", image="registry.example/forecaster:1.5.0")
    world = replace(world, toolservice={**world.toolservice, "spec": new}, revisions=revisions)
    the_plan = plan(world, NOW)
    assert ("Deployment", "forecaster-canary") in kinds(the_plan.children)
    assert ("Service", "forecaster-canary") in kinds(the_plan.children)
    canary = next(c for c in the_plan.children
                  if c["metadata"]["name"] == "forecaster-canary" and c["kind"] == "Deployment")
    assert canary["spec"]["replicas"] == 1  # 20% of 3, at least one pod
    stable_child = next(c for c in the_plan.children
                        if c["metadata"]["name"] == "forecaster" and c["kind"] == "Deployment")
    assert stable_child["metadata"]["labels"]["toolfleet.io/revision"] == stable_revision
    result = report(world, the_plan, Applied(), NOW)
    assert result.status is not None and result.status.rollout is not None
    assert (result.status.rollout.weight, result.status.rollout.version) == (20, "1.5.0")
    assert ("Normal", "RolloutStarted") in [(e.type, e.reason) for e in result.events]
    assert result.requeue_after is not None and result.requeue_after > 0


def test_without_a_canary_the_canary_children_are_retired() -> None:
    world = World(toolservice=toolservice(wire(rollout=CANARY)), settings=SETTINGS)
    assert plan(world, NOW).deletes == [("Deployment", "forecaster-canary"),
                                        ("Service", "forecaster-canary")]


def test_an_analysis_is_asked_for_only_when_the_step_is_due() -> None:
    analysis = {"prometheusURL": "http://prometheus:9090", "intervalSeconds": 60,
                "failureLimit": 0}
    rollout = {**CANARY, "analysis": analysis}
    stable_revision = revision_of(owner(rollout=rollout).spec)
    stable = ready_deployment(stable_revision, replicas=2)
    world = settle(World(toolservice=toolservice(wire(rollout=rollout)), settings=SETTINGS,
                         stable=stable), stable)
    revisions = build_revisions(owner(rollout=rollout), {stable_revision: owner(
        rollout=rollout).spec})
    new = wire(rollout=rollout, version="1.5.0")
    world = replace(world, toolservice={**world.toolservice, "spec": new}, revisions=revisions,
                    canary=ready_deployment("c", replicas=1, name="forecaster-canary"))
    world = settle(world)
    assert analysis_due(world, NOW + timedelta(seconds=30)) is None
    due = analysis_due(world, NOW + timedelta(seconds=61))
    assert due is not None
    assert (due.target.namespace, due.target.toolservice, due.key.step) == (
        "team-a", "forecaster", 0)
    # A failed analysis, passed back under its key, rolls the canary back.
    failed = AnalysisResult(Outcome.failed, "error rate 0.25 > 0.05")
    later = NOW + timedelta(seconds=61)
    analysed = StepAnalysis(key=due.key, result=failed)
    # What the shell does: the World keeps what it parsed, and plans as a new one would.
    assert analysis_due(world, later) == due
    measured = world.with_analysis(analysed)
    world = replace(world, analysis=analysed)
    assert plan(measured, later) == plan(world, later)
    result = report(world, plan(world, later), Applied(), later)
    assert result.status is not None and result.status.rollout is not None
    assert result.status.rollout.phase == "RolledBack"


def test_an_applied_control_is_recorded_once() -> None:
    stable = ready_deployment(revision_of(owner(rollout=CANARY).spec))
    world = settle(World(toolservice=toolservice(wire(rollout=CANARY)), settings=SETTINGS,
                         stable=stable), stable)
    world = replace(world, toolservice={**world.toolservice, "metadata": {
        **world.toolservice["metadata"], "annotations": {CONTROL_ANNOTATION: "pause:1"}}})
    result = report(world, plan(world, NOW), Applied(), NOW)
    # Nothing to pause: recorded as applied all the same, and said in an event.
    assert "RolloutControlIgnored" in [e.reason for e in result.events]
    assert result.annotations == {"toolfleet.io/rollout-control-applied": "pause:1"}
    again = replace(world, toolservice={**world.toolservice, "metadata": {
        **world.toolservice["metadata"], "annotations": {
            CONTROL_ANNOTATION: "pause:1", "toolfleet.io/rollout-control-applied": "pause:1"}}})
    assert report(again, plan(again, NOW), Applied(), NOW).annotations == {}


def test_gpus_held_by_the_service_itself_do_not_count_against_it() -> None:
    pods = {"a100": [("team-a", "forecaster", {"nvidia.com/gpu": 2}),
                     ("team-b", "other", {"nvidia.com/gpu": 1}),
                     ("team-b", "other", {"nvidia.com/gpu": 1})]}
    assert used_by_others(pods, "team-a", "forecaster") == {"a100": {"nvidia.com/gpu": 2}}


def test_the_cluster_domain_reaches_status_and_every_catalog_url(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLFLEET_CLUSTER_DOMAIN", "example.internal")
    settings = Settings.from_env()
    stable_revision = revision_of(owner(rollout=CANARY).spec)
    stable = ready_deployment(stable_revision, replicas=2)
    world = settle(World(toolservice=toolservice(wire(rollout=CANARY)), settings=settings,
                         stable=stable), stable)
    assert world.toolservice["status"]["endpoint"] == (
        "http://forecaster.team-a.svc.example.internal:8080")
    revisions = build_revisions(owner(rollout=CANARY), {stable_revision: owner(
        rollout=CANARY).spec})
    world = settle(replace(world, toolservice={**world.toolservice, "spec": wire(
        rollout=CANARY, version="1.5.0")}, revisions=revisions))
    assert world.toolservice["status"]["rollout"]["phase"] == "Progressing"
    entry = entry_from_body(world.toolservice, {}, cluster_domain=settings.cluster_domain)
    assert [(e.track, e.url) for e in entry.endpoints] == [
        ("stable", "http://forecaster.team-a.svc.example.internal:8080"),
        ("canary", "http://forecaster-canary.team-a.svc.example.internal:8080")]
