"""ToolService and ToolCatalog objects as the API server stores them, for the catalog's tests."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st

from .fixtures import tool

T1 = "2025-01-01T00:00:00Z"


def uid(kind: str, namespace: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{namespace}/{name}"))


def toolservice(name: str, namespace: str = "team-a", tools: list[str] | None = None, *,
                exposure: str = "public", ready: bool | None = True,
                labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A ToolService as the API server stores it; ready=None: not reconciled yet (no status)."""
    body: dict[str, Any] = {
        "apiVersion": "toolfleet.io/v1alpha1",
        "kind": "ToolService",
        "metadata": {"name": name, "namespace": namespace, "uid": uid("ts", namespace, name),
                     "labels": labels or {}, "generation": 1, "resourceVersion": "4711",
                     "creationTimestamp": T1},
        "spec": {"version": "1.0.0", "image": f"registry.example/{name}:1",
                 "access": {"exposure": exposure},
                 "tools": [tool(t, f"The {t} tool.") for t in (tools or ["lookup"])]},
    }
    if ready is not None:
        body["status"] = {"observedGeneration": 1, "conditions": [{
            "type": "Ready", "status": "True" if ready else "False",
            "reason": "ReplicasReady" if ready else "ReplicasNotReady",
            "message": "", "lastTransitionTime": T1, "observedGeneration": 1}]}
    return body


def toolcatalog(name: str, namespace: str = "team-a",
                spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ToolCatalog as the API server stores it."""
    return {
        "apiVersion": "toolfleet.io/v1alpha1",
        "kind": "ToolCatalog",
        "metadata": {"name": name, "namespace": namespace, "uid": uid("tc", namespace, name),
                     "generation": 1, "resourceVersion": "815"},
        "spec": {} if spec is None else spec,
    }


def toolservice_fleets(max_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Fleets of up to `max_size` ToolServices in two namespaces, with colliding tool
    names, both exposures, and readiness unknown, false or true."""
    return st.lists(
        st.builds(lambda name, namespace, tools, exposure, ready: toolservice(
            name, namespace, tools, exposure=exposure, ready=ready),
            st.sampled_from(["search", "forecast", "billing"]),
            st.sampled_from(["team-a", "team-b"]),
            st.lists(st.sampled_from(["find", "lookup", "predict"]), min_size=1, max_size=3,
                     unique=True),
            st.sampled_from(["public", "internal"]),
            st.one_of(st.none(), st.booleans())),
        max_size=max_size,
        unique_by=lambda b: (b["metadata"]["namespace"], b["metadata"]["name"]))
