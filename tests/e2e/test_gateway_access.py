"""Who may call what, by the real API server's RBAC: a ServiceAccount bound to one catalog,
a real gateway process in front of a real tool service, and the operator's catalog endpoint
with TOOLFLEET_CATALOG_AUTH=true.

The platform team's steps, as the README gives them: a Role granting verb `call` on
toolcatalogs.toolfleet.io with resourceNames [granted], a RoleBinding to the
ServiceAccount `router`, and a ClusterRole + ClusterRoleBinding for the built-in
`default` catalog. The router's token comes from `kubectl create token`. In each case
`kubectl auth can-i` gives the gateway's answer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from tests.e2e.conftest import fresh_namespace, start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, free_port, wait_until
from tests.services.gateway_harness import GatewayProcess, catalog_of, tiny_backend

from toolfleet.catalog.source import ServiceEntry, entry_from_body

READY = {"type": "Ready", "status": "True", "reason": "Available",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}
ECHO = {"id": "call_1", "type": "function",
        "function": {"name": "echo", "arguments": "{\"text\": \"hello\"}"}}


@dataclass(frozen=True)
class Access:
    cluster: Cluster
    namespace: str
    token: str
    gateway: GatewayProcess

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:router"

    @property
    def granted(self) -> str:
        return f"{self.namespace}.granted"

    @property
    def other(self) -> str:
        return f"{self.namespace}.other"

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def calls(self, catalog: str, body: Any, headers: dict[str, str] | None = None
              ) -> httpx.Response:
        return httpx.post(f"{self.gateway.url}/v1/catalogs/{catalog}/calls",
                          params={"format": "openai"}, json=body, headers=headers, timeout=60)

    def mcp_post(self, catalog: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """An MCP initialize, as a client opens a connection."""
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}}}
        return httpx.post(f"{self.gateway.url}/mcp/{catalog}", json=body, timeout=60,
                          headers={"Accept": "application/json, text/event-stream",
                                   **(headers or {})})

    def can_i(self, catalog: str) -> bool:
        """`kubectl auth can-i` for the router, with the README's mapping of `catalog`."""
        if catalog == "default":
            where = ["-A"]
            name = "default"
        else:
            namespace, name = catalog.split(".", 1)
            where = ["-n", namespace]
        answer = self.cluster.kubectl("auth", "can-i", "call",
                                      f"toolcatalogs.toolfleet.io/{name}", *where,
                                      "--as", self.username, check=False)
        assert answer.stdout.strip() in ("yes", "no"), answer.stderr
        return answer.stdout.strip() == "yes"


def apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                           "items": list(objects)}))


def grant_catalog(namespace: str, catalog: str, serviceaccount: str) -> list[dict[str, Any]]:
    """The Role and RoleBinding that let `serviceaccount` call ToolCatalog `catalog`."""
    role = f"call-{catalog}"
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": role, "namespace": namespace},
         "rules": [{"apiGroups": ["toolfleet.io"], "resources": ["toolcatalogs"],
                    "resourceNames": [catalog], "verbs": ["call"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": role, "namespace": namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
         "subjects": [{"kind": "ServiceAccount", "name": serviceaccount,
                       "namespace": namespace}]},
    ]


def grant_default(name: str, namespace: str, serviceaccount: str) -> list[dict[str, Any]]:
    """The ClusterRole and ClusterRoleBinding that let `serviceaccount` call `default`."""
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name},
         "rules": [{"apiGroups": ["toolfleet.io"], "resources": ["toolcatalogs"],
                    "resourceNames": ["default"], "verbs": ["call"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": serviceaccount,
                       "namespace": namespace}]},
    ]


def echo_entry(name: str, namespace: str, url: str, tool: str) -> ServiceEntry:
    """A ready ToolService served by the tiny backend at `url`, its tool `tool` echoing."""
    body = {"metadata": {"name": name, "namespace": namespace},
            "spec": {"version": "1.0.0", "image": "tiny:1", "access": {"exposure": "public"},
                     "tools": [{"name": tool, "description": f"{tool}, echoing its input.",
                                "path": "/tools/echo", "inputSchema": {"type": "object"},
                                "timeoutSeconds": 10}]},
            "status": {"conditions": [READY], "endpoint": url, "stableVersion": "1.0.0",
                       "stableRevision": "st4ble"}}
    return entry_from_body(body, {}, cluster_domain="cluster.local")


@pytest.fixture(scope="module")
def access(cluster: Cluster, crds: None) -> Iterator[Access]:
    # ro-: the session operator stays out; the operator test runs its own here.
    with fresh_namespace(cluster, "ro-") as namespace:
        cluster_role = f"toolfleet-call-default-{uuid.uuid4().hex[:8]}"
        cluster.kubectl("create", "serviceaccount", "router", "-n", namespace)
        apply(cluster, *grant_catalog(namespace, "granted", "router"),
              *grant_default(cluster_role, namespace, "router"))
        token = cluster.kubectl("create", "token", "router", "-n", namespace,
                                "--duration=1h").stdout.strip()
        try:
            with tiny_backend("access") as backend:
                catalogs = [
                    catalog_of(f"{namespace}.granted",
                               [echo_entry("echo", namespace, backend.url, "echo")]),
                    catalog_of(f"{namespace}.other",
                               [echo_entry("vault", namespace, backend.url, "secret")]),
                    catalog_of("default", [echo_entry("echo", namespace, backend.url,
                                                      "echo")]),
                ]
                env = {"TOOLFLEET_GATEWAY_AUTH": "true",
                       "KUBECONFIG": str(cluster.kubeconfig)}
                with GatewayProcess(catalogs, env=env) as gateway:
                    yield Access(cluster, namespace, token, gateway)
        finally:
            for kind in ("clusterrolebinding", "clusterrole"):
                cluster.kubectl("delete", kind, cluster_role, "--ignore-not-found",
                                check=False)


def mcp_session(access: Access, catalog: str) -> tuple[list[str], Any]:
    """The tools an mcp SDK client lists on `catalog`, and its call of `echo`."""

    async def main() -> tuple[list[str], Any]:
        async with httpx2.AsyncClient(headers=access.bearer(), timeout=60) as http, Client(
                streamable_http_client(f"{access.gateway.url}/mcp/{catalog}", http_client=http),
                read_timeout_seconds=60) as client:
            listed = await client.list_tools()
            called = await client.call_tool("echo", {"text": "hello"})
            return [t.name for t in listed.tools], called

    return anyio.run(main)


def test_the_bound_serviceaccount_lists_and_calls_its_catalog_over_mcp(access: Access) -> None:
    assert access.can_i(access.granted)
    names, called = mcp_session(access, access.granted)
    assert names == ["echo"]
    assert not called.is_error
    assert called.structured_content["arguments"] == {"text": "hello"}


def test_the_bound_serviceaccount_calls_its_catalog_through_calls(access: Access) -> None:
    response = access.calls(access.granted, ECHO, access.bearer())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["role"] == "tool" and answer["tool_call_id"] == "call_1"
    assert json.loads(answer["content"])["arguments"] == {"text": "hello"}


def test_the_same_serviceaccount_gets_403_on_another_catalog(access: Access) -> None:
    assert not access.can_i(access.other)
    call = access.calls(access.other, {**ECHO, "function": {"name": "secret",
                                                            "arguments": "{}"}},
                        access.bearer())
    assert call.status_code == 403
    assert call.json()["error"]["type"] == "permission_error"
    assert f"kubectl auth can-i call toolcatalogs.toolfleet.io/other -n {access.namespace}" \
        in call.json()["error"]["hint"]
    listing = access.mcp_post(access.other, access.bearer())
    assert listing.status_code == 403
    assert listing.json()["error"]["message"] == \
        f"{access.username} may not call catalog '{access.other}'"
    assert "secret" not in listing.text


def test_no_token_gets_401_and_a_forged_one_too(access: Access) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        call = access.calls(access.granted, ECHO, headers)
        assert call.status_code == 401
        assert call.headers["WWW-Authenticate"].startswith("Bearer")
        assert call.json()["error"]["type"] == "authentication_error"
        mcp = access.mcp_post(access.granted, headers)
        assert mcp.status_code == 401
        assert mcp.headers["WWW-Authenticate"].startswith("Bearer")
        assert mcp.json()["jsonrpc"] == "2.0" and mcp.json()["error"]["message"]


def test_a_tool_outside_the_catalog_gets_404_though_another_catalog_has_it(
        access: Access) -> None:
    call = access.calls(access.granted, {**ECHO, "function": {"name": "secret",
                                                              "arguments": "{}"}},
                        access.bearer())
    assert call.status_code == 404
    assert call.json()["error"]["message"] == f"catalog '{access.granted}' has no tool 'secret'"


def test_the_default_catalog_is_granted_by_a_cluster_role(access: Access) -> None:
    assert access.can_i("default")
    response = access.calls("default", ECHO, access.bearer())
    assert response.status_code == 200, response.text


def test_the_gateway_answers_as_kubectl_auth_can_i_for_every_catalog(access: Access) -> None:
    for catalog in (access.granted, access.other, "default",
                    f"{access.namespace}.nothing"):
        response = access.calls(catalog, ECHO, access.bearer())
        allowed = response.status_code not in (401, 403)
        assert allowed == access.can_i(catalog), (catalog, response.text)


def test_the_audit_log_names_the_serviceaccount(access: Access) -> None:
    access.calls(access.granted, ECHO, access.bearer())
    mcp_session(access, access.granted)
    lines = [line for line in access.gateway.output().splitlines()
             if f"catalog={access.granted} tool=echo" in line]
    assert lines and all(f"consumer={access.username} " in line for line in lines)
    assert access.token not in access.gateway.output()


def toolservice(name: str, tool: str) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
            "metadata": {"name": name, "labels": {"catalog": name}},
            "spec": {"version": "1.0.0", "image": f"toolfleet/{name}:1.0.0",
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
                     "access": {"exposure": "public"},
                     "tools": [{"name": tool, "description": f"{tool}, for the test.",
                                "inputSchema": {"type": "object"}}]}}


def toolcatalog(name: str, service: str) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"catalog": service}}}}


@pytest.fixture(scope="module")
def catalog_operator(access: Access) -> Iterator[Operator]:
    """An operator of the test's namespace, its catalog endpoint under RBAC."""
    cluster, namespace = access.cluster, access.namespace
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    operator = start_operator(cluster, log_dir / f"operator-{namespace}.log",
                              extra_env={"TOOLFLEET_NAMESPACE": namespace,
                                         "TOOLFLEET_CATALOG_AUTH": "true"},
                              args=("--namespace", namespace))
    try:
        for service, catalog in (("echo", "granted"), ("vault", "other")):
            for obj in (toolservice(service, f"{service}_tool"), toolcatalog(catalog, service)):
                cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))

        def published() -> bool:
            response = httpx.get(f"{operator.url}/v1/catalogs/{access.granted}",
                                 headers=access.bearer(), timeout=10)
            return response.status_code == 200 and "echo_tool" in response.text

        wait_until(published, 90, f"catalog {access.granted} on the operator's endpoint")
        yield operator
    finally:
        stop_operator(operator)


def test_the_operator_endpoint_obeys_the_same_rule(access: Access,
                                                   catalog_operator: Operator) -> None:
    url = f"{catalog_operator.url}/v1/catalogs"
    anonymous = httpx.get(f"{url}/{access.granted}", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert sorted(anonymous.json()) == ["error", "hint"]
    other = httpx.get(f"{url}/{access.other}", headers=access.bearer(), timeout=10)
    assert other.status_code == 403
    assert "vault_tool" not in other.text
    events = httpx.get(f"{url}/{access.other}/events", headers=access.bearer(), timeout=10)
    assert events.status_code == 403
    granted = httpx.get(f"{url}/{access.granted}", headers=access.bearer(), timeout=10)
    assert [t["name"] for t in granted.json()["tools"]] == ["echo_tool"]
    listed = httpx.get(url, headers=access.bearer(), timeout=10).json()["catalogs"]
    # Exactly the catalogs `kubectl auth can-i` allows (default comes from the ClusterRole).
    served = {access.granted, access.other, "default"}
    assert {c["name"] for c in listed} == {c for c in served if access.can_i(c)} \
        == {access.granted, "default"}


def test_metrics_and_probes_of_the_operator_stay_open(catalog_operator: Operator) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert httpx.get(f"{catalog_operator.url}{path}", timeout=10).status_code == 200



def test_a_gateway_whose_api_server_does_not_answer_serves_no_one(
        access: Access, tmp_path: Path) -> None:
    # The same credentials, and a server address where nothing listens.
    kubeconfig = yaml.safe_load(access.cluster.kubeconfig.read_text())
    for entry in kubeconfig["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    with tiny_backend("unreachable") as backend:
        catalog = catalog_of(access.granted, [echo_entry("echo", access.namespace,
                                                         backend.url, "echo")])
        env = {"TOOLFLEET_GATEWAY_AUTH": "true", "KUBECONFIG": str(path)}
        with GatewayProcess([catalog], env=env) as gateway:
            response = httpx.post(f"{gateway.url}/v1/catalogs/{access.granted}/calls",
                                  params={"format": "openai"}, json=ECHO,
                                  headers=access.bearer(), timeout=60)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "2"
            assert response.json()["error"]["hint"]
            assert "TokenReview got no answer" in gateway.output()
            assert access.token not in gateway.output()
