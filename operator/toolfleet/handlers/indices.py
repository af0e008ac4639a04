"""kopf indices: what the reconciles read of Nodes, GPU pods and ToolServices, kept by the watches.

An index is read with `runtime.indices.index_values`, which copies it safely
while its watch changes it.
"""

from __future__ import annotations

from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolservice import PLURAL
from toolfleet.placement.inventory import NodeGPU, node_gpu, pod_gpu_usage
from toolfleet.resources.meta import SERVICE_LABEL


@kopf.index("nodes")
def gpu_nodes(body: kopf.Body, **_: Any) -> dict[str, NodeGPU]:
    """Node name to its GPU facts, for nodes that offer any GPU resource."""
    facts = node_gpu(body)
    return {facts.name: facts} if facts.allocatable else {}


@kopf.index("pods", field="spec.nodeName", value=kopf.PRESENT)
def gpu_pods(body: kopf.Body, spec: kopf.Spec, labels: kopf.Labels,
             **_: Any) -> dict[str, tuple[str, str, dict[str, int]]]:
    """Node name to (namespace, owning ToolService, GPU resources) of each GPU pod on it."""
    used = pod_gpu_usage(body)
    if not used:
        return {}
    return {spec["nodeName"]: (body.metadata.namespace or "", labels.get(SERVICE_LABEL, ""), used)}


@kopf.index(GROUP, VERSION, PLURAL)
def toolservices(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) to the latest ToolService body."""
    return {(body.metadata.namespace or "", body.metadata.name or ""): dict(body)}
