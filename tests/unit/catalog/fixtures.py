"""Builders of catalog inputs shared by the catalog tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.source import ServiceEntry, entry_from_body

CORPUS_DIR = Path(__file__).parent / "corpus"
READY = {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}
NOT_READY = {**READY, "status": "False", "reason": "NoReplicas"}


def corpus() -> dict[str, dict[str, Any]]:
    """Every tool of the corpus, by file name."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(CORPUS_DIR.glob("*.json"))}


def tool(name: str = "lookup", description: str = "Look something up.",
         schema: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A tool as a user writes it in a ToolService spec."""
    return {"name": name, "description": description,
            "inputSchema": schema or {"type": "object", "properties": {"q": {"type": "string"}},
                                      "required": ["q"]},
            **extra}


def body(name: str = "svc", namespace: str = "team-a", tools: list[dict[str, Any]] | None = None,
         *, labels: dict[str, str] | None = None, exposure: str = "public", ready: bool = True,
         protocol: str = "http", version: str = "1.0.0",
         status: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ToolService object as the API server returns it."""
    return {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"version": version, "image": "registry.example/svc:1", "protocol": protocol,
                 "access": {"exposure": exposure}, "tools": tools or [tool()]},
        "status": status if status is not None else {
            "conditions": [READY if ready else NOT_READY]},
    }


def entry(name: str = "svc", namespace: str = "team-a",
          tools: list[dict[str, Any]] | None = None, *,
          namespace_labels: dict[str, str] | None = None, **kwargs: Any) -> ServiceEntry:
    """A catalog entry read from `body(...)`."""
    return entry_from_body(body(name, namespace, tools, **kwargs), namespace_labels or {},
                           cluster_domain="cluster.local")


def catalog_of(tools: list[dict[str, Any]], **spec: Any) -> Catalog:
    """A catalog of one ready public service offering these tools."""
    return build_catalog("test", [entry(tools=tools)], ToolCatalogSpec(**spec), "team-a")
