"""What a GPU pod needs to land on a matching node (operator/toolfleet/placement/scheduling.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import GPU, ToolServiceSpec
from toolfleet.placement.inventory import node_gpu, node_matches
from toolfleet.placement.scheduling import (
    gpu_limits,
    gpu_node_affinity,
    gpu_tolerations,
    pod_tolerations,
)

from .fixtures import node, nodes

PROPERTIES = settings(max_examples=50, deadline=None)


def tolerated(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> bool:
    """Whether a taint is tolerated (Kubernetes toleration semantics)."""
    for tol in tolerations:
        if tol.get("effect") and tol["effect"] != taint["effect"]:
            continue
        if tol.get("operator", "Equal") == "Exists" and tol.get("key") in (None, taint["key"]):
            return True
        if tol.get("key") == taint["key"] and tol.get("value") == taint.get("value"):
            return True
    return False


def affinity_admits(affinity: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether required node affinity lets a pod onto a node with these labels."""
    if affinity is None:
        return True
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    for term in terms:
        ok = True
        for expr in term["matchExpressions"]:
            value = labels.get(expr["key"])
            if expr["operator"] == "In":
                ok &= value in expr["values"]
            elif expr["operator"] == "Gt":
                ok &= value is not None and value.isdigit() and int(value) > int(
                    expr["values"][0])
            else:
                raise AssertionError(f"unexpected operator {expr['operator']}")
        if ok:
            return True
    return False


def test_limits_ask_for_count_of_the_resource() -> None:
    assert gpu_limits(GPU(count=3)) == {"nvidia.com/gpu": "3"}
    assert gpu_limits(GPU.model_validate({"sharing": "mig", "migProfile": "2g.20gb"})) == {
        "nvidia.com/mig-2g.20gb": "1"}


def test_no_product_or_memory_means_no_affinity() -> None:
    assert gpu_node_affinity(GPU()) is None


def test_the_gpu_nodes_taint_is_tolerated_and_no_other() -> None:
    tolerations = gpu_tolerations()
    for raw in nodes():
        for taint in (raw.get("spec") or {}).get("taints") or []:
            assert tolerated(tolerations, taint), (raw["metadata"]["name"], taint)
    assert not tolerated(tolerations, {"key": "dedicated", "value": "db",
                                       "effect": "NoSchedule"})
    assert not tolerated(tolerations, {"key": "nvidia.com/gpu", "effect": "NoExecute"})


def test_affinity_lets_pods_onto_exactly_the_named_products() -> None:
    affinity = gpu_node_affinity(GPU(products=["NVIDIA-L4"]))
    allowed = [n["metadata"]["name"] for n in nodes()
               if affinity_admits(affinity, n["metadata"]["labels"])]
    assert allowed == ["gpu-l4-0"]


def test_affinity_products_are_sorted_so_equal_specs_give_equal_pods() -> None:
    one = gpu_node_affinity(GPU(products=["b", "a"]))
    other = gpu_node_affinity(GPU(products=["a", "b"]))
    assert one == other


@PROPERTIES
@given(products=st.lists(st.sampled_from(["NVIDIA-A100-SXM4-80GB", "NVIDIA-L4",
                                          "NVIDIA-H100-80GB-HBM3"]), unique=True, max_size=2),
       memory=st.one_of(st.none(), st.integers(1, 90_000)))
def test_the_scheduler_and_the_inventory_agree_on_which_nodes_match(
        products: list[str], memory: int | None) -> None:
    # What the Schedulable condition promises is where the scheduler will put the pod.
    gpu = GPU.model_validate({"products": products,
                              **({"minMemoryMiB": memory} if memory else {})})
    affinity = gpu_node_affinity(gpu)
    for name in ("gpu-a100-0", "gpu-l4-0"):
        raw = node(name)
        assert affinity_admits(affinity, raw["metadata"]["labels"]) == node_matches(
            gpu, node_gpu(raw)), name


# -- pod_tolerations ---------------------------------------------------------------


def test_a_gpu_service_tolerates_the_gpu_taint_and_its_own_each_once() -> None:
    spec = ToolServiceSpec.model_validate({
        "version": "1.0.0", "image": "x:1", "gpu": {"count": 1},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "dedicated", "operator": "Equal", "value": "ml",
                         "effect": "NoSchedule"}],
        "tools": [{"name": "t", "description": "d", "inputSchema": {"type": "object"}}]})
    assert pod_tolerations(spec) == [
        *gpu_tolerations(),
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}]
