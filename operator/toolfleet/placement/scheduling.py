"""What a GPU ToolService's pod needs to land on a matching node."""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolservice import GPU, ToolServiceSpec

PRODUCT_LABEL = "nvidia.com/gpu.product"
MEMORY_LABEL = "nvidia.com/gpu.memory"
GPU_TAINT_KEY = "nvidia.com/gpu"


def gpu_limits(gpu: GPU) -> dict[str, str]:
    """The extended-resource limit for one replica (requests default to limits)."""
    return {gpu.resource_name(): str(gpu.count)}


def gpu_node_affinity(gpu: GPU) -> dict[str, Any] | None:
    """Required node affinity over GPU product and memory labels, or None if any node will do."""
    expressions: list[dict[str, Any]] = []
    if gpu.products:
        expressions.append({"key": PRODUCT_LABEL, "operator": "In",
                            "values": sorted(gpu.products)})
    if gpu.min_memory_mi_b is not None:
        # Gt is strict and compares the label as an integer.
        expressions.append({"key": MEMORY_LABEL, "operator": "Gt",
                            "values": [str(gpu.min_memory_mi_b - 1)]})
    if not expressions:
        return None
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": expressions}]}}}


def gpu_tolerations() -> list[dict[str, Any]]:
    """Tolerate the taint NVIDIA's tooling puts on GPU nodes."""
    return [{"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}]


def pod_tolerations(spec: ToolServiceSpec) -> list[dict[str, Any]]:
    """The pods' tolerations: the GPU taint's (for a GPU service), then the user's, each once."""
    tolerations = gpu_tolerations() if spec.gpu is not None else []
    for toleration in spec.tolerations:
        wire = toleration.to_wire()
        if wire not in tolerations:
            tolerations.append(wire)
    return tolerations
