"""The GPU inventory of the cluster's nodes, and which of them can run a ToolService."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolfleet.api.toolservice import GPU
from toolfleet.placement.scheduling import MEMORY_LABEL, PRODUCT_LABEL

GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-")


@dataclass(frozen=True)
class NodeGPU:
    """What one node offers in GPUs, as its labels and allocatable say."""

    name: str
    ready: bool
    schedulable: bool
    product: str | None
    memory_mib: int | None
    allocatable: Mapping[str, int] = field(default_factory=dict)
    # Not compared: a node's labels change often (GPU feature discovery stamps a time),
    # and only the GPU facts above decide whether GPU services are reconciled again.
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)

    def keeps_off(self, node_selector: Mapping[str, str]) -> str | None:
        """Why a pod with this nodeSelector may not be placed here ("nodeSelector pool=a:
        the node has pool=b"), or None when its labels match."""
        for key, value in sorted(node_selector.items()):
            if self.labels.get(key) != value:
                has = (f"the node has {key}={self.labels[key]}" if key in self.labels
                       else "the node has no such label")
                return f"nodeSelector {key}={value}: {has}"
        return None


@dataclass(frozen=True)
class Fit:
    """How a GPU ToolService fits the cluster right now."""

    resource: str
    per_replica: int
    matching_nodes: list[str]
    free_on_matching: int
    schedulable_replicas: int
    reason: str
    message: str


def _quantity(raw: Any) -> int:
    try:
        return int(str(raw))
    except ValueError:
        return 0


def node_gpu(node: Mapping[str, Any]) -> NodeGPU:
    """The GPU facts of a Node object."""
    meta = node.get("metadata", {})
    labels = meta.get("labels") or {}
    status = node.get("status") or {}
    conditions = status.get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    allocatable = {k: _quantity(v) for k, v in (status.get("allocatable") or {}).items()
                   if k.startswith(GPU_RESOURCE_PREFIXES)}
    memory = labels.get(MEMORY_LABEL)
    return NodeGPU(
        name=meta.get("name", ""),
        ready=ready,
        schedulable=not (node.get("spec") or {}).get("unschedulable", False),
        product=labels.get(PRODUCT_LABEL),
        memory_mib=int(memory) if memory and memory.isdigit() else None,
        allocatable=allocatable,
        labels={str(k): str(v) for k, v in labels.items()},
    )


def pod_gpu_usage(pod: Mapping[str, Any]) -> dict[str, int]:
    """GPU resources a pod holds on its node (zero once it has finished)."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return {}
    used: dict[str, int] = {}
    for container in (pod.get("spec") or {}).get("containers") or []:
        limits = (container.get("resources") or {}).get("limits") or {}
        for key, value in limits.items():
            if key.startswith(GPU_RESOURCE_PREFIXES):
                used[key] = used.get(key, 0) + _quantity(value)
    return used


def node_matches(gpu: GPU, node: NodeGPU) -> bool:
    """Whether the node's labels satisfy the service's GPU product and memory constraints."""
    if gpu.products and node.product not in gpu.products:
        return False
    if gpu.min_memory_mi_b is not None and (node.memory_mib or 0) < gpu.min_memory_mi_b:
        return False
    return node.allocatable.get(gpu.resource_name(), 0) > 0


def fit(gpu: GPU, wanted_replicas: int, nodes: Iterable[NodeGPU],
        used: Mapping[str, Mapping[str, int]], *,
        node_selector: Mapping[str, str] | None = None) -> Fit:
    """How many replicas of the service fit now, on which nodes, and why not if too few.

    `used` maps node name to GPU resources held by pods *other than this service's*,
    so the service's own running replicas count as fitting. `node_selector` is the
    pods': a node whose labels do not match it does not count. Taints are not
    weighed: tolerations can be added after the spec (by admission plugins such as
    ExtendedResourceToleration or PodTolerationRestriction, or by webhooks), so the
    spec's own cannot say which tainted nodes the pods reach; the scheduler's
    message (`Unschedulable`) does.
    """
    resource = gpu.resource_name()
    candidates = [n for n in nodes if n.ready and n.schedulable]
    placeable = [n for n in candidates if n.keeps_off(node_selector or {}) is None]
    matching = [n for n in placeable if node_matches(gpu, n)]
    free = {n.name: max(0, n.allocatable.get(resource, 0) - used.get(n.name, {}).get(resource, 0))
            for n in matching}
    replicas = sum(f // gpu.count for f in free.values())
    names = sorted(free)
    wants = f"{wanted_replicas} replica(s) x {gpu.count} {resource}"
    constraint = _describe(gpu, node_selector or {})
    if not matching:
        offered = sorted({n.product or "unlabelled" for n in candidates
                          if n.allocatable.get(resource, 0) > 0})
        why = [f"{n.name}: {_why_not(gpu, n, node_selector or {})}"
               for n in sorted(candidates, key=lambda n: n.name)
               if n.allocatable.get(resource, 0) > 0]
        return Fit(resource, gpu.count, [], 0, 0, "NoMatchingNodes",
                   f"no Ready node offers {resource}{constraint}; nodes with {resource}: "
                   f"{', '.join(offered) or 'none'}" + (f" ({'; '.join(why)})" if why else ""))
    total_free = sum(free.values())
    if replicas < wanted_replicas:
        return Fit(resource, gpu.count, names, total_free, replicas, "InsufficientGPU",
                   f"needs {wants}{constraint}; {len(names)} matching node(s) "
                   f"({', '.join(names)}) have {total_free} free, so {replicas} replica(s) fit")
    return Fit(resource, gpu.count, names, total_free, replicas, "GPUAvailable",
               f"{replicas} replica(s) fit on {len(names)} matching node(s) "
               f"({', '.join(names)}); needs {wants}")


def _why_not(gpu: GPU, node: NodeGPU, node_selector: Mapping[str, str]) -> str:
    """Why a Ready node with the GPU resource cannot take the pods (it has no room for none)."""
    if gpu.products and node.product not in gpu.products:
        return f"product {node.product or 'unlabelled'}"
    if gpu.min_memory_mi_b is not None and (node.memory_mib or 0) < gpu.min_memory_mi_b:
        return f"{node.memory_mib or 0} MiB per GPU"
    return node.keeps_off(node_selector) or "no room"


def _describe(gpu: GPU, node_selector: Mapping[str, str]) -> str:
    parts = []
    if gpu.products:
        parts.append(f"product in [{', '.join(sorted(gpu.products))}]")
    if gpu.min_memory_mi_b is not None:
        parts.append(f"memory >= {gpu.min_memory_mi_b} MiB")
    if node_selector:
        parts.append("nodeSelector " + ", ".join(f"{k}={v}"
                                                 for k, v in sorted(node_selector.items())))
    return f" ({'; '.join(parts)})" if parts else ""


def gpu_change_matters(event_type: str | None, previous: NodeGPU | None,
                       current: NodeGPU | None) -> bool:
    """Whether a Node watch event changes what GPU services can be scheduled.

    `event_type` is the watch's (None for the initial listing, which reconciles
    nothing: the ToolServices' own listing does). Nodes report heartbeats all
    the time, so only a change in GPU facts matters, and only for a node that
    offers GPUs, offered them before, or is gone.
    """
    if event_type is None or previous == current:
        return False
    return current is None or bool(current.allocatable) or bool(
        previous is not None and previous.allocatable)
