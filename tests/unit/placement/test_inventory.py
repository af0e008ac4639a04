"""The GPU inventory and matching (operator/toolfleet/placement/inventory.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import GPU
from toolfleet.placement.inventory import (
    Fit,
    NodeGPU,
    fit,
    gpu_change_matters,
    node_gpu,
    pod_gpu_usage,
)

from .fixtures import gpu_pod, node, nodes

PROPERTIES = settings(max_examples=50, deadline=None)
A100 = "NVIDIA-A100-SXM4-80GB"
L4 = "NVIDIA-L4"
H100 = "NVIDIA-H100-80GB-HBM3"


def inventory(state: dict[str, dict[str, bool]] | None = None) -> list[NodeGPU]:
    return [node_gpu(n) for n in nodes(state)]


def fit_of(gpu: dict[str, Any], wanted: int = 1,
           used: dict[str, dict[str, int]] | None = None,
           state: dict[str, dict[str, bool]] | None = None) -> Fit:
    return fit(GPU.model_validate(gpu), wanted, inventory(state), used or {})


# -- node_gpu ----------------------------------------------------------------------

def test_a_gpu_node_reports_product_memory_gpus_and_labels() -> None:
    body = node("gpu-a100-0")
    facts = node_gpu(body)
    assert facts == NodeGPU(name="gpu-a100-0", ready=True, schedulable=True, product=A100,
                            memory_mib=81920, allocatable={"nvidia.com/gpu": 4},
                            labels=body["metadata"]["labels"])
    assert facts.labels["nvidia.com/gpu.product"] == A100


def test_a_mig_node_reports_its_slices_and_no_whole_gpus() -> None:
    facts = node_gpu(node("gpu-h100-mig-0"))
    assert facts.allocatable == {"nvidia.com/mig-1g.10gb": 2, "nvidia.com/mig-2g.20gb": 1,
                                 "nvidia.com/mig-3g.40gb": 1}
    assert (facts.product, facts.memory_mib) == (H100, 81559)


def test_a_cpu_node_offers_no_gpu_and_cpu_or_memory_are_not_counted() -> None:
    facts = node_gpu(node("cpu-0"))
    assert facts.allocatable == {}
    assert (facts.product, facts.memory_mib) == (None, None)


def test_readiness_and_cordoning_are_read_from_the_node() -> None:
    assert node_gpu(node("gpu-l4-0", ready=False)).ready is False
    assert node_gpu(node("gpu-l4-0", unschedulable=True)).schedulable is False
    raw = node("gpu-l4-0")
    del raw["status"]["conditions"]
    # No Ready condition yet (a node just registered) is not Ready.
    assert node_gpu(raw).ready is False


def test_odd_labels_and_quantities_do_not_crash_the_index() -> None:
    raw = node("gpu-l4-0")
    raw["metadata"]["labels"]["nvidia.com/gpu.memory"] = "23Gi"
    raw["status"]["allocatable"]["nvidia.com/gpu"] = "two"
    facts = node_gpu(raw)
    assert facts.memory_mib is None
    assert facts.allocatable == {"nvidia.com/gpu": 0}


# -- pod_gpu_usage -------------------------------------------------------------------

def test_a_running_pod_holds_its_gpu_limits_summed_over_containers() -> None:
    pod = gpu_pod("gpu-a100-0", {"nvidia.com/gpu": "1", "cpu": "2", "memory": "1Gi"},
                  containers=2)
    assert pod_gpu_usage(pod) == {"nvidia.com/gpu": 2}


def test_a_pending_pod_bound_to_a_node_holds_its_gpus() -> None:
    assert pod_gpu_usage(gpu_pod("gpu-a100-0", {"nvidia.com/gpu": "1"}, "Pending")) == {
        "nvidia.com/gpu": 1}


def test_mig_slices_are_counted_by_profile() -> None:
    pod = gpu_pod("gpu-h100-mig-0", {"nvidia.com/mig-1g.10gb": "1"})
    assert pod_gpu_usage(pod) == {"nvidia.com/mig-1g.10gb": 1}


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_finished_pod_holds_nothing(phase: str) -> None:
    assert pod_gpu_usage(gpu_pod("gpu-a100-0", {"nvidia.com/gpu": "4"}, phase)) == {}


def test_a_cpu_pod_holds_no_gpu() -> None:
    assert pod_gpu_usage(gpu_pod("cpu-0", {"cpu": "1"})) == {}


# -- fit -----------------------------------------------------------------------------

def test_a_product_list_picks_the_nodes_with_that_product() -> None:
    found = fit_of({"products": [A100]})
    assert found.matching_nodes == ["gpu-a100-0"]
    assert (found.free_on_matching, found.schedulable_replicas) == (4, 4)


def test_any_product_matches_every_node_with_whole_gpus() -> None:
    found = fit_of({})
    assert found.matching_nodes == ["gpu-a100-0", "gpu-l4-0"]
    assert found.schedulable_replicas == 6
    assert found.reason == "GPUAvailable"


@pytest.mark.parametrize(("min_memory", "expected"), [
    (16000, ["gpu-a100-0", "gpu-l4-0"]),
    (23034, ["gpu-a100-0", "gpu-l4-0"]),  # exactly the L4's memory is enough
    (23035, ["gpu-a100-0"]),
    (81920, ["gpu-a100-0"]),
    (81921, []),
])
def test_the_memory_threshold_is_inclusive(min_memory: int, expected: list[str]) -> None:
    assert fit_of({"minMemoryMiB": min_memory}).matching_nodes == expected


def test_a_mig_service_fits_on_the_node_with_that_slice() -> None:
    found = fit_of({"sharing": "mig", "migProfile": "1g.10gb"}, wanted=2)
    assert found.resource == "nvidia.com/mig-1g.10gb"
    assert found.matching_nodes == ["gpu-h100-mig-0"]
    assert (found.schedulable_replicas, found.reason) == (2, "GPUAvailable")
    assert fit_of({"sharing": "mig", "migProfile": "3g.40gb"}).schedulable_replicas == 1
    assert fit_of({"sharing": "mig", "migProfile": "7g.80gb"}).reason == "NoMatchingNodes"


def test_not_ready_and_cordoned_nodes_are_left_out() -> None:
    found = fit_of({}, state={"gpu-a100-0": {"ready": False},
                              "gpu-l4-0": {"unschedulable": True}})
    assert found.matching_nodes == []
    assert found.reason == "NoMatchingNodes"
    assert fit_of({}, state={"gpu-a100-0": {"ready": False}}).matching_nodes == ["gpu-l4-0"]


def test_gpus_used_by_other_pods_are_subtracted() -> None:
    used = {"gpu-a100-0": {"nvidia.com/gpu": 3}, "gpu-l4-0": {"nvidia.com/gpu": 2},
            "cpu-0": {"nvidia.com/gpu": 9}}
    found = fit_of({}, wanted=1, used=used)
    assert (found.free_on_matching, found.schedulable_replicas) == (1, 1)


def test_a_node_overcommitted_by_others_counts_as_zero_not_negative() -> None:
    found = fit_of({"products": [L4]}, used={"gpu-l4-0": {"nvidia.com/gpu": 5}})
    assert (found.free_on_matching, found.schedulable_replicas) == (0, 0)


def test_replicas_need_all_their_gpus_on_one_node() -> None:
    # One free GPU on each of two nodes is no room for a two-GPU replica.
    used = {"gpu-a100-0": {"nvidia.com/gpu": 3}, "gpu-l4-0": {"nvidia.com/gpu": 1}}
    found = fit_of({"count": 2}, wanted=1, used=used)
    assert (found.free_on_matching, found.schedulable_replicas) == (2, 0)
    assert found.reason == "InsufficientGPU"


def test_insufficient_gpu_says_wanted_free_and_fitting() -> None:
    found = fit_of({"count": 2, "products": [A100, L4]}, wanted=5)
    assert found.reason == "InsufficientGPU"
    assert (found.free_on_matching, found.schedulable_replicas) == (6, 3)
    message = found.message
    assert "5 replica(s) x 2 nvidia.com/gpu" in message
    assert "6 free" in message and "3 replica(s) fit" in message
    assert "gpu-a100-0" in message and "gpu-l4-0" in message
    assert A100 in message and L4 in message


def test_no_matching_nodes_names_what_the_cluster_offers() -> None:
    found = fit_of({"products": ["NVIDIA-B200"], "minMemoryMiB": 150000})
    assert (found.reason, found.matching_nodes, found.schedulable_replicas) == (
        "NoMatchingNodes", [], 0)
    assert "NVIDIA-B200" in found.message and "150000 MiB" in found.message
    assert A100 in found.message and L4 in found.message


def test_no_gpu_nodes_at_all_is_said_plainly() -> None:
    found = fit(GPU(), 1, [node_gpu(node("cpu-0"))], {})
    assert found.reason == "NoMatchingNodes"
    assert found.message.endswith("none")


def test_gpu_available_says_how_many_fit_where() -> None:
    found = fit_of({"products": [L4]}, wanted=2)
    assert found.reason == "GPUAvailable"
    assert "2 replica(s) fit" in found.message and "gpu-l4-0" in found.message


# -- properties ------------------------------------------------------------------------

node_facts = st.builds(
    lambda i, ready, schedulable, product, memory, gpus, slices: NodeGPU(
        name=f"node-{i}", ready=ready, schedulable=schedulable, product=product,
        memory_mib=memory,
        allocatable={k: v for k, v in (("nvidia.com/gpu", gpus),
                                       ("nvidia.com/mig-1g.10gb", slices)) if v}),
    st.integers(0, 1000), st.booleans(), st.booleans(),
    st.sampled_from([A100, L4, H100, None]), st.one_of(st.none(), st.integers(0, 100_000)),
    st.integers(0, 8), st.integers(0, 7),
)
gpu_specs = st.one_of(
    st.builds(lambda count, products, memory: GPU.model_validate({
        "count": count, "products": products,
        **({"minMemoryMiB": memory} if memory else {})}),
        st.integers(1, 4), st.lists(st.sampled_from([A100, L4, H100]), unique=True, max_size=2),
        st.one_of(st.none(), st.integers(1, 100_000))),
    st.just(GPU.model_validate({"sharing": "mig", "migProfile": "1g.10gb"})),
)


@PROPERTIES
@given(gpu=gpu_specs, wanted=st.integers(1, 10),
       facts=st.lists(node_facts, max_size=6, unique_by=lambda n: n.name),
       taken=st.lists(st.integers(0, 8), max_size=6))
def test_fit_never_promises_more_than_the_gpus_allow(gpu: GPU, wanted: int,
                                                     facts: list[NodeGPU],
                                                     taken: list[int]) -> None:
    resource = gpu.resource_name()
    used = {n.name: {resource: t} for n, t in zip(facts, taken, strict=False)}
    found = fit(gpu, wanted, facts, used)
    total = sum(n.allocatable.get(resource, 0) for n in facts)
    assert found.schedulable_replicas <= total // gpu.count
    assert found.free_on_matching <= total
    eligible = {n.name for n in facts if n.ready and n.schedulable}
    assert set(found.matching_nodes) <= eligible
    assert found.matching_nodes == sorted(found.matching_nodes)
    expected_reason = ("NoMatchingNodes" if not found.matching_nodes else
                       "InsufficientGPU" if found.schedulable_replicas < wanted else
                       "GPUAvailable")
    assert found.reason == expected_reason
    if found.reason == "InsufficientGPU":
        assert f"needs {wanted} replica(s) x {gpu.count} {resource}" in found.message
        assert f"have {found.free_on_matching} free" in found.message
    if found.matching_nodes:
        assert f"{found.schedulable_replicas} replica(s) fit" in found.message


@PROPERTIES
@given(gpu=gpu_specs, facts=st.lists(node_facts, max_size=6, unique_by=lambda n: n.name),
       wanted=st.integers(1, 10))
def test_other_pods_can_only_lower_the_fit(gpu: GPU, facts: list[NodeGPU],
                                           wanted: int) -> None:
    resource = gpu.resource_name()
    idle = fit(gpu, wanted, facts, {})
    busy = fit(gpu, wanted, facts, {n.name: {resource: 1} for n in facts})
    assert busy.schedulable_replicas <= idle.schedulable_replicas
    assert busy.matching_nodes == idle.matching_nodes


def gpu_node(name: str = "a100-0", gpus: int = 4, ready: bool = True) -> NodeGPU:
    return NodeGPU(name=name, ready=ready, schedulable=True, product="NVIDIA-A100-SXM4-80GB",
                   memory_mib=81920, allocatable={"nvidia.com/gpu": gpus} if gpus else {})


@pytest.mark.parametrize(("event_type", "previous", "current", "matters"), [
    (None, None, gpu_node(), False),  # the initial listing
    ("MODIFIED", gpu_node(), gpu_node(), False),  # a heartbeat
    ("MODIFIED", gpu_node(), gpu_node(ready=False), True),
    ("MODIFIED", gpu_node(gpus=4), gpu_node(gpus=2), True),
    ("MODIFIED", gpu_node(gpus=4), gpu_node(gpus=0), True),  # lost its GPUs
    ("ADDED", None, gpu_node(), True),
    ("DELETED", gpu_node(), None, True),
    ("MODIFIED", gpu_node("cpu", gpus=0), gpu_node("cpu", gpus=0, ready=False), False),
])
def test_only_changes_in_gpu_facts_reconcile_gpu_services(
        event_type: str | None, previous: NodeGPU | None, current: NodeGPU | None,
        matters: bool) -> None:
    assert gpu_change_matters(event_type, previous, current) is matters


# -- the pods' nodeSelector; taints are the scheduler's --------------------------------------------

def test_a_node_selector_keeps_the_fit_to_the_nodes_it_selects() -> None:
    found = fit(GPU(), 3, inventory(), {}, node_selector={"topology.kubernetes.io/zone": "zone-b"})
    # zone-b holds the L4 node (its 2 GPUs), not the A100 one (4).
    assert (found.reason, found.matching_nodes, found.free_on_matching) == (
        "InsufficientGPU", ["gpu-l4-0"], 2)
    assert "nodeSelector topology.kubernetes.io/zone=zone-b" in found.message


def test_nodes_a_selector_leaves_out_are_named_when_none_is_left() -> None:
    found = fit(GPU(products=[A100]), 1, inventory(), {},
                node_selector={"topology.kubernetes.io/zone": "zone-b"})
    assert (found.reason, found.matching_nodes) == ("NoMatchingNodes", [])
    assert found.message.endswith(
        "(gpu-a100-0: nodeSelector topology.kubernetes.io/zone=zone-b: the node has "
        "topology.kubernetes.io/zone=zone-a; gpu-l4-0: product NVIDIA-L4)"), found.message


def test_no_matching_nodes_says_of_each_gpu_node_what_keeps_the_pods_off() -> None:
    # The L4 node is in the zone but has too little memory per GPU; the A100 node is
    # not in the zone.
    found = fit(GPU(minMemoryMiB=40960), 1, inventory(), {},
                node_selector={"topology.kubernetes.io/zone": "zone-b"})
    assert "gpu-l4-0: 23034 MiB per GPU" in found.message, found.message
    assert "gpu-a100-0: nodeSelector topology.kubernetes.io/zone=zone-b" in found.message


def test_taints_are_left_to_the_scheduler() -> None:
    # Admission may add tolerations the spec does not have; the GPU node's taint does
    # not take it out of the fit.
    assert fit(GPU(), 1, inventory(), {}, node_selector={}).reason == "GPUAvailable"


def test_a_label_change_alone_reconciles_no_gpu_service() -> None:
    before = node("gpu-a100-0")
    after = node("gpu-a100-0")
    after["metadata"]["labels"]["nvidia.com/gfd.timestamp"] = "1767225600"
    assert not gpu_change_matters("MODIFIED", node_gpu(before), node_gpu(after))
