"""Smoke tests of the local control plane, written as a user would check a cluster."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.support import CLUSTER_SH, Cluster, wait_until


def deployment(name: str, gpus: int | None = None, replicas: int = 1) -> str:
    container: dict[str, Any] = {"name": "main", "image": "registry.invalid/idle:1"}
    pod_spec: dict[str, Any] = {"containers": [container]}
    if gpus is not None:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
        pod_spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    return json.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
        },
    })


def pods(cluster: Cluster, namespace: str, app: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get("pods", "-n", namespace, "-l", f"app={app}")["items"]
    return items


def test_nodes_are_ready_with_gpu_labels_and_capacity(cluster: Cluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in cluster.get("nodes")["items"]}
    for node in nodes.values():
        ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", node["metadata"]["name"]
    gpu_nodes = [n for n in nodes.values()
                 if "nvidia.com/gpu.product" in n["metadata"]["labels"]]
    products = {n["metadata"]["labels"]["nvidia.com/gpu.product"] for n in gpu_nodes}
    assert len(products) >= 2
    a100 = nodes["gpu-a100-0"]
    assert a100["status"]["allocatable"]["nvidia.com/gpu"] == "4"
    assert a100["metadata"]["labels"]["nvidia.com/gpu.memory"] == "81920"
    assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in \
        a100["spec"]["taints"]
    assert any(k.startswith("nvidia.com/mig-") for k in
               nodes["gpu-h100-mig-0"]["status"]["allocatable"])


def test_gpu_pod_runs_on_a_gpu_node(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("infer", gpus=1))

    def running() -> list[dict[str, Any]]:
        return [p for p in pods(cluster, namespace, "infer")
                if p["status"].get("phase") == "Running"]

    pod = wait_until(running, 60, "the GPU pod to run")[0]
    node = cluster.get("node", pod["spec"]["nodeName"])
    assert "nvidia.com/gpu.product" in node["metadata"]["labels"]


def test_pod_asking_more_gpus_than_any_node_stays_pending(
        cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("huge", gpus=64))

    def failed_scheduling() -> list[dict[str, Any]]:
        events = cluster.get("events", "-n", namespace,
                             "--field-selector", "reason=FailedScheduling")["items"]
        return [e for e in events if "nvidia.com/gpu" in e.get("message", "")]

    event = wait_until(failed_scheduling, 60, "a FailedScheduling event")[0]
    assert "Insufficient nvidia.com/gpu" in event["message"]
    assert all(p["status"]["phase"] == "Pending" for p in pods(cluster, namespace, "huge"))


def test_deleting_a_deployment_garbage_collects_its_replicaset_and_pods(
        cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=deployment("web", replicas=2))
    wait_until(lambda: len(pods(cluster, namespace, "web")) == 2, 60, "two pods")
    assert cluster.get("replicasets", "-n", namespace, "-l", "app=web")["items"]

    cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--wait=false")

    wait_until(lambda: not cluster.get("replicasets", "-n", namespace, "-l", "app=web")["items"],
               60, "the ReplicaSet to be garbage-collected")
    wait_until(lambda: not pods(cluster, namespace, "web"), 60,
               "the pods to be garbage-collected")


WIDGET_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.smoke.toolfleet.io}
spec:
  group: smoke.toolfleet.io
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1, maximum: 10}
            x-kubernetes-validations:
            - rule: self.size != 7
              message: seven is not a size
"""


def test_structural_crd_is_served_and_validates(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=WIDGET_CRD)
    cluster.wait_established("widgets.smoke.toolfleet.io")

    def widget(size: int) -> str:
        return json.dumps({"apiVersion": "smoke.toolfleet.io/v1", "kind": "Widget",
                           "metadata": {"name": f"w{size}"}, "spec": {"size": size}})

    ok = wait_until(lambda: cluster.kubectl("apply", "-n", namespace, "-f", "-",
                                            input=widget(3), check=False).returncode == 0,
                    30, "the Widget kind to be served")
    assert ok
    too_big = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=widget(11), check=False)
    assert too_big.returncode != 0
    assert "spec.size" in too_big.stderr and "10" in too_big.stderr
    seven = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=widget(7), check=False)
    assert seven.returncode != 0 and "seven is not a size" in seven.stderr


def test_rbac_is_enforced(cluster: Cluster, namespace: str) -> None:
    sa = f"system:serviceaccount:{namespace}:default"
    answer = cluster.kubectl("auth", "can-i", "list", "secrets", "-n", namespace, "--as", sa,
                             check=False)
    assert answer.stdout.strip() == "no"


def running(pid: int) -> bool:
    """True while the process exists and is not a zombie awaiting its reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_second_cluster_runs_beside_and_leaves_nothing_behind(
        cluster: Cluster, tmp_path: Path) -> None:
    # Never with the real node: one per machine, and the first cluster may hold it.
    env = {**os.environ, "TOOLFLEET_CLUSTER_DIR": str(tmp_path / "second"),
           "TOOLFLEET_REAL_NODE": "0"}
    subprocess.run([str(CLUSTER_SH), "up"], env=env, check=True, timeout=300,
                   capture_output=True)
    state = tmp_path / "second"
    ports = [int(line.split("=")[1]) for line in (state / "ports.env").read_text().split()]
    pids = [int((state / "pids" / name).read_text()) for name in
            ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")]
    mine = cluster.kubeconfig.parent / "ports.env"
    assert not set(ports) & {int(line.split("=")[1]) for line in mine.read_text().split()}

    subprocess.run([str(CLUSTER_SH), "down"], env=env, check=True, timeout=120,
                   capture_output=True)

    for pid in pids:
        assert not running(pid), f"process {pid} survived cluster down"
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    # The first cluster is untouched.
    assert cluster.get("nodes")["items"]


def test_a_fleet_sized_cluster_has_a_wide_service_range_and_a_scale_pool(
        cluster: Cluster, tmp_path: Path) -> None:
    state = tmp_path / "fleet"
    env = {**os.environ, "TOOLFLEET_CLUSTER_DIR": str(state), "TOOLFLEET_REAL_NODE": "0",
           "TOOLFLEET_SCALE_NODES": "3", "TOOLFLEET_SCALE_NODE_PODS": "250"}
    subprocess.run([str(CLUSTER_SH), "up"], env=env, check=True, timeout=300,
                   capture_output=True)
    try:
        fleet = Cluster(kubeconfig=state / "kubeconfig", bin_dir=cluster.bin_dir)
        service_cidr = fleet.get("servicecidr", "kubernetes")
        assert service_cidr["spec"]["cidrs"] == ["10.0.0.0/16"]
        # An address a /24 would not have: Services of a fleet fit.
        fleet.kubectl("create", "service", "clusterip", "wide", "--tcp=80",
                      "--clusterip=10.0.200.9")
        assert fleet.get("service", "wide")["spec"]["clusterIP"] == "10.0.200.9"

        def scale_pool() -> dict[str, dict[str, Any]]:
            return {n["metadata"]["name"]: n for n in
                    fleet.get("nodes", "-l", "toolfleet.io/node-pool=scale")["items"]}

        nodes = scale_pool()
        assert sorted(nodes) == ["scale-0", "scale-1", "scale-2"]
        for node in nodes.values():
            assert node["status"]["allocatable"]["pods"] == "250"
            assert [c["status"] for c in node["status"]["conditions"]
                    if c["type"] == "Ready"] == ["True"]

        # `up` on the running cluster resizes the pool.
        subprocess.run([str(CLUSTER_SH), "up"], env={**env, "TOOLFLEET_SCALE_NODES": "1"},
                       check=True, timeout=120, capture_output=True)
        wait_until(lambda: sorted(scale_pool()) == ["scale-0"], 30,
                   "the scale pool to shrink to one node")
    finally:
        subprocess.run([str(CLUSTER_SH), "down"], env=env, check=True, timeout=120,
                       capture_output=True)


def test_a_scale_pool_of_no_whole_number_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "TOOLFLEET_CLUSTER_DIR": str(tmp_path / "typo"),
           "TOOLFLEET_REAL_NODE": "0", "TOOLFLEET_SCALE_NODES": "many"}
    up = subprocess.run([str(CLUSTER_SH), "up"], env=env, timeout=300, capture_output=True,
                        text=True)
    subprocess.run([str(CLUSTER_SH), "down"], env=env, timeout=120, capture_output=True)
    assert up.returncode != 0
    assert "TOOLFLEET_SCALE_NODES must be a whole number (got 'many')" in up.stderr
