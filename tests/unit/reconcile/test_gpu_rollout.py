"""A GPU canary on a full node, reconciled through `plan` and `report` against a small cluster.

The cluster keeps what the API server and the controllers would: two
Deployments (their replicas and the revision of each pod), an A100 node with
4 GPUs, and pods that start only where a GPU is free and are ready at the next
reconcile. The operator is restarted at every reconcile: each one starts from
the objects alone, as after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.reconcile.test_toolservice import toolservice
from tests.unit.resources.fixtures import wire

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.catalog.source import entry_from_body
from toolfleet.placement.inventory import NodeGPU
from toolfleet.reconcile.toolservice import Applied, Plan, World, plan, report
from toolfleet.rollout.control import CONTROL_ANNOTATION
from toolfleet.rollout.revision import revision_of
from toolfleet.settings import Settings

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
A100 = "NVIDIA-A100-SXM4-80GB"
STEPS = [{"weight": 25, "pauseSeconds": 30}, {"weight": 50, "pauseSeconds": 30}]


def spec(version: str, capacity: str = "auto", node_selector: dict[str, str] | None = None,
         **rollout: Any) -> dict[str, Any]:
    return wire(version=version, image=f"registry.example/forecaster:{version}",
                gpu={"count": 1, "products": [A100]},
                autoscaling={"minReplicas": 4, "maxReplicas": 4},
                rollout={"strategy": "canary", "steps": STEPS, "capacity": capacity,
                         **rollout}, **({"nodeSelector": node_selector} if node_selector else {}))


@dataclass
class Track:
    """A Deployment: its replicas, the revision its template runs, and its pods' revisions."""

    replicas: int
    revision: str
    running: list[str] = field(default_factory=list)
    ready: int = 0


@dataclass
class Cluster:
    gpus: int = 4
    held_by_others: int = 0
    stable: Track | None = None
    canary: Track | None = None
    hpa: bool = True
    status: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    revisions: dict[str, Any] | None = None
    spec: dict[str, Any] = field(default_factory=dict)
    lowest_ready: int = 99
    pending_rounds: int = 0
    terminating: int = 0
    # Free A100s on a second node, labelled pool=b (the first is pool=a).
    spare_elsewhere: int = 0
    # Pods started in one round are ready only at the end of the next (a model loading).
    late: bool = False
    # The stable's newest pods of its own revision that crash-loop, never ready.
    crashing: int = 0
    # The stable Deployment's status lags its ReplicaSets: every replica shows updated
    # while old pods still serve (the pods themselves are read, as the operator does).
    lagging: bool = False
    # Stable pods the scheduler holds back (a replacement waiting for its GPU).
    held_back: int = 0

    def world(self) -> World:
        node = NodeGPU(name="a100", ready=True, schedulable=True, product=A100,
                       memory_mib=81920, allocatable={"nvidia.com/gpu": self.gpus},
                       labels={"pool": "a"})
        spare = [NodeGPU(name="a100-b", ready=True, schedulable=True, product=A100,
                         memory_mib=81920, allocatable={"nvidia.com/gpu": self.spare_elsewhere},
                         labels={"pool": "b"})] if self.spare_elsewhere else []
        ours = sum(len(t.running) for t in (self.stable, self.canary) if t) + self.terminating
        others = {"a100": [("team-b", "blocker", {"nvidia.com/gpu": self.held_by_others}),
                           *[("team-a", "forecaster", {"nvidia.com/gpu": 1})] * ours]}
        return World(toolservice=toolservice(self.spec, self.status, self.annotations),
                     settings=Settings(),
                     stable=_deployment("forecaster", self.stable, lagging=self.lagging),
                     canary=_deployment("forecaster-canary", self.canary),
                     revisions=self.revisions, nodes=[node, *spare], gpu_pods=others,
                     pods=self._crashing_pods() + self._stable_pods() + self._held_back_pods())

    def _held_back_pods(self) -> list[dict[str, Any]]:
        revision = self.stable.revision if self.stable else ""
        return [{"metadata": {"name": f"forecaster-waiting-{i}", "labels": {
                    "toolfleet.io/track": "stable", "toolfleet.io/revision": revision}},
                 "status": {"phase": "Pending", "conditions": [
                     {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                      "message": "0/9 nodes are available: 1 Insufficient nvidia.com/gpu"}]}}
                for i in range(self.held_back)]

    def _stable_pods(self) -> list[dict[str, Any]]:
        if self.stable is None or not self.lagging:
            return []
        return [{"metadata": {"name": f"forecaster-{i}", "labels": {
                    "toolfleet.io/track": "stable", "toolfleet.io/revision": revision}},
                 "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
                for i, revision in enumerate(self.stable.running)]

    def _crashing_pods(self) -> list[dict[str, Any]]:
        if self.stable is None:
            return []
        mine = [r for r in self.stable.running if r == self.stable.revision]
        return [{"metadata": {"name": f"forecaster-crash-{i}", "labels": {
                    "toolfleet.io/track": "stable", "toolfleet.io/revision": revision}},
                 "status": {"conditions": [{"type": "Ready", "status": "False"}],
                            "containerStatuses": [{"name": "server", "state": {"waiting": {
                                "reason": "CrashLoopBackOff",
                                "message": "back-off 40s restarting failed container"}}}]}}
                for i, revision in enumerate(mine[-self.crashing:] if self.crashing else [])]

    def apply(self, the_plan: Plan) -> None:
        for child in the_plan.children:
            kind, name = child["kind"], child["metadata"]["name"]
            if kind == "ConfigMap":
                self.revisions = child
            if kind == "Deployment":
                self._deployment(name, child)
        for kind, name in the_plan.deletes:
            if (kind, name) == ("Deployment", "forecaster-canary") and self.canary:
                self.terminating += len(self.canary.running)
                self.canary = None
            if kind == "HorizontalPodAutoscaler":
                self.hpa = False
        self.hpa = self.hpa or any(c["kind"] == "HorizontalPodAutoscaler"
                                   for c in the_plan.children)
        if the_plan.stable_replicas is not None and self.stable is not None:
            self.stable.replicas = the_plan.stable_replicas
        if self.hpa and self.stable is not None:
            self.stable.replicas = 4  # the autoscaler's floor (minReplicas = maxReplicas)
        self._converge()

    def _deployment(self, name: str, child: dict[str, Any]) -> None:
        revision = child["metadata"]["labels"]["toolfleet.io/revision"]
        replicas = child["spec"].get("replicas")
        if name == "forecaster":
            if self.stable is None:
                self.stable = Track(replicas or 4, revision)
            self.stable.revision = revision
        else:
            if self.canary is None:
                self.canary = Track(0, revision)
            self.canary.revision, self.canary.replicas = revision, int(replicas or 0)

    def _converge(self) -> None:
        """What the Deployment controller and scheduler do before the next reconcile."""
        tracks = [t for t in (self.stable, self.canary) if t is not None]
        for track in tracks:
            before = len(track.running)
            # Scale down (old revision first), then replace an old pod while all
            # the others are ready (maxSurge 0, maxUnavailable 1).
            track.running.sort(key=lambda r: r == track.revision)
            del track.running[:max(0, len(track.running) - track.replicas)]
            track.ready = min(track.ready, len(track.running))
            if track.running[:1] != [track.revision] and track.running and (
                    track.ready >= track.replicas):
                del track.running[0]
            self.terminating += before - len(track.running)
            track.ready = min(track.ready, len(track.running))
        self.lowest_ready = min(self.lowest_ready, sum(t.ready for t in tracks))
        free = (self.gpus - self.held_by_others - self.terminating
                - sum(len(t.running) for t in tracks))
        started = {}
        for track in tracks:
            kept = len(track.running)
            while len(track.running) < track.replicas and free > 0:
                track.running.append(track.revision)
                free -= 1
            started[id(track)] = len(track.running) - kept
        pending = sum(t.replicas - len(t.running) for t in tracks)
        self.pending_rounds = self.pending_rounds + 1 if pending else 0
        self.terminating = 0  # gone by the next reconcile
        for track in tracks:
            track.ready = len(track.running) - (started[id(track)] if self.late else 0)
        if self.stable is not None and self.crashing:
            mine = sum(1 for r in self.stable.running if r == self.stable.revision)
            self.stable.ready = min(self.stable.ready,
                                    len(self.stable.running) - min(self.crashing, mine))


def _deployment(name: str, track: Track | None, lagging: bool = False
                ) -> dict[str, Any] | None:
    if track is None:
        return None
    every = track.running and all(r == track.revision for r in track.running)
    updated = len(track.running) if every or lagging else 0
    return {"metadata": {"name": name, "generation": 1,
                         "labels": {"toolfleet.io/revision": track.revision}},
            "spec": {"replicas": track.replicas},
            "status": {"observedGeneration": 1, "replicas": len(track.running),
                       "readyReplicas": track.ready, "updatedReplicas": updated}}


def reconcile(cluster: Cluster, now: datetime) -> tuple[Plan, float]:
    world = cluster.world()
    the_plan = plan(world, now)
    cluster.apply(the_plan)
    result = report(world, the_plan, Applied(), now)
    if result.status is not None:
        cluster.status = result.status.model_dump(by_alias=True, mode="json")
    cluster.annotations.update(result.annotations)
    return the_plan, result.requeue_after or 10.0


def deployed(version: str = "1.0.0", **options: Any) -> Cluster:
    cluster = Cluster(spec=spec(version, **options))
    for _ in range(3):
        reconcile(cluster, T0)
    assert cluster.stable is not None and cluster.stable.running == [
        revision_of(ToolServiceSpec.model_validate(cluster.spec))] * 4
    cluster.lowest_ready = 99
    return cluster


def run_until(cluster: Cluster, done: Any, start: datetime, rounds: int = 60
              ) -> tuple[datetime, list[str]]:
    """Reconcile (each time due) until `done(cluster)`; the capacity messages seen."""
    now, seen = start, []
    for _ in range(rounds):
        the_plan, wait = reconcile(cluster, now)
        if the_plan.capacity is not None and the_plan.capacity.message:
            seen.append(the_plan.capacity.message)
        # The stable Deployment's own in-place replacement (maxSurge 0) creates
        # each new pod as the old one starts terminating: Pending until it is
        # gone, which the next reconcile sees. The capacity's moves never do
        # that (tests/unit/rollout/test_capacity.py).
        assert cluster.pending_rounds <= 1, "a pod Pending for longer than one reconcile"
        if done(cluster):
            return now, seen
        now += timedelta(seconds=min(wait, 30.0))
    raise AssertionError(f"not done after {rounds} reconciles: {cluster.status.get('rollout')}")


def promoted(cluster: Cluster) -> bool:
    rollout = cluster.status.get("rollout") or {}
    return rollout.get("phase") == "Promoted" and cluster.canary is None and cluster.hpa


def test_auto_swaps_its_way_through_every_step_to_promotion_on_a_full_a100_node() -> None:
    cluster = deployed()
    cluster.spec = spec("1.1.0")
    new = revision_of(ToolServiceSpec.model_validate(cluster.spec))
    _, seen = run_until(cluster, promoted, T0 + timedelta(minutes=1))
    assert cluster.stable is not None and cluster.stable.running == [new] * 4
    assert cluster.lowest_ready >= 3  # minReplicas 4 - maxUnavailable 1
    assert any("0 free on 1 matching node(s); swapping (auto: no room to surge): "
               "stable 3, canary 1" in m for m in seen)
    assert any("swapping (auto: no room to surge): stable 2, canary 2" in m for m in seen)
    assert any(m.startswith("giving GPUs back to stable") for m in seen)
    assert cluster.status["rollout"].get("capacity") is None


@pytest.mark.parametrize(("node_selector", "mode"), [({"pool": "a"}, "swapping"),
                                                     ({}, "surging")])
def test_auto_counts_only_the_gpus_of_nodes_the_pods_may_run_on(
        node_selector: dict[str, str], mode: str) -> None:
    cluster = deployed(node_selector=node_selector)
    cluster.spare_elsewhere = 4  # free, but on pool b
    cluster.spec = spec("1.1.0", node_selector=node_selector)
    the_plan, _ = reconcile(cluster, T0)
    assert the_plan.capacity is not None
    assert the_plan.capacity.message.startswith(mode) or f" {mode} " in \
        the_plan.capacity.message, the_plan.capacity.message


def test_status_and_conditions_show_the_swap_with_numbers() -> None:
    cluster = deployed()
    cluster.spec = spec("1.1.0")
    now = T0 + timedelta(minutes=1)
    for _ in range(3):
        reconcile(cluster, now)
    capacity = cluster.status["rollout"]["capacity"]
    assert capacity == {
        "mode": "swap", "stableReplicas": 3, "canaryReplicas": 1, "fullReplicas": 4,
        "effectiveWeight": 25, "message": capacity["message"]}
    conditions = {c["type"]: c for c in cluster.status["conditions"]}
    assert "swapping (auto: no room to surge): stable 3, canary 1" in (
        conditions["Progressing"]["message"])
    # Still Ready (and so still in the catalogs): 4 ready across both tracks, 3 promised.
    assert (conditions["Ready"]["status"], conditions["Ready"]["message"]) == (
        "True", "4 replica(s) ready across stable and canary while GPUs move between them "
        "(at least 3 promised: minReplicas - maxUnavailable)")
    assert conditions["Schedulable"]["status"] == "True"
    assert "swapping" in conditions["Schedulable"]["message"]
    # The catalog: the gateway splits by weight; a caller of the Service gets the pods' share.
    entry = entry_from_body(cluster.world().toolservice, {}, cluster_domain="cluster.local")
    assert [(e.track, e.weight, e.effective_weight) for e in entry.endpoints] == [
        ("stable", 75, 75), ("canary", 25, 25)]
    cluster.spec = spec("1.1.0", trafficRouting="gatewayAPI", gatewayRef={"name": "edge"})
    entry = entry_from_body(cluster.world().toolservice, {}, cluster_domain="cluster.local")
    assert [e.effective_weight for e in entry.endpoints] == [None, None]


def test_a_rollback_in_swap_mode_gives_the_gpus_back_to_the_old_version() -> None:
    cluster = deployed(capacity="swap")
    old = cluster.stable.running[0] if cluster.stable else ""
    cluster.spec = spec("1.1.0", capacity="swap")
    now = T0 + timedelta(minutes=1)
    for _ in range(4):
        reconcile(cluster, now)
    assert cluster.canary is not None and cluster.canary.replicas == 1
    cluster.annotations[CONTROL_ANNOTATION] = "abort:1"

    def back(c: Cluster) -> bool:
        return c.canary is None and c.hpa and c.stable is not None and len(c.stable.running) == 4

    run_until(cluster, back, now)
    assert cluster.stable is not None and cluster.stable.running == [old] * 4
    assert cluster.lowest_ready >= 3
    assert cluster.status["rollout"]["phase"] == "Aborted"


def conditions_of(cluster: Cluster) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in cluster.status.get("conditions") or []}


def test_pods_slow_to_start_keep_the_service_ready_and_the_autoscaler_off_until_all_are() -> None:
    cluster = deployed()
    cluster.late = True  # each new pod is ready a reconcile after it starts
    cluster.spec = spec("1.1.0")
    seen: list[tuple[str, str, bool, int]] = []

    def watched(c: Cluster) -> bool:
        ready = conditions_of(c)["Ready"]
        stable_ready = c.stable.ready if c.stable else 0
        seen.append((ready["status"], ready["message"], c.hpa, stable_ready))
        return promoted(c)

    run_until(cluster, watched, T0 + timedelta(minutes=1), rounds=120)
    assert all(status == "True" for status, *_ in seen), seen
    # The autoscaler returns only once the stable's 4 pods are all ready.
    assert all(ready == 4 for _, _, hpa, ready in seen[seen.index(next(
        s for s in seen if s[2] and s is not seen[0])):]), seen
    assert any("while the stable's last pods start" in message for _, message, *_ in seen), seen


@pytest.mark.parametrize("promote_at", ["step 1", "step 2"])
def test_a_promotion_keeps_the_promise_when_the_stables_status_lags_its_pods(
        promote_at: str) -> None:
    # The stable rolls in place to the promoted revision, maxUnavailable at a time; its
    # status claims every pod updated while an old one still serves. Taking a canary pod
    # away then as well would put both budgets on top of each other.
    cluster = deployed()
    cluster.lagging = True
    cluster.spec = spec("1.1.0")
    now = T0 + timedelta(minutes=1)
    rounds = 3 if promote_at == "step 1" else 9
    for _ in range(rounds):
        reconcile(cluster, now)
        now += timedelta(seconds=10)
    assert cluster.canary is not None and cluster.canary.ready == (
        1 if promote_at == "step 1" else 2), cluster
    cluster.lowest_ready = 99
    cluster.annotations[CONTROL_ANNOTATION] = "promote:1"
    run_until(cluster, promoted, now)
    assert cluster.lowest_ready >= 3  # minReplicas 4 - maxUnavailable 1


def test_a_pod_the_scheduler_holds_back_is_no_failure_and_the_give_back_goes_on() -> None:
    cluster = deployed()
    cluster.late = True
    cluster.spec = spec("1.1.0")

    def at_count(c: Cluster) -> bool:
        phase = (c.status.get("rollout") or {}).get("phase")
        return phase == "Promoted" and c.stable is not None and (
            c.stable.replicas == 4 and c.stable.ready < 4 and not c.hpa)

    now, _ = run_until(cluster, at_count, T0 + timedelta(minutes=1), rounds=120)
    cluster.held_back = 1  # the scheduler refuses it until a GPU frees
    the_plan, _ = reconcile(cluster, now + timedelta(seconds=10))
    assert the_plan.capacity is not None and the_plan.capacity.swapping, the_plan.capacity
    conditions = conditions_of(cluster)
    assert conditions["Ready"]["status"] == "True", conditions["Ready"]
    assert (conditions["Schedulable"]["status"], conditions["Schedulable"]["reason"]) == (
        "False", "Unschedulable")
    assert conditions["Degraded"]["status"] == "False", conditions["Degraded"]


def test_a_stable_pod_that_never_becomes_ready_ends_the_give_back_at_the_count() -> None:
    cluster = deployed(capacity="swap")
    cluster.spec = spec("1.1.0", capacity="swap")
    now = T0 + timedelta(minutes=1)
    for _ in range(4):
        reconcile(cluster, now)
    assert cluster.canary is not None and cluster.canary.replicas == 1
    cluster.crashing = 1  # the stable's next pod crash-loops
    cluster.annotations[CONTROL_ANNOTATION] = "abort:1"

    def over(c: Cluster) -> bool:
        return c.canary is None and c.hpa and c.stable is not None and c.stable.replicas == 4

    now, _ = run_until(cluster, over, now)
    reconcile(cluster, now + timedelta(seconds=10))
    assert cluster.status["rollout"].get("capacity") is None
    conditions = conditions_of(cluster)
    assert (conditions["Ready"]["status"], conditions["Ready"]["message"]) == (
        "False", "3/4 replica(s) ready")
    assert (conditions["Degraded"]["status"], conditions["Degraded"]["reason"]) == (
        "True", "DeploymentFailing")
    assert "CrashLoopBackOff" in conditions["Degraded"]["message"]


def test_surge_without_room_pauses_with_insufficient_gpu_and_goes_on_when_a_gpu_frees() -> None:
    cluster = deployed(capacity="surge")
    cluster.spec = spec("1.1.0", capacity="surge")
    now = T0 + timedelta(minutes=1)
    for _ in range(3):
        reconcile(cluster, now)
        now += timedelta(seconds=10)
    rollout = cluster.status["rollout"]
    assert (rollout["phase"], rollout["reason"]) == ("Paused", "InsufficientGPU")
    assert "Free 1 nvidia.com/gpu on a matching node" in rollout["message"]
    conditions = {c["type"]: c for c in cluster.status["conditions"]}
    assert (conditions["Schedulable"]["status"], conditions["Schedulable"]["reason"]) == (
        "False", "InsufficientGPU")
    assert cluster.canary is None or cluster.canary.replicas == 0
    cluster.gpus = 5  # a blocking pod went: one GPU free, enough for step 1 (25%)

    def at_step_2(c: Cluster) -> bool:
        return c.status["rollout"]["step"] == 1

    now, _ = run_until(cluster, at_step_2, now)
    assert cluster.canary is not None and cluster.canary.ready == 1
    # Step 2 (50%) needs a second canary pod: paused again, until a second GPU frees.
    now, _ = run_until(cluster, lambda c: c.status["rollout"]["phase"] == "Paused", now)
    assert "no room to surge 2 canary pod(s) beside stable 4" in (
        cluster.status["rollout"]["message"])
    cluster.gpus = 6
    new = revision_of(ToolServiceSpec.model_validate(cluster.spec))
    run_until(cluster, lambda c: promoted(c) and c.stable is not None
              and c.stable.running == [new] * 4, now)


@pytest.mark.parametrize("capacity", ["auto", "swap"])
def test_the_priority_class_reaches_both_tracks_pods(capacity: str) -> None:
    world = Cluster(spec={**spec("1.0.0", capacity), "priorityClassName": "inference"}).world()
    deployment = next(c for c in plan(world, T0).children if c["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["priorityClassName"] == "inference"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0,
                                                               "maxUnavailable": 1}


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=12), st.booleans())
def test_promotion_or_rollback_ends_the_same_whenever_the_reconciles_come(
        gaps: list[int], abort: bool) -> None:
    """However the reconciles are spaced (each starts from the objects alone, as after a
    restart), the swap keeps 3 of 4 ready and ends with 4 stable pods of one revision."""
    cluster = deployed()
    old = cluster.stable.running[0] if cluster.stable else ""
    cluster.spec = spec("1.1.0")
    new = revision_of(ToolServiceSpec.model_validate(cluster.spec))
    now = T0 + timedelta(minutes=1)
    for gap in gaps:
        reconcile(cluster, now)
        now += timedelta(seconds=gap)
    if abort:
        cluster.annotations[CONTROL_ANNOTATION] = "abort:1"

    def ended(c: Cluster) -> bool:
        phase = (c.status.get("rollout") or {}).get("phase")
        return phase in ("Promoted", "Aborted") and c.canary is None and c.hpa

    run_until(cluster, ended, now, rounds=120)
    assert cluster.lowest_ready >= 3
    phase = cluster.status["rollout"]["phase"]
    assert cluster.stable is not None
    assert cluster.stable.running == [new if phase == "Promoted" else old] * 4


@pytest.mark.parametrize(("capacity", "max_unavailable"), [("surge", 1), ("auto", 0)])
def test_a_gpu_service_that_cannot_swap_keeps_the_surge_of_its_rolling_update(
        capacity: str, max_unavailable: int) -> None:
    world = Cluster(spec=spec("1.0.0", capacity, maxUnavailable=max_unavailable)).world()
    deployment = next(c for c in plan(world, T0).children if c["kind"] == "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%",
                                                               "maxUnavailable": 0}
