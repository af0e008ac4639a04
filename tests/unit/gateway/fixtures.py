"""Catalogs for the gateway's unit tests, built the way the operator builds them."""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.source import ServiceEntry, entry_from_body

READY = {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}
STRICT_SCHEMA = {"type": "object", "additionalProperties": False,
                 "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
                 "required": ["q"]}
LOOSE_SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}},
                "additionalProperties": True}


def tool(name: str, schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A tool as written in a ToolService spec."""
    return {"name": name, "description": f"The {name} tool.",
            "inputSchema": schema or STRICT_SCHEMA, **extra}


def entry(name: str, namespace: str, tools: list[dict[str, Any]], *,
          canary_weight: int | None = None, protocol: str = "http") -> ServiceEntry:
    """A ready public ToolService, with a canary at `canary_weight` when given."""
    status: dict[str, Any] = {"conditions": [READY], "stableVersion": "1.0.0",
                              "stableRevision": "st4ble0000"}
    if canary_weight is not None:
        status["rollout"] = {"revision": "c4n4ry0000", "version": "1.1.0",
                             "weight": canary_weight, "step": 0, "phase": "Progressing"}
    body = {"metadata": {"name": name, "namespace": namespace, "labels": {}},
            "spec": {"version": "1.1.0" if canary_weight is not None else "1.0.0",
                     "image": "registry.example/svc:1", "protocol": protocol,
                     "access": {"exposure": "public"}, "tools": tools},
            "status": status}
    return entry_from_body(body, {}, cluster_domain="cluster.local")


def catalog(name: str, *entries: ServiceEntry, strategy: str = "prefix") -> Catalog:
    """A catalog of every given service, collisions resolved by `strategy`."""
    spec = ToolCatalogSpec.model_validate({"namespaceSelector": {},
                                           "collisionStrategy": strategy})
    return build_catalog(name, entries, spec, namespace=None)
