"""kopf indices: what the reconciles read of Nodes, pods, ToolServices and their children,
kept by the watches.

An index is read with `runtime.indices.index_values`, which copies it safely
while its watch changes it. ToolServices and their children are read through
`runtime.kube.get` (runtime/cache.py), which `CHILD_INDICES` tells where each kind is.
Objects are kept without metadata.managedFields (`runtime.cache.slim`), and pods and
children as compact JSON (`runtime.cache.pack`): a fleet keeps several per ToolService.
"""

from __future__ import annotations

from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolservice import PLURAL
from toolfleet.placement.inventory import NodeGPU, node_gpu, pod_gpu_usage
from toolfleet.resources.meta import MANAGED_BY, SERVICE_LABEL
from toolfleet.runtime.cache import pack, slim

# The children of a ToolService: what the operator applied, and only that.
OWNED: dict[str, Any] = {
    "app.kubernetes.io/managed-by": MANAGED_BY, SERVICE_LABEL: kopf.PRESENT}


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


@kopf.index("pods", labels={SERVICE_LABEL: kopf.PRESENT})
def service_pods(body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, ToolService) to each of its pods: which versions serve, why pods are not
    ready (status.pods), read by every reconcile without listing pods again."""
    return {(body.metadata.namespace or "", labels[SERVICE_LABEL]): pack(body)}


def _by_name(body: kopf.Body) -> dict[tuple[str, str], str]:
    return {(body.metadata.namespace or "", body.metadata.name or ""): pack(body)}


@kopf.index(GROUP, VERSION, PLURAL)
def toolservices(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) to the latest ToolService body (as dicts: the catalog reads them all
    at each publish)."""
    return {(body.metadata.namespace or "", body.metadata.name or ""): slim(body)}


@kopf.index("", "v1", "serviceaccounts", labels=OWNED)
def owned_serviceaccounts(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each ServiceAccount of a ToolService."""
    return _by_name(body)


@kopf.index("apps", "v1", "deployments", labels=OWNED)
def owned_deployments(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each Deployment of a ToolService (stable and canary)."""
    return _by_name(body)


@kopf.index("", "v1", "services", labels=OWNED)
def owned_services(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each Service of a ToolService."""
    return _by_name(body)


@kopf.index("autoscaling", "v2", "horizontalpodautoscalers", labels=OWNED)
def owned_hpas(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each HorizontalPodAutoscaler of a ToolService."""
    return _by_name(body)


@kopf.index("policy", "v1", "poddisruptionbudgets", labels=OWNED)
def owned_pdbs(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each PodDisruptionBudget of a ToolService."""
    return _by_name(body)


@kopf.index("networking.k8s.io", "v1", "networkpolicies", labels=OWNED)
def owned_networkpolicies(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each NetworkPolicy of a ToolService."""
    return _by_name(body)


@kopf.index("", "v1", "configmaps", labels=OWNED)
def owned_configmaps(body: kopf.Body, **_: Any) -> dict[tuple[str, str], str]:
    """(namespace, name) to each ConfigMap of a ToolService (its revisions)."""
    return _by_name(body)


# Kind to the index holding it, by (namespace, name); HTTPRoutes are read from the API
# (their CRD may not be installed, and then there is no watch).
CHILD_INDICES = {
    "ToolService": "toolservices", "ServiceAccount": "owned_serviceaccounts",
    "Deployment": "owned_deployments", "Service": "owned_services",
    "HorizontalPodAutoscaler": "owned_hpas", "PodDisruptionBudget": "owned_pdbs",
    "NetworkPolicy": "owned_networkpolicies", "ConfigMap": "owned_configmaps",
}
