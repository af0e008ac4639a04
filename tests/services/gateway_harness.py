"""A gateway in front of real service processes: the catalogs, the gateway process, helpers.

The catalogs are built exactly as the operator builds them, from the services'
own ToolService manifests (services/*/deploy), with `status.endpoint` set to
where the local process listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.model import Catalog, Endpoint
from toolfleet.catalog.source import ServiceEntry, entry_from_body
from toolfleet.gateway.app import Gateway, build_app, build_gateway
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.server.catalog import CatalogStore
from toolfleet_service.local import HOST, LocalService

ROOT = Path(__file__).resolve().parents[2]
READY = {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}
# A segment_customers that OpenAI can call in strict mode: closed records, optional
# k_min and seed that the service does not accept as null.
STRICT_SEGMENTS_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "records": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"customer_id": {"type": "string"}, "annual_spend": {"type": "number"},
                           "visits": {"type": "number"}, "channel": {"type": "string"}},
            "required": ["customer_id", "annual_spend", "visits", "channel"]}},
        "id_field": {"type": "string"},
        "k_min": {"type": "integer", "minimum": 2, "maximum": 20},
        "seed": {"type": "integer", "minimum": 0},
    },
    "required": ["records", "id_field"],
}


def manifest(service: str) -> dict[str, Any]:
    """The ToolService manifest a service ships (services/<service>/deploy)."""
    path = ROOT / "services" / service / "deploy" / "toolservice.yaml"
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def service_entry(service: str, url: str, *, name: str | None = None,
                  namespace: str = "team-a", protocol: str | None = None,
                  tools: list[dict[str, Any]] | None = None,
                  rollout: dict[str, Any] | None = None) -> ServiceEntry:
    """A ready ToolService from a shipped manifest, served at `url`, optionally renamed,
    moved, switched to another protocol, with other tools or a canary in progress."""
    body = manifest(service)
    body["metadata"] = {"name": name or body["metadata"]["name"], "namespace": namespace,
                        "labels": body["metadata"].get("labels", {})}
    if protocol is not None:
        body["spec"]["protocol"] = protocol
    if tools is not None:
        body["spec"]["tools"] = tools
    status: dict[str, Any] = {"conditions": [READY], "endpoint": url,
                              "stableVersion": body["spec"]["version"]}
    if rollout is not None:
        status["rollout"] = rollout
    body["status"] = status
    return entry_from_body(body, {}, cluster_domain="cluster.local")


def catalog_of(name: str, entries: Sequence[ServiceEntry]) -> Catalog:
    """A catalog of `entries` (all namespaces), collisions resolved by prefixing."""
    spec = ToolCatalogSpec.model_validate({"namespaceSelector": {},
                                           "collisionStrategy": "prefix"})
    return build_catalog(name, entries, spec, namespace=None)


def with_endpoints(catalog: Catalog, urls: Mapping[str, str]) -> Catalog:
    """The catalog with endpoint URLs replaced (in-cluster URL -> local URL)."""
    tools = [tool.model_copy(update={"endpoints": [
        Endpoint.model_validate({**e.model_dump(), "url": urls.get(e.url, e.url)})
        for e in tool.endpoints]}) for tool in catalog.tools]
    return catalog.model_copy(update={"tools": tools})


class StaticResolver:
    """Endpoint URL -> the local addresses behind it (several to stand for several pods)."""

    def __init__(self, addresses: Mapping[str, Sequence[str]]) -> None:
        self._addresses = addresses

    def addresses(self, endpoint: Endpoint) -> Sequence[str]:
        return self._addresses.get(endpoint.url, [endpoint.url])


def tiny_backend(name: str, **env: str) -> LocalService:
    """The tiny counting backend (tests/services/tiny_backend.py) as a process."""
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    return LocalService("tiny_backend", env={"TINY_NAME": name, "PYTHONPATH": path, **env})


class GatewayProcess(LocalService):
    """`python -m toolfleet.gateway --catalog ...` as a real process on a free port."""

    def __init__(self, catalogs: Sequence[Catalog], env: Mapping[str, str] | None = None) -> None:
        # No API server here to review callers with, unless a test brings one (e2e).
        super().__init__("toolfleet.gateway", env={"TOOLFLEET_GATEWAY_AUTH": "false",
                                                   **(env or {})})
        self._directory = tempfile.TemporaryDirectory(prefix="gateway-catalogs-")
        self.catalog_files = []
        for catalog in catalogs:
            path = Path(self._directory.name) / f"{catalog.name}.json"
            path.write_text(json.dumps(catalog.to_wire()))
            self.catalog_files.append(path)

    def start(self) -> GatewayProcess:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **self._extra_env}
        arguments = [a for path in self.catalog_files for a in ("--catalog", str(path))]
        with self._log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--host", HOST, "--port", str(self.port),
                 *arguments], env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def __exit__(self, *args: Any) -> None:
        try:
            super().__exit__(*args)
        finally:
            self._directory.cleanup()


def sample(metrics_text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for item in family.samples:
            if item.name == name and all(item.labels.get(k) == v for k, v in labels.items()):
                total += item.value
    return total


@contextlib.asynccontextmanager
async def gateway_in_process(catalogs: Sequence[Catalog], resolver: Any = None,
                             **settings: Any) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """A gateway app in this process (lifespan run), and an httpx client bound to it;
    authorization off unless `settings` say otherwise."""
    settings.setdefault("auth", False)
    store = CatalogStore()
    for catalog in catalogs:
        store.publish(catalog)
    store.mark_synced()
    gateway = build_gateway(store, GatewaySettings(**settings), resolver)
    app = build_app(gateway)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway",
                                     timeout=120) as client:
            yield gateway, client


def mcp_call(url: str, mode: str, work: Any) -> Any:
    """Run `work(client)` in one session of the mcp SDK's Client against `url`."""
    import anyio
    from mcp import Client

    async def main() -> Any:
        async with Client(url, mode=mode, read_timeout_seconds=60) as client:
            return await work(client)

    try:
        return anyio.run(main)
    except BaseExceptionGroup as group:
        # The client's task groups wrap the one error a test wants to see.
        leaves = list(group.exceptions)
        while len(leaves) == 1 and isinstance(leaves[0], BaseExceptionGroup):
            leaves = list(leaves[0].exceptions)
        if len(leaves) == 1:
            raise leaves[0] from group
        raise


class GatewayThread:
    """A gateway served by uvicorn on a thread of this process, so a test can change its
    catalogs (`store.publish` is thread-safe) while clients are connected. Authorization
    is off unless `settings` say otherwise."""

    def __init__(self, catalogs: Sequence[Catalog], **settings: Any) -> None:
        import uvicorn

        settings.setdefault("auth", False)
        from toolfleet_service.local import free_port

        self.store = CatalogStore()
        for catalog in catalogs:
            self.store.publish(catalog)
        self.store.mark_synced()
        app = build_app(build_gateway(self.store, GatewaySettings(**settings)))
        port = free_port()
        self.url = f"http://{HOST}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port,
                                                    log_level="warning", lifespan="on"))
        self._thread: Any = None

    def __enter__(self) -> GatewayThread:
        import threading

        from toolfleet_service.local import wait_until

        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        wait_until(lambda: self.server.started, 30, "the gateway thread serves")
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.should_exit = True
        self._thread.join(30)
