"""A model team's steps with a ToolService, against the real control plane."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import RESYNC_SECONDS
from tests.e2e.support import REPO, Cluster, Operator, wait_until

SAMPLES = REPO / "config" / "samples"
CHILD_KINDS = ("serviceaccount", "deployment", "service", "horizontalpodautoscaler",
               "poddisruptionbudget", "networkpolicy")


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())
    return loaded


def apply(cluster: Cluster, namespace: str, obj: dict[str, Any] | Path) -> None:
    if isinstance(obj, Path):
        cluster.kubectl("apply", "-n", namespace, "-f", str(obj))
    else:
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def wait_ready(cluster: Cluster, namespace: str, name: str, timeout: int = 60) -> None:
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", f"--timeout={timeout}s",
                    f"toolservice/{name}", timeout=timeout + 10)


def condition(cluster: Cluster, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
    ts = cluster.get("toolservice", name, "-n", namespace)
    for cond in (ts.get("status") or {}).get("conditions", []):
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return None


def gpu_service(name: str, **gpu: Any) -> dict[str, Any]:
    ts = sample("gpu-toolservice.yaml")
    ts["metadata"]["name"] = name
    ts["spec"]["gpu"] = gpu
    return ts


def test_sample_becomes_ready_with_printer_columns(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    apply(cluster, namespace, SAMPLES / "cpu-toolservice.yaml")

    wait_ready(cluster, namespace, "text-stats")

    (row,) = cluster.table("ts", "-n", namespace)
    assert list(row) == ["NAME", "VERSION", "READY", "REASON", "CANARY", "TOOLS", "AGE"]
    assert {k: v for k, v in row.items() if k != "AGE"} == {
        "NAME": "text-stats", "VERSION": "1.2.0", "READY": "True", "REASON": "ReplicasReady",
        "CANARY": "", "TOOLS": "1"}
    status = cluster.get("toolservice", "text-stats", "-n", namespace)["status"]
    assert status["endpoint"] == f"http://text-stats.{namespace}.svc.cluster.local:8080"
    assert status["tools"] == ["count_words"]
    assert status["readyReplicas"] >= 2
    ready = condition(cluster, namespace, "text-stats", "Ready")
    assert ready is not None and ready["observedGeneration"] == 1
    events = cluster.get("events", "-n", namespace, "--field-selector",
                         "involvedObject.name=text-stats,involvedObject.kind=ToolService")
    assert "ReplicasReady" in {e["reason"] for e in events["items"]}


def test_explain_describes_every_gpu_field(cluster: Cluster, crds: None) -> None:
    text = wait_until(lambda: cluster.kubectl("explain", "toolservice.spec.gpu",
                                              check=False).stdout, 30, "kubectl explain")
    for field in ("count", "products", "minMemoryMiB", "sharing", "migProfile",
                  "runtimeClassName"):
        assert f"{field}\t" in text or f"{field} " in text, field
    assert "nvidia.com/gpu.product" in text
    assert "MIG profile" in text


def test_children_match_the_spec_and_go_with_the_toolservice(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    apply(cluster, namespace, SAMPLES / "cpu-toolservice.yaml")
    wait_ready(cluster, namespace, "text-stats")
    uid = cluster.get("toolservice", "text-stats", "-n", namespace)["metadata"]["uid"]

    children = {kind: cluster.get(kind, "text-stats", "-n", namespace) for kind in CHILD_KINDS}
    for kind, child in children.items():
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == \
            ("ToolService", uid, True), kind
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "toolfleet"

    pod = children["deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "toolfleet/text-stats:1.2.0"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "text-stats"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"

    hpa = children["horizontalpodautoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 5)
    assert {m["type"] for m in hpa["metrics"]} == {"Resource", "Pods"}
    assert children["service"]["spec"]["ports"][0]["port"] == 8080
    assert children["poddisruptionbudget"]["spec"]["maxUnavailable"] == 1
    policy = children["networkpolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    assert any("from" not in rule for rule in policy["ingress"]), "public: open to all"
    # The API server enforces the restricted profile when the namespace asks for it.
    cluster.kubectl("label", "namespace", namespace,
                    "pod-security.kubernetes.io/enforce=restricted")
    dry_run = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                              input=json.dumps({
                                  "apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": "restricted-check"},
                                  "spec": pod}), check=False)
    assert dry_run.returncode == 0, dry_run.stderr

    cluster.kubectl("delete", "toolservice", "text-stats", "-n", namespace)

    for kind in CHILD_KINDS:
        wait_until(lambda kind=kind: cluster.kubectl("get", kind, "text-stats", "-n", namespace,
                                                     check=False).returncode != 0,
                   60, f"the {kind} to be garbage-collected")
    wait_until(lambda: not cluster.get("pods", "-n", namespace,
                                       "-l", "toolfleet.io/toolservice=text-stats")["items"],
               60, "the pods to be garbage-collected")


@pytest.mark.parametrize(("gpu", "reason", "numbers"), [
    ({"count": 1, "products": ["NVIDIA-B200"]}, "NoMatchingNodes", ["NVIDIA-B200"]),
    ({"count": 8}, "InsufficientGPU", ["x 8 nvidia.com/gpu", "0 replica(s) fit"]),
    ({"count": 1, "minMemoryMiB": 200000}, "NoMatchingNodes", ["200000 MiB"]),
])
def test_gpu_service_that_cannot_fit_says_why_before_pods_pend(
        cluster: Cluster, operator: Operator, namespace: str, gpu: dict[str, Any],
        reason: str, numbers: list[str]) -> None:
    apply(cluster, namespace, gpu_service("big-model", **gpu))

    cond = wait_until(lambda: condition(cluster, namespace, "big-model", "Schedulable"),
                      60, "the Schedulable condition")
    assert (cond["status"], cond["reason"]) == ("False", reason)
    for text in numbers:
        assert text in cond["message"], cond["message"]
    ready = condition(cluster, namespace, "big-model", "Ready")
    assert ready is not None and ready["status"] == "False"


def test_the_gpu_fit_counts_only_the_nodes_the_node_selector_picks(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    # zone-b holds the L4 node (2 GPUs); the A100 node's 4 free GPUs are in zone-a.
    ts = gpu_service("zoned", count=1)
    ts["spec"]["nodeSelector"] = {"topology.kubernetes.io/zone": "zone-b"}
    ts["spec"]["autoscaling"].update({"minReplicas": 3, "maxReplicas": 3})
    apply(cluster, namespace, ts)

    cond = wait_until(lambda: condition(cluster, namespace, "zoned", "Schedulable"),
                      60, "the Schedulable condition")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientGPU"), cond
    assert "nodeSelector topology.kubernetes.io/zone=zone-b" in cond["message"]
    # At most 2 free (other tests' pods may hold some), never the A100's.
    assert re.search(r"1 matching node\(s\) \(gpu-l4-0\) have [012] free", cond["message"]), \
        cond["message"]
    assert "gpu-a100-0" not in cond["message"]


@pytest.mark.parametrize(("gpu", "node", "resource"), [
    ({"count": 1, "products": ["NVIDIA-L4"]}, "gpu-l4-0", "nvidia.com/gpu"),
    ({"count": 2, "minMemoryMiB": 40000, "products": ["NVIDIA-A100-SXM4-80GB"]},
     "gpu-a100-0", "nvidia.com/gpu"),
    ({"count": 1, "sharing": "mig", "migProfile": "1g.10gb"}, "gpu-h100-mig-0",
     "nvidia.com/mig-1g.10gb"),
])
def test_gpu_service_that_fits_runs_on_the_right_product(
        cluster: Cluster, operator: Operator, namespace: str, gpu: dict[str, Any],
        node: str, resource: str) -> None:
    apply(cluster, namespace, gpu_service("fits", **gpu))

    wait_ready(cluster, namespace, "fits")

    cond = condition(cluster, namespace, "fits", "Schedulable")
    assert cond is not None and cond["status"] == "True"
    pods = cluster.get("pods", "-n", namespace, "-l", "toolfleet.io/toolservice=fits")["items"]
    assert pods and all(p["spec"]["nodeName"] == node for p in pods)
    limits = pods[0]["spec"]["containers"][0]["resources"]["limits"]
    assert limits[resource] == str(gpu["count"])
    status = cluster.get("toolservice", "fits", "-n", namespace)["status"]
    assert status["gpu"]["matchingNodes"] == [node]


def test_editing_the_spec_updates_the_children(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    apply(cluster, namespace, SAMPLES / "cpu-toolservice.yaml")
    wait_ready(cluster, namespace, "text-stats")

    patch = {"spec": {"image": "toolfleet/text-stats:1.3.0", "version": "1.3.0",
                      "env": [{"name": "LOG_LEVEL", "value": "debug"}],
                      "autoscaling": {"minReplicas": 1, "maxReplicas": 9}}}
    cluster.kubectl("patch", "toolservice", "text-stats", "-n", namespace, "--type=merge",
                    "-p", json.dumps(patch))

    def updated() -> bool:
        deploy = cluster.get("deployment", "text-stats", "-n", namespace)
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        hpa = cluster.get("hpa", "text-stats", "-n", namespace)["spec"]
        return (container["image"].endswith(":1.3.0")
                and {"name": "LOG_LEVEL", "value": "debug"} in container["env"]
                and (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 9))

    wait_until(updated, 30, "the Deployment and HPA to follow the spec")
    wait_until(lambda: cluster.get("toolservice", "text-stats", "-n", namespace)
               .get("status", {}).get("stableVersion") == "1.3.0", 60,
               "the new version to become stable")


def test_resync_without_change_writes_nothing(
        cluster: Cluster, operator: Operator, namespace: str) -> None:
    apply(cluster, namespace, SAMPLES / "cpu-toolservice.yaml")
    wait_ready(cluster, namespace, "text-stats")

    # Other tests' objects come and go meanwhile: count this namespace's writes only.
    def writes() -> float:
        return operator.metric("toolfleet_api_writes_total", namespace=namespace)

    def settled() -> bool:
        # Quiet: no write across two full resync periods.
        before = writes()
        reconciles = operator.metric("toolfleet_reconciles_total")
        wait_until(lambda: operator.metric("toolfleet_reconciles_total") >= reconciles + 2,
                   RESYNC_SECONDS * 10, "two reconciles")
        return writes() == before

    wait_until(settled, 60, "the operator to settle")
    versions = {kind: fingerprint(cluster, namespace, kind) for kind in (*CHILD_KINDS,
                                                                          "toolservice")}
    written = writes()
    reconciles = operator.metric("toolfleet_reconciles_total")

    wait_until(lambda: operator.metric("toolfleet_reconciles_total") >= reconciles + 3,
               RESYNC_SECONDS * 15, "three resyncs")

    assert writes() == written
    for kind, version in versions.items():
        assert fingerprint(cluster, namespace, kind) == version, \
            f"{kind} was rewritten by a no-op resync"


def fingerprint(cluster: Cluster, namespace: str, kind: str) -> str:
    """What changes when anyone writes the object's spec (or, where no one else writes, at all).

    The autoscaler and the disruption controller keep writing the status of the
    Deployment, HPA and PDB, so for those the spec and metadata are compared.
    """
    obj = cluster.get(kind, "text-stats", "-n", namespace)
    if kind in ("deployment", "horizontalpodautoscaler", "poddisruptionbudget"):
        meta = {k: v for k, v in obj["metadata"].items()
                if k not in ("resourceVersion", "managedFields")}
        return json.dumps({"spec": obj["spec"], "metadata": meta}, sort_keys=True)
    return f"resourceVersion={obj['metadata']['resourceVersion']}"
