"""The fake cluster's nodes (hack/nodes.yaml) as the API server returns them once Ready."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

NODES_FILE = Path(__file__).resolve().parents[3] / "hack" / "nodes.yaml"
_NODES: list[dict[str, Any]] = yaml.safe_load(NODES_FILE.read_text())["items"]
READY = {"type": "Ready", "status": "True", "reason": "KubeletReady"}


def node(name: str, *, ready: bool = True, unschedulable: bool = False) -> dict[str, Any]:
    """A Node from hack/nodes.yaml with the Ready condition kwok would give it."""
    found = copy.deepcopy(next(n for n in _NODES if n["metadata"]["name"] == name))
    status = found.setdefault("status", {})
    status["conditions"] = [{**READY, "status": "True" if ready else "False"}]
    if unschedulable:
        found.setdefault("spec", {})["unschedulable"] = True
    return found


def nodes(state: dict[str, dict[str, bool]] | None = None) -> list[dict[str, Any]]:
    """Every node of the fake cluster; `state` maps a name to node() keywords."""
    return [node(n["metadata"]["name"], **(state or {}).get(n["metadata"]["name"], {}))
            for n in _NODES]


def gpu_pod(node_name: str, limits: dict[str, str], phase: str = "Running",
            containers: int = 1) -> dict[str, Any]:
    """A pod bound to a node with these limits in each of its containers."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "team-b"},
        "spec": {"nodeName": node_name, "containers": [
            {"name": f"c{i}", "image": "x", "resources": {"limits": dict(limits)}}
            for i in range(containers)]},
        "status": {"phase": phase},
    }
