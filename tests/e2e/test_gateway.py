"""The gateway as the chart runs it: `toolfleet gateway` following what the operator publishes.

The operator publishes catalogs into ConfigMaps of the real API server; real
gateway processes follow them and call a plain MCP server (the `mcp` SDK
alone, no toolfleet code) running as a local process, since kwok's pods run
no code. `--resolve` maps the in-cluster address the catalog names to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.conftest import OPERATOR_NAMESPACE
from tests.e2e.support import REPO, Cluster, free_port, wait_until
from tests.services.gateway_harness import mcp_call

from toolfleet.resources.tracks import service_url
from toolfleet_service.local import LocalService

E2E = Path(__file__).resolve().parent
NAME = "lookup"


def plain_mcp_server(**env: str) -> LocalService:
    """tests/e2e/plain_mcp_server.py as a process: an ordinary MCP image, no metrics."""
    path = os.pathsep.join([str(E2E), os.environ.get("PYTHONPATH", "")])
    return LocalService("plain_mcp_server", env={"PYTHONPATH": path, **env})


def toolservice(namespace: str, version: str = "1.0.0", **spec: Any) -> dict[str, Any]:
    """A ToolService of the plain MCP server, exposed to every catalog."""
    return {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {"version": version, "image": f"toolfleet/plain-lookup:{version}",
                 "port": 8080, "protocol": "mcp", "access": {"exposure": "public"},
                 "tools": [{"name": "lookup", "description": "Look a key up.",
                            "inputSchema": {"type": "object", "required": ["key"],
                                            "properties": {"key": {"type": "string"}}},
                            "annotations": {"readOnlyHint": True}}],
                 **spec},
    }


class GatewayProcess:
    """`toolfleet gateway` as a process on a free port, with its log kept."""

    def __init__(self, cluster: Cluster, log_path: Path, operator_namespace: str,
                 resolve: dict[str, str], *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        mapping = [a for source, target in resolve.items()
                   for a in ("--resolve", f"{source}={target}")]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "toolfleet.cli", "gateway", "--host", "127.0.0.1",
                 "--port", str(self.port), "--operator-namespace", operator_namespace,
                 *mapping, *args],
                env={**cluster.env(), "PYTHONUNBUFFERED": "1"},
                stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, 60, "the gateway to serve /readyz")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the gateway exited {self.process.returncode}:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def call(gateway: str, catalog: str, key: str, timeout: float = 10) -> httpx.Response:
    """One OpenAI-shaped call of `lookup` through the gateway's /calls."""
    item = {"id": "call_1", "type": "function",
            "function": {"name": "lookup", "arguments": json.dumps({"key": key})}}
    return httpx.post(f"{gateway}/v1/catalogs/{catalog}/calls", params={"format": "openai"},
                      json=item, timeout=timeout)


def listed(gateway: str, catalog: str) -> list[str] | str:
    """The tool names of the catalog's MCP tools/list through the gateway, by the SDK's
    client; what went wrong instead, while the catalog is not served."""
    async def work(client: Any) -> Any:
        return await client.list_tools()

    try:
        result = mcp_call(f"{gateway}/mcp/{catalog}", "auto", work)
    except Exception as error:  # not served yet: the SDK raises what the gateway answered
        return f"{type(error).__name__}: {error}"
    return sorted(tool.name for tool in result.tools)


def wait_listed(gateway: str, catalog: str, expected: list[str], timeout: float,
                what: str) -> None:
    """Wait until the gateway lists exactly `expected` for `catalog`, naming what it said."""
    said: list[Any] = []

    def listed_now() -> bool:
        said[:] = [listed(gateway, catalog)]
        return said[0] == expected

    try:
        wait_until(listed_now, timeout, what)
    except AssertionError as error:
        served = httpx.get(f"{gateway}/readyz", timeout=5).text
        raise AssertionError(f"{error}; the gateway said: {said[0]!r}; it serves: {served}"
                             ) from None


@pytest.fixture
def published(cluster: Cluster, operator: Any, namespace: str) -> Iterator[tuple[str, str]]:
    """A Ready ToolService of the plain MCP server and a ToolCatalog selecting it.

    Yields (catalog name, in-cluster URL the catalog names for the service).
    """
    cluster.kubectl("apply", "-f", "-", input=json.dumps(toolservice(namespace)))
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
        "metadata": {"name": "tools", "namespace": namespace}, "spec": {}}))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s",
                    f"toolservice/{NAME}", timeout=70)
    # Published, as its status says, with the service in it.
    wait_until(lambda: cluster.get("toolcatalog", "tools", "-n", namespace).get(
        "status", {}).get("toolCount") == 1, 60, "the ToolCatalog to publish the service")
    yield f"{namespace}.tools", service_url(NAME, namespace, 8080, "cluster.local")


@pytest.fixture
def log_dir() -> Path:
    path = REPO / ".cluster" / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_gateway_serves_what_the_operator_publishes_and_follows_its_changes(
        cluster: Cluster, namespace: str, published: tuple[str, str], log_dir: Path) -> None:
    catalog, address = published
    with plain_mcp_server(PLAIN_VERSION="1.0.0") as backend:
        gateway = GatewayProcess(cluster, log_dir / f"gateway-{namespace}.log",
                                 OPERATOR_NAMESPACE, {address: backend.url}, "--no-auth")
        try:
            wait_listed(gateway.url, catalog, ["lookup"], 30, f"the gateway to serve {catalog}")
            answer = call(gateway.url, catalog, "abc")
            assert answer.status_code == 200, answer.text
            message = answer.json()  # one call in, one message out
            assert message["role"] == "tool" and message["tool_call_id"] == "call_1"
            assert json.loads(message["content"]) == {"key": "abc", "value": "ABC",
                                                      "version": "1.0.0"}

            # A tool added to the ToolService is served once the operator publishes it.
            spec = toolservice(namespace)["spec"]
            second = {**spec["tools"][0], "name": "lookup_again"}
            cluster.kubectl("patch", "toolservice", NAME, "-n", namespace, "--type=merge",
                            "-p", json.dumps({"spec": {"tools": [*spec["tools"], second]}}))
            wait_listed(gateway.url, catalog, ["lookup", "lookup_again"], 60,
                        "the gateway to serve the added tool")

            # A deleted ToolCatalog is no longer served: its calls are 404 with a hint.
            cluster.kubectl("delete", "toolcatalog", "tools", "-n", namespace)
            wait_until(lambda: call(gateway.url, catalog, "abc").status_code == 404, 60,
                       "the gateway to stop serving the deleted catalog")
            assert "published" in call(gateway.url, catalog, "abc").json()["error"]["message"]
        finally:
            gateway.stop()
    assert "Traceback" not in gateway.log()


def test_one_gateway_replica_killed_the_other_serves_every_call(
        cluster: Cluster, namespace: str, published: tuple[str, str], log_dir: Path) -> None:
    catalog, address = published
    with plain_mcp_server() as backend:
        replicas = [GatewayProcess(cluster, log_dir / f"gateway-{namespace}-{i}.log",
                                   OPERATOR_NAMESPACE, {address: backend.url}, "--no-auth")
                    for i in range(2)]
        try:
            for replica in replicas:
                wait_listed(replica.url, catalog, ["lookup"], 30,
                            "both replicas to serve the catalog")
            doomed, survivor = replicas
            # A router's calls spread over both replicas, as a Service spreads them, moving
            # to the other one when a connection is refused or cut (a dead endpoint; the
            # tool is read-only, so trying it again is safe).
            served: list[tuple[str, int]] = []
            stop = threading.Event()

            def keep_calling() -> None:
                turn = 0
                while not stop.is_set():
                    turn += 1
                    order = replicas if turn % 2 else replicas[::-1]
                    for replica in order:
                        try:
                            answer = call(replica.url, catalog, "k")
                        except httpx.TransportError:
                            continue
                        served.append((replica.url, answer.status_code))
                        break
                    else:
                        served.append(("none", 0))

            caller = threading.Thread(target=keep_calling)
            caller.start()
            try:
                wait_until(lambda: {url for url, _ in served} == {doomed.url, survivor.url},
                           30, "calls to reach both replicas")
                doomed.process.kill()  # SIGKILL: no draining, no goodbye
                doomed.process.wait(timeout=10)
                killed_at = len(served)
                wait_until(lambda: len(served) >= killed_at + 20, 30,
                           "twenty calls after the kill")
            finally:
                stop.set()
                caller.join(timeout=30)

            assert {status for _, status in served} == {200}, "every call answered"
            assert {url for url, _ in served[killed_at + 1:]} == {survivor.url}
        finally:
            for replica in replicas:
                replica.stop()


def test_the_gateway_calls_pods_by_the_addresses_in_their_endpointslices(
        cluster: Cluster, namespace: str, published: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from toolfleet.catalog.model import Endpoint
    from toolfleet.gateway.endpoints import EndpointSliceResolver
    from toolfleet.runtime import kube

    _, address = published
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setattr(kube, "_api_client", None)  # a client for this cluster
    resolver = EndpointSliceResolver()
    stop = resolver.follow()
    try:
        pods = cluster.get("pods", "-n", namespace, "-l", f"app.kubernetes.io/name={NAME}")
        ips = sorted(f"http://{p['status']['podIP']}:8080" for p in pods["items"]
                     if p["status"].get("podIP"))
        assert ips, "kwok gives every pod an address"
        stable = Endpoint(url=address, track="stable", version="1.0.0", weight=100, ready=True)
        wait_until(lambda: sorted(resolver.addresses(stable)) == ips, 30,
                   "the resolver to know the pods' addresses")
    finally:
        stop.set()
