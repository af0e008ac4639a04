"""A platform team's steps with the chart: install, run as its ServiceAccount, upgrade, uninstall.

kwok runs the chart's operator pods without running any code in them, so the
operator itself runs as a local process authenticated as the chart's
ServiceAccount, with a token from the TokenRequest API and the arguments and
settings of the chart's Deployment: what it can do is exactly what the chart's
RBAC grants. The release watches one ro-* namespace, which the session's own
operator stays out of.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, free_port, wait_until

CHART = REPO / "charts" / "toolfleet"
SAMPLE = REPO / "config" / "samples" / "cpu-toolservice.yaml"
FIELD_MANAGER = "toolfleet-helm-e2e"
CRDS = ("toolservices.toolfleet.io", "toolcatalogs.toolfleet.io",
        "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")


@dataclass
class Release:
    """A Helm release of the chart in a namespace of its own."""

    cluster: Cluster
    name: str
    namespace: str

    @property
    def fullname(self) -> str:
        return f"{self.name}-toolfleet"

    @property
    def account(self) -> str:
        """The chart's ServiceAccount, as RBAC names it."""
        return f"system:serviceaccount:{self.namespace}:{self.fullname}"

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(self.cluster.bin_dir / "helm"), *args, "-n", self.namespace],
                                env=self.cluster.env(), capture_output=True, text=True,
                                timeout=240)
        if check and result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
        return result

    def get(self, kind: str, name: str | None = None) -> Any:
        args = [kind] if name is None else [kind, name]
        return self.cluster.get(*args, "-n", self.namespace)

    def exists(self, kind: str, name: str, namespaced: bool = True) -> bool:
        scope = ["-n", self.namespace] if namespaced else []
        return self.cluster.kubectl("get", kind, name, *scope, check=False).returncode == 0

    @property
    def gateway(self) -> str:
        """The name of the gateway's objects, its ServiceAccount's included."""
        return f"{self.fullname}-gateway"

    def can_i(self, *args: str, account: str = "") -> bool:
        """`kubectl auth can-i` as the operator's ServiceAccount, or as `account`."""
        result = self.cluster.kubectl("auth", "can-i", *args, "--as", account or self.account,
                                      check=False)
        return result.stdout.strip() == "yes"


@pytest.fixture
def release(cluster: Cluster) -> Iterator[Release]:
    """A release name and its namespace; whatever is left of it is uninstalled after."""
    namespace = f"ro-helm-{uuid.uuid4().hex[:6]}"
    cluster.kubectl("create", "namespace", namespace)
    installed = Release(cluster, f"tf{uuid.uuid4().hex[:4]}", namespace)
    try:
        yield installed
    finally:
        installed.helm("uninstall", installed.name, "--ignore-not-found", "--wait", check=False)
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def service_account_kubeconfig(release: Release, path: Path, account: str = "") -> Path:
    """A kubeconfig that authenticates as one of the chart's ServiceAccounts (the operator's
    by default) with a fresh token."""
    account = account or release.fullname
    token = release.cluster.kubectl("create", "token", account, "-n",
                                    release.namespace, "--duration=1h").stdout.strip()
    admin = yaml.safe_load(release.cluster.kubeconfig.read_text())
    cluster = dict(admin["clusters"][0]["cluster"])
    authority = cluster.get("certificate-authority")
    if authority:
        # Relative paths in a kubeconfig are relative to the kubeconfig itself.
        cluster["certificate-authority"] = str(
            (release.cluster.kubeconfig.parent / authority).resolve())
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": "chart", "context": {"cluster": "local", "user": account}}],
        "current-context": "chart",
    }))
    return path


def operator_container(release: Release) -> dict[str, Any]:
    deployment = release.get("deployment", release.fullname)
    found: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return found


def test_install_run_as_its_service_account_upgrade_and_uninstall(
        cluster: Cluster, release: Release, tmp_path: Path) -> None:
    # Install: the CRDs, then the operator, its Service and what keeps it available.
    installed = release.helm(
        "install", release.name, str(CHART), "--wait", "--timeout", "300s",
        "--set", f"watchNamespaces={{{release.namespace}}}",
        "--set", f"settings.fieldManager={FIELD_MANAGER}",
        "--set", "peering.lifetimeSeconds=10")
    assert f"kubectl -n {release.namespace} port-forward service/{release.fullname} 8080:80" \
        in installed.stdout
    assert "curl 'http://127.0.0.1:8080/v1/catalogs/default?format=openai'" in installed.stdout
    cluster.wait_established(*CRDS)
    deployment = release.get("deployment", release.fullname)
    assert deployment["status"]["readyReplicas"] == 2
    service = release.get("service", release.fullname)
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert release.get("poddisruptionbudget", release.fullname)["spec"]["minAvailable"] == 1
    assert release.exists("kopfpeering", release.fullname)

    # The operator as the chart runs it, authenticated as the chart's ServiceAccount.
    container = operator_container(release)
    assert container["args"][0] == "run"
    chart_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    for local in ("TOOLFLEET_HTTP_HOST", "TOOLFLEET_HTTP_PORT"):
        chart_env.pop(local)
    kubeconfig = service_account_kubeconfig(release, tmp_path / "kubeconfig")
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    operator = start_operator(
        cluster, log_dir / f"operator-{release.namespace}.log",
        extra_env={**chart_env, "KUBECONFIG": str(kubeconfig),
                   "TOOLFLEET_NAMESPACE": release.namespace, "POD_ID": f"{release.name}-local"},
        args=tuple(container["args"][1:]))
    try:
        cluster.kubectl("apply", "-n", release.namespace, "-f", str(SAMPLE))
        cluster.kubectl("wait", "-n", release.namespace, "--for=condition=Ready",
                        "--timeout=60s", "toolservice/text-stats", timeout=70)
        applied = cluster.get("deployment", "text-stats", "-n", release.namespace,
                              "--show-managed-fields")
        assert FIELD_MANAGER in {m["manager"] for m in applied["metadata"]["managedFields"]}

        def catalog() -> list[str]:
            with urllib.request.urlopen(
                    f"{operator.url}/v1/catalogs/default?format=openai", timeout=5) as response:
                return [tool["function"]["name"] for tool in json.loads(response.read())]

        wait_until(lambda: "count_words" in catalog(), 30, "the tool in the default catalog")
        assert "forbidden" not in operator.log().lower(), operator.log_tail()
    finally:
        stop_operator(operator)

    # What the ServiceAccount may not do, and some of what it must.
    assert not release.can_i("get", "secrets", "-n", release.namespace)
    assert not release.can_i("list", "secrets", "--all-namespaces")
    assert not release.can_i("delete", "nodes")
    assert not release.can_i("create", "clusterroles")
    assert not release.can_i("create", "rolebindings", "-n", release.namespace)
    assert not release.can_i("create", "validatingwebhookconfigurations")
    assert not release.can_i("create", "pods", "-n", release.namespace)
    assert release.can_i("patch", "toolservices", "--subresource=status", "-n", "default")
    assert release.can_i("create", "deployments", "-n", "default")
    assert release.can_i("list", "pods", "--all-namespaces")
    assert release.can_i("watch", "nodes")
    assert release.can_i("patch", "kopfpeerings", "-n", release.namespace)

    # Upgrade with changed values: the Deployment follows.
    release.helm("upgrade", release.name, str(CHART), "--reuse-values", "--wait",
                 "--timeout", "300s", "--set", "replicaCount=3",
                 "--set", "settings.resyncSeconds=120")
    deployment = release.get("deployment", release.fullname)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["status"]["readyReplicas"] == 3
    env = {e["name"]: e.get("value") for e in operator_container(release)["env"]}
    assert env["TOOLFLEET_RESYNC_SECONDS"] == "120"
    assert env["TOOLFLEET_FIELD_MANAGER"] == FIELD_MANAGER

    # Uninstall removes what the chart's README says it removes, and keeps the CRDs
    # (and so the ToolServices).
    release.helm("uninstall", release.name, "--wait")
    for kind in ("deployment", "service", "serviceaccount", "poddisruptionbudget",
                 "kopfpeering"):
        assert not release.exists(kind, release.fullname), kind
    for kind in ("clusterrole", "clusterrolebinding"):
        assert not release.exists(kind, release.fullname, namespaced=False), kind
    for crd in CRDS:
        assert release.exists("crd", crd, namespaced=False), crd
    assert release.exists("toolservice", "text-stats")
    readme = (CHART / "README.md").read_text()
    assert "**It keeps the CRDs**" in readme


def test_bad_values_fail_the_install_before_anything_is_created(release: Release) -> None:
    result = release.helm("install", release.name, str(CHART), "--set", "replicaCount=-1",
                          check=False)

    assert result.returncode != 0
    assert "at '/replicaCount': minimum: got -1, want 1" in result.stderr
    assert release.helm("list", "--all", "-q").stdout.strip() == ""
    assert not release.exists("deployment", release.fullname)


def start_gateway(release: Release, kubeconfig: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """`toolfleet gateway` with the chart's arguments and settings, on loopback, as the
    process authenticated by `kubeconfig`; waits until it serves /readyz (it has listed
    the published catalogs) or fails with its log."""
    container = release.get("deployment", release.gateway)["spec"]["template"]["spec"][
        "containers"][0]
    port = free_port()
    chart_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env = {**release.cluster.env(), **chart_env, "KUBECONFIG": str(kubeconfig),
           "TOOLFLEET_GATEWAY_HOST": "127.0.0.1", "TOOLFLEET_GATEWAY_PORT": str(port)}
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "toolfleet.cli", *container["args"]],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gateway exited {process.returncode}:\n"
                                 f"{log_path.read_text(errors='replace')[-5000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    try:
        wait_until(ready, 60, "the gateway to read the published catalogs (/readyz)")
    except BaseException:
        process.kill()
        process.wait(timeout=10)
        raise
    return process


def test_the_gateway_installs_with_least_rbac_and_consumers_call_only_their_catalog(
        cluster: Cluster, release: Release, tmp_path: Path) -> None:
    ns, gateway = release.namespace, release.gateway
    # A router elsewhere, granted the catalog of the ToolCatalog `tools` in the release's
    # namespace (the grant lives beside the ToolCatalog).
    router = f"system:serviceaccount:{ns}-routers:router"
    release.helm(
        "install", release.name, str(CHART), "--wait", "--timeout", "300s",
        "--set", f"watchNamespaces={{{ns}}}",
        "--set", "gateway.exampleConsumer.enabled=true",
        "--set", f"gateway.exampleConsumer.catalog={ns}.tools",
        "--set", f"gateway.exampleConsumer.namespace={ns}-routers",
        "--set", "gateway.exampleConsumer.serviceAccount=router")

    # The gateway: two replicas, raised by its HPA (the Deployment leaves them to it).
    assert release.get("horizontalpodautoscaler", gateway)["spec"]["minReplicas"] == 2
    wait_until(lambda: (release.get("deployment", gateway).get("status") or {})
               .get("readyReplicas") == 2, 120, "the HPA to raise the gateway to 2 replicas")
    service = release.get("service", gateway)
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    assert release.get("poddisruptionbudget", gateway)["spec"]["minAvailable"] == 1
    pods = cluster.get("pods", "-n", ns, "-l", "app.kubernetes.io/component=gateway")["items"]
    assert {p["spec"]["serviceAccountName"] for p in pods} == {gateway}
    # The operator puts the gateway's address into the catalogs.
    operator_env = {e["name"]: e.get("value") for e in operator_container(release)["env"]}
    assert operator_env["TOOLFLEET_GATEWAY_URL"] == f"http://{gateway}.{ns}.svc.cluster.local"

    # What the gateway's ServiceAccount may do: read catalogs, review callers; nothing else.
    as_gateway = f"system:serviceaccount:{ns}:{gateway}"
    assert release.can_i("create", "tokenreviews", account=as_gateway)
    assert release.can_i("create", "subjectaccessreviews", account=as_gateway)
    assert release.can_i("watch", "configmaps", "--all-namespaces", account=as_gateway)
    assert release.can_i("watch", "endpointslices.discovery.k8s.io", "--all-namespaces",
                         account=as_gateway)
    assert not release.can_i("get", "secrets", "-n", ns, account=as_gateway)
    assert not release.can_i("create", "configmaps", "-n", ns, account=as_gateway)
    assert not release.can_i("list", "toolservices", "-n", ns, account=as_gateway)
    assert not release.can_i("call", "toolcatalogs/default", "--all-namespaces",
                             account=as_gateway)

    # Run as that ServiceAccount, as the chart runs it, it reads the published catalogs.
    kubeconfig = service_account_kubeconfig(release, tmp_path / "kubeconfig", gateway)
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"gateway-{ns}.log"
    process = start_gateway(release, kubeconfig, log_path)
    process.terminate()
    process.wait(timeout=40)
    assert "forbidden" not in log_path.read_text().lower()

    # The example consumer may call its one catalog, and nothing else.
    assert release.can_i("call", "toolcatalogs/tools", "-n", ns, account=router)
    assert not release.can_i("call", "toolcatalogs/other", "-n", ns, account=router)
    assert not release.can_i("call", "toolcatalogs/tools", "-n", "default", account=router)
    assert not release.can_i("call", "toolcatalogs/default", "--all-namespaces", account=router)
    assert not release.can_i("get", "toolcatalogs/tools", "-n", ns, account=router)

    # Granted the built-in catalog instead: the Role goes, a ClusterRoleBinding comes.
    # And without the HPA the Deployment sets the replicas itself.
    release.helm("upgrade", release.name, str(CHART), "--reuse-values", "--wait",
                 "--timeout", "300s", "--set", "gateway.exampleConsumer.catalog=default",
                 "--set", "gateway.autoscaling.enabled=false", "--set", "gateway.replicas=3")
    assert release.can_i("call", "toolcatalogs/default", "--all-namespaces", account=router)
    assert not release.can_i("call", "toolcatalogs/tools", "-n", ns, account=router)
    assert not release.exists("horizontalpodautoscaler", gateway)
    assert release.get("deployment", gateway)["spec"]["replicas"] == 3

    # Uninstall removes every gateway object, cluster-wide ones included.
    release.helm("uninstall", release.name, "--wait")
    for kind in ("deployment", "service", "serviceaccount", "poddisruptionbudget"):
        assert not release.exists(kind, gateway), kind
    for kind, name in (("clusterrole", gateway), ("clusterrolebinding", gateway),
                       ("clusterrole", f"{release.fullname}-catalog-default-caller"),
                       ("clusterrolebinding", f"{release.fullname}-example-consumer")):
        assert not release.exists(kind, name, namespaced=False), (kind, name)
