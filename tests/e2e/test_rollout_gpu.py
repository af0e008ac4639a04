"""Canaries that fit the GPUs there are, on the local cluster's kwok GPU nodes.

A platform team's GPU service fills its node: the A100 node's 4 GPUs (or the
MIG node's two 1g.10gb slices). Its next version rolls out as a canary. The
rollout swaps GPUs from the stable Deployment to the canary step by step
(auto), gives them back on a rollback, or pauses with reason InsufficientGPU
in surge mode until a GPU frees. In each case no pod waits Pending for longer
than one reconcile, and at least minReplicas - maxUnavailable pods stay ready.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from tests.e2e import test_rollout
from tests.e2e.support import Cluster, http_server, wait_until
from tests.e2e.test_rollout import NAME, OperatorRunner, apply, condition, manifest, status

from toolfleet.rollout.steps import POLL_SECONDS

rollout_namespace = test_rollout.rollout_namespace
operators = test_rollout.operators

A100_NODE, MIG_NODE = "gpu-a100-0", "gpu-h100-mig-0"
A100 = {"count": 1, "products": ["NVIDIA-A100-SXM4-80GB"]}
MIG = {"count": 1, "sharing": "mig", "migProfile": "1g.10gb"}
# Each step held long enough for a poll of the status to see it.
STEPS = [{"weight": 25, "pauseSeconds": 5}, {"weight": 50, "pauseSeconds": 5}]


def gpu_release(namespace: str, version: str, gpu: dict[str, Any], replicas: int,
                **rollout: Any) -> dict[str, Any]:
    ts = manifest(namespace, version, None, **{"steps": STEPS, **rollout})
    ts["spec"]["gpu"] = gpu
    ts["spec"]["autoscaling"] = {"minReplicas": replicas, "maxReplicas": replicas}
    return ts


class Pods:
    """Watches the namespace's pods (polling): the longest any waited to be scheduled, and
    the fewest ready service pods seen, both tracks together."""

    def __init__(self, cluster: Cluster, namespace: str) -> None:
        self.cluster, self.namespace = cluster, namespace
        self.longest_pending = 0.0
        self.fewest_ready: int | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.stopped.wait(1):
            found = self.cluster.kubectl("get", "pods", "-n", self.namespace, "-l",
                                         f"toolfleet.io/toolservice={NAME}", "-o", "json",
                                         check=False)
            if found.returncode != 0:
                continue
            pods = json.loads(found.stdout)["items"]
            ready = sum(1 for pod in pods if _condition(pod, "Ready") == "True"
                        and not pod["metadata"].get("deletionTimestamp"))
            self.fewest_ready = ready if self.fewest_ready is None else min(
                self.fewest_ready, ready)
            for pod in pods:
                self.longest_pending = max(self.longest_pending, _pending_seconds(pod))

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)


def _condition(pod: dict[str, Any], type_: str) -> str | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond["type"] == type_:
            found: str = cond["status"]
            return found
    return None


def _pending_seconds(pod: dict[str, Any]) -> float:
    """Seconds from the pod's creation to its scheduling, by the API server's own clock
    (0 for a pod not refused yet)."""
    created = datetime.fromisoformat(pod["metadata"]["creationTimestamp"])
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond["type"] == "PodScheduled":
            since = datetime.fromisoformat(cond["lastTransitionTime"])
            if cond["status"] == "True":
                return (since - created).total_seconds()
            return (datetime.now(since.tzinfo) - created).total_seconds()
    return 0.0


@pytest.fixture
def pods(cluster: Cluster, rollout_namespace: str) -> Iterator[Pods]:
    watcher = Pods(cluster, rollout_namespace)
    try:
        yield watcher
    finally:
        watcher.stop()


def gpus_free(cluster: Cluster, node: str) -> None:
    """Wait until no pod of another test still holds the node's GPUs (namespaces go slowly)."""
    def idle() -> bool:
        found = cluster.get("pods", "-A", "--field-selector", f"spec.nodeName={node}")
        return not found["items"]
    wait_until(idle, 120, f"the pods of earlier tests to leave {node}")


def deploy(cluster: Cluster, namespace: str, gpu: dict[str, Any], replicas: int,
           **rollout: Any) -> str:
    apply(cluster, gpu_release(namespace, "1.0.0", gpu, replicas, **rollout))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=90s",
                    f"toolservice/{NAME}", timeout=100)
    wait_until(lambda: ready_pods(cluster, namespace) == {"1.0.0": replicas}, 90,
               f"{replicas} ready pods of 1.0.0")
    revision: str = status(cluster, namespace)["stableRevision"]
    return revision


def ready_pods(cluster: Cluster, namespace: str) -> dict[str, int]:
    """version -> ready pods of the service, terminating ones left out."""
    versions: dict[str, int] = {}
    for pod in cluster.get("pods", "-n", namespace, "-l",
                           f"toolfleet.io/toolservice={NAME}")["items"]:
        if _condition(pod, "Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
            version = pod["metadata"]["labels"].get("app.kubernetes.io/version", "")
            versions[version] = versions.get(version, 0) + 1
    return versions


def children(cluster: Cluster, namespace: str) -> set[str]:
    found = cluster.get("deployments,horizontalpodautoscalers", "-n", namespace)
    return {f"{item['kind']}/{item['metadata']['name']}" for item in found["items"]}


def _said(cond: dict[str, Any]) -> str:
    """A condition as `status reason: message`, for records a failure prints whole."""
    return f"{cond.get('status')} {cond.get('reason')}: {cond.get('message')}"


def shown(seen: list[dict[str, Any]]) -> str:
    """The records one per line: pytest cuts a long list's repr short."""
    return "\n" + "\n".join(json.dumps(e) for e in seen)


def watch_capacity(cluster: Cluster, namespace: str, seen: list[dict[str, Any]],
                   done: Any, readiness: list[str] | None = None) -> Any:
    """A wait_until predicate that also records each new status.rollout.capacity, and into
    `readiness` each new Ready condition, with or without a capacity (`_said`)."""
    def check() -> Any:
        found = status(cluster, namespace)
        rollout = found.get("rollout") or {}
        capacity = rollout.get("capacity")
        if readiness is not None:
            said = _said(condition(cluster, namespace, "Ready"))
            if not readiness or readiness[-1] != said:
                readiness.append(said)
        if capacity is not None:
            entry = {"step": rollout.get("step"), "phase": rollout.get("phase"),
                     "mode": capacity["mode"], "stable": capacity["stableReplicas"],
                     "canary": capacity["canaryReplicas"],
                     "progressing": condition(cluster, namespace, "Progressing")
                     .get("message", ""),
                     "ready": _said(condition(cluster, namespace, "Ready"))}
            if not seen or seen[-1] != entry:
                seen.append(entry)
        return done(found)
    return check


def test_a_full_a100_node_swaps_through_every_step_to_promotion(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        pods: Pods) -> None:
    ns = rollout_namespace
    gpus_free(cluster, A100_NODE)
    deploy(cluster, ns, A100, 4)
    pods.fewest_ready = None
    apply(cluster, gpu_release(ns, "1.1.0", A100, 4))

    seen: list[dict[str, Any]] = []
    readiness: list[str] = []
    wait_until(watch_capacity(cluster, ns, seen, lambda s: (
        (s.get("rollout") or {}).get("phase") == "Promoted"
        and ready_pods(cluster, ns) == {"1.1.0": 4}
        and f"Deployment/{NAME}-canary" not in children(cluster, ns)
        and f"HorizontalPodAutoscaler/{NAME}" in children(cluster, ns)), readiness),
        300, "promotion with 4 ready pods of 1.1.0 and the autoscaler back", interval=1)

    moves = {(e["step"], e["mode"], e["stable"], e["canary"]) for e in seen}
    assert (0, "swap", 3, 1) in moves, shown(seen)
    assert (1, "swap", 2, 2) in moves, shown(seen)
    swapping = [e for e in seen if e["phase"] == "Progressing" and e["stable"] == 3]
    assert any("0 free on 1 matching node(s); swapping (auto: no room to surge): stable 3, "
               "canary 1" in e["progressing"] for e in swapping), shown(seen)
    # Ready throughout, so the service stays in the catalogs while its GPUs move.
    assert all(e["ready"].startswith("True ") for e in seen), shown(seen)
    # And once the swap is over: the autoscaler comes back with the stable's pods all ready.
    assert all(said.startswith("True ") for said in readiness), "\n".join(readiness)
    assert pods.fewest_ready is not None and pods.fewest_ready >= 3
    assert pods.longest_pending <= POLL_SECONDS


class FailingPrometheus(BaseHTTPRequestHandler):
    """The Prometheus query API answering every query with 1: every call of the canary fails."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [0, "1"]}]}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def failing_prometheus() -> Iterator[str]:
    with http_server(FailingPrometheus) as url:
        yield url


def test_a_failing_canary_in_swap_mode_gives_every_gpu_back_to_the_old_version(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str, pods: Pods,
        failing_prometheus: str) -> None:
    ns = rollout_namespace
    analysis = {"prometheusURL": failing_prometheus, "intervalSeconds": 5, "failureLimit": 0}
    gpus_free(cluster, A100_NODE)
    deploy(cluster, ns, A100, 4, capacity="swap", analysis=analysis)
    pods.fewest_ready = None
    apply(cluster, gpu_release(ns, "1.1.0", A100, 4, capacity="swap", analysis=analysis))

    seen: list[dict[str, Any]] = []
    wait_until(watch_capacity(cluster, ns, seen, lambda s: (
        (s.get("rollout") or {}).get("phase") == "RolledBack"
        and ready_pods(cluster, ns) == {"1.0.0": 4}
        and f"Deployment/{NAME}-canary" not in children(cluster, ns)
        and f"HorizontalPodAutoscaler/{NAME}" in children(cluster, ns))),
        300, "the rollback with 4 ready pods of 1.0.0 and the autoscaler back", interval=1)

    assert any(e["mode"] == "swap" and e["canary"] == 1 for e in seen), shown(seen)
    assert status(cluster, ns)["rollout"]["reason"] == "AnalysisFailed"
    assert pods.fewest_ready is not None and pods.fewest_ready >= 3
    assert pods.longest_pending <= POLL_SECONDS


def blocker(namespace: str) -> dict[str, Any]:
    """Another team's pod holding one A100 GPU."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "blocker", "namespace": namespace},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": A100_NODE},
                     "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists",
                                      "effect": "NoSchedule"}],
                     "containers": [{"name": "train", "image": "registry.example/train:1",
                                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}


def test_surge_with_no_room_pauses_with_insufficient_gpu_until_a_gpu_frees(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        pods: Pods) -> None:
    ns = rollout_namespace
    steps = [{"weight": 30, "pauseSeconds": 1}]
    gpus_free(cluster, A100_NODE)
    apply(cluster, blocker(ns))
    deploy(cluster, ns, A100, 3, capacity="surge", steps=steps)
    apply(cluster, gpu_release(ns, "1.1.0", A100, 3, capacity="surge", steps=steps))

    wait_until(lambda: (status(cluster, ns).get("rollout") or {}).get("reason")
               == "InsufficientGPU", 90, "the rollout to pause with InsufficientGPU")
    rollout = status(cluster, ns)["rollout"]
    assert rollout["phase"] == "Paused"
    assert ("each canary pod needs 1 x nvidia.com/gpu (NVIDIA-A100-SXM4-80GB); 0 free on 1 "
            "matching node(s): no room to surge 1 canary pod(s) beside stable 3. Free 1 "
            "nvidia.com/gpu on a matching node") in rollout["message"]
    schedulable = condition(cluster, ns, "Schedulable")
    assert (schedulable["status"], schedulable["reason"]) == ("False", "InsufficientGPU")
    assert ready_pods(cluster, ns) == {"1.0.0": 3}

    cluster.kubectl("delete", "pod", "blocker", "-n", ns, "--wait=true", timeout=60)
    wait_until(lambda: (status(cluster, ns).get("rollout") or {}).get("phase") == "Promoted"
               and ready_pods(cluster, ns) == {"1.1.0": 3}, 180,
               "the rollout to go on and promote once a GPU is free")
    assert pods.longest_pending <= POLL_SECONDS


def test_a_mig_service_swaps_its_slices_through_to_promotion(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        pods: Pods) -> None:
    ns = rollout_namespace
    gpus_free(cluster, MIG_NODE)
    deploy(cluster, ns, MIG, 2)
    pods.fewest_ready = None
    apply(cluster, gpu_release(ns, "1.1.0", MIG, 2))

    seen: list[dict[str, Any]] = []
    wait_until(watch_capacity(cluster, ns, seen, lambda s: (
        (s.get("rollout") or {}).get("phase") == "Promoted"
        and ready_pods(cluster, ns) == {"1.1.0": 2}
        and f"Deployment/{NAME}-canary" not in children(cluster, ns))),
        300, "promotion with 2 ready pods of 1.1.0 on the MIG slices", interval=1)

    assert (0, "swap", 1, 1) in {(e["step"], e["mode"], e["stable"], e["canary"])
                                 for e in seen}, shown(seen)
    assert any("each canary pod needs 1 x nvidia.com/mig-1g.10gb; 0 free on 1 matching "
               "node(s); swapping" in e["progressing"] for e in seen), shown(seen)
    assert pods.fewest_ready is not None and pods.fewest_ready >= 1
    assert pods.longest_pending <= POLL_SECONDS
