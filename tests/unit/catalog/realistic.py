"""Large catalogs that look like real ones, for size tests and benchmarks.

Tools with descriptions of a few hundred characters (some non-ASCII), input
schemas with nested objects, enums, arrays of objects and $defs, output
schemas, annotations, and stable and canary endpoints. Generated from a seed,
so equal arguments give equal catalogs; built straight from the model, without
the validation a ToolService goes through, so thousands take a fraction of a
second.
"""

from __future__ import annotations

import random
from typing import Any

from toolfleet.api.toolservice import ToolAnnotations
from toolfleet.catalog.model import Catalog, CatalogTool, Endpoint, hash_tools

WORDS = [
    "account", "amount", "archive", "balance", "batch", "booking", "calendar", "cancel", "cargo",
    "catalog", "city", "classify", "cluster", "comment", "compute", "container", "contract",
    "currency", "customer", "dataset", "date", "deadline", "delivery", "destination", "document",
    "download", "duration", "email", "embedding", "endpoint", "estimate", "event", "export",
    "feature", "file", "filter", "flight", "forecast", "geometry", "image", "index", "inventory",
    "invoice", "issue", "journey", "label", "language", "latency", "ledger", "limit", "listing",
    "locale", "location", "message", "metric", "model", "notify", "order", "page", "passenger",
    "payment", "pipeline", "policy", "price", "priority", "product", "project", "query", "queue",
    "rate", "record", "region", "report", "request", "reservation", "resource", "result", "route",
    "schedule", "score", "search", "segment", "sensor", "session", "shipment", "signal",
    "snapshot", "source", "status", "stock", "subscription", "summary", "supplier", "table",
    "tenant", "threshold", "ticket", "timezone", "token", "topic", "transaction", "translate",
    "upload", "user", "vector", "vehicle", "warehouse", "weather", "window", "workflow", "zone"
]
# Text in other scripts, so renderings hold multi-byte UTF-8 characters.
ACCENTED = ["café", "Zürich", "São Paulo", "naïve", "€ 12,50", "東京", "Ωmega", "👍"]


def realistic_catalog(tools: int, *, name: str = "default", seed: int = 0) -> Catalog:
    """A catalog of `tools` tools from 1 + tools // 20 services."""
    rng = random.Random(seed)
    published = [_tool(rng, index) for index in range(tools)]
    published.sort(key=lambda tool: tool.name)
    return Catalog(name=name, hash=hash_tools(published), tools=published)


def _sentence(rng: random.Random, words: int) -> str:
    chosen = [rng.choice(WORDS) for _ in range(words)]
    if rng.random() < 0.3:
        chosen.insert(rng.randrange(len(chosen)), rng.choice(ACCENTED))
    return " ".join(chosen).capitalize() + "."


def _description(rng: random.Random, low: int, high: int) -> str:
    target = rng.randint(low, high)
    text = ""
    while len(text) < target:
        text += (" " if text else "") + _sentence(rng, rng.randint(6, 14))
    return text


def _leaf(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(["string", "enum", "integer", "number", "boolean", "date", "pattern"])
    schema: dict[str, Any]
    if kind == "enum":
        schema = {"type": "string",
                  "enum": sorted({rng.choice(WORDS) for _ in range(rng.randint(2, 8))})}
    elif kind == "integer":
        low = rng.randint(0, 100)
        schema = {"type": "integer", "minimum": low, "maximum": low + rng.randint(1, 10000)}
    elif kind == "number":
        schema = {"type": "number", "minimum": 0, "exclusiveMaximum": rng.randint(1, 1000)}
    elif kind == "date":
        schema = {"type": "string", "format": rng.choice(["date", "date-time", "email"])}
    elif kind == "pattern":
        schema = {"type": "string", "pattern": "^[A-Z]{2}[0-9]{2,6}$", "maxLength": 8}
    else:
        schema = {"type": kind}
    if rng.random() < 0.5:
        schema["description"] = _description(rng, 20, 100)
    return schema


def _object(rng: random.Random, depth: int, properties: int) -> dict[str, Any]:
    names = sorted({f"{rng.choice(WORDS)}_{rng.choice(WORDS)}" for _ in range(properties)})
    props: dict[str, Any] = {}
    for name in names:
        roll = rng.random()
        if depth > 0 and roll < 0.2:
            props[name] = _object(rng, depth - 1, rng.randint(2, 5))
        elif depth > 0 and roll < 0.35:
            props[name] = {"type": "array", "maxItems": rng.randint(5, 100),
                           "items": _object(rng, depth - 1, rng.randint(2, 4)),
                           "description": _description(rng, 40, 120)}
        elif roll < 0.45:
            props[name] = {"type": "array", "items": _leaf(rng), "uniqueItems": True}
        else:
            props[name] = _leaf(rng)
    required = sorted(name for name in names if rng.random() < 0.5)
    schema: dict[str, Any] = {"type": "object", "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _tool(rng: random.Random, index: int) -> CatalogTool:
    service = f"svc-{index // 20:03d}"
    namespace = f"team-{index // 200}"
    schema = _object(rng, depth=2, properties=rng.randint(3, 8))
    if rng.random() < 0.3:
        schema["$defs"] = {"Money": {"type": "object", "properties": {
            "amount": {"type": "number"}, "currency": {"type": "string",
                                                       "enum": ["EUR", "GBP", "JPY", "USD"]}},
            "required": ["amount", "currency"], "additionalProperties": False}}
        schema["properties"]["price_limit"] = {"$ref": "#/$defs/Money"}
    canary = rng.random() < 0.2
    base = f"http://{service}.{namespace}.svc.cluster.local:8080"
    endpoints = [Endpoint(url=base, track="stable", version="1.4.2", weight=90 if canary else 100,
                          ready=True)]
    if canary:
        endpoints.append(Endpoint(url=f"http://{service}-canary.{namespace}.svc.cluster.local"
                                  ":8080", track="canary", version="1.5.0", weight=10,
                                  ready=True))
    name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{index:04d}"
    return CatalogTool(
        name=name, service_tool_name=name, title=_sentence(rng, 3).rstrip("."),
        description=_description(rng, 150, 450), input_schema=schema,
        output_schema=_object(rng, depth=1, properties=rng.randint(1, 4)),
        annotations=ToolAnnotations(read_only_hint=rng.random() < 0.5,
                                    idempotent_hint=rng.random() < 0.5),
        timeout_seconds=rng.choice([10, 30, 60]), service=service, namespace=namespace,
        exposure="public", versions=[e.version for e in endpoints], endpoints=endpoints,
        ready=True, protocol="http", path=f"/tools/{name}",
    )
