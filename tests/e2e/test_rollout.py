"""Canary rollouts end to end: real service processes, a real Prometheus, the real API server.

kwok pods run no code, so the stable and canary revisions of the service run
as local processes; Prometheus scrapes them with the labels it would add in a
cluster (namespace, toolservice, revision), and the operator's analysis
queries it over its HTTP API, as it would in production.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.e2e.conftest import fresh_namespace, start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, free_port, wait_until

from toolfleet_service.local import LocalService

NAME = "anomaly"
MANIFEST: dict[str, Any] = yaml.safe_load(
    (REPO / "services" / "anomaly-detector" / "deploy" / "toolservice.yaml").read_text())
RECORDS = [{"id": i, "amount": 20.0 + (i % 7), "merchant": "shop"} for i in range(40)]


class Prometheus:
    """A Prometheus server scraping the targets written to its file-based discovery."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.targets = workdir / "targets.json"
        self.targets.write_text("[]")
        self.gateway_targets = workdir / "gateways.json"
        self.gateway_targets.write_text("[]")
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "toolservices",
                "file_sd_configs": [{"files": [str(self.targets)], "refresh_interval": "1s"}],
            }, {
                # The gateway labels each call with the ToolService's namespace, name and
                # revision itself; honor_labels keeps them, as the chart's ServiceMonitor does.
                "job_name": "gateways", "honor_labels": True,
                "file_sd_configs": [{"files": [str(self.gateway_targets)],
                                     "refresh_interval": "1s"}],
            }],
        }))
        self.log = (workdir / "prometheus.log").open("wb")
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed: run hack/deps.sh (Debian package)")
        self.process = subprocess.Popen([
            binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=1h",
        ], stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._ready, 60, "Prometheus to be ready")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def scrape(self, targets: list[tuple[LocalService, dict[str, str]]]) -> None:
        """Scrape these services, each with the labels a pod of that revision would get."""
        self.targets.write_text(json.dumps([
            {"targets": [service.url.removeprefix("http://")], "labels": labels}
            for service, labels in targets]))

    def scrape_gateways(self, urls: list[str]) -> None:
        """Scrape these gateways, keeping the labels they put on their metrics."""
        self.gateway_targets.write_text(json.dumps([
            {"targets": [url.removeprefix("http://") for url in urls],
             "labels": {"namespace": "toolfleet-system"}}]))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path_factory.mktemp("prometheus"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rollout_namespace(cluster: Cluster) -> Iterator[str]:
    with fresh_namespace(cluster, "ro-") as name:
        yield name


class OperatorRunner:
    """An operator for one namespace, which a test may kill and start again."""

    def __init__(self, cluster: Cluster, namespace: str, log_dir: Path) -> None:
        self.cluster, self.namespace, self.log_dir = cluster, namespace, log_dir
        self.runs = 0
        self.current: Operator | None = None

    def start(self) -> Operator:
        self.runs += 1
        self.current = start_operator(
            self.cluster, self.log_dir / f"operator-{self.namespace}-{self.runs}.log",
            extra_env={"TOOLFLEET_NAMESPACE": self.namespace},
            args=("--namespace", self.namespace))
        return self.current

    def kill(self) -> None:
        assert self.current is not None
        self.current.process.kill()
        self.current.process.wait(timeout=10)
        self.current = None

    def stop(self) -> None:
        if self.current is not None:
            stop_operator(self.current)
            self.current = None


@pytest.fixture
def operators(cluster: Cluster, crds: None, rollout_namespace: str) -> Iterator[OperatorRunner]:
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    runner = OperatorRunner(cluster, rollout_namespace, log_dir)
    runner.start()
    try:
        yield runner
    finally:
        runner.stop()


class Traffic:
    """Routers' calls to both revisions, until stopped (bounded: at most 5 minutes)."""

    def __init__(self, services: list[LocalService]) -> None:
        self.services = services
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        deadline = time.monotonic() + 300
        with httpx.Client(timeout=10) as client:
            while not self.stopped.is_set() and time.monotonic() < deadline:
                for service in self.services:
                    # A call failing is what a failing canary does: keep calling.
                    with contextlib.suppress(httpx.HTTPError):
                        client.post(f"{service.url}/tools/score_anomalies",
                                    json={"records": RECORDS, "id_field": "id"})
                time.sleep(0.05)

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)


def manifest(namespace: str, version: str, prometheus: Prometheus | None,
             **rollout: Any) -> dict[str, Any]:
    ts = copy.deepcopy(MANIFEST)
    ts["metadata"] = {"name": NAME, "namespace": namespace}
    spec = ts["spec"]
    spec["version"] = version
    spec["image"] = f"toolfleet/anomaly-detector:{version}"
    spec["env"] = [{"name": "TOOLFLEET_VERSION", "value": version}]
    spec["autoscaling"] = {"minReplicas": 2, "maxReplicas": 4}
    spec["access"] = {"exposure": "public"}
    spec["rollout"] = {"strategy": "canary",
                       "steps": [{"weight": 30, "pauseSeconds": 1},
                                 {"weight": 60, "pauseSeconds": 1}],
                       **rollout}
    if prometheus is not None:
        spec["rollout"]["analysis"] = {"prometheusURL": prometheus.url, "maxErrorRate": 0.2,
                                       "intervalSeconds": 5, "failureLimit": 0}
    return ts


def apply(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))


def status(cluster: Cluster, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = cluster.get("toolservice", NAME, "-n", namespace).get("status", {})
    return found


def condition(cluster: Cluster, namespace: str, type_: str) -> dict[str, Any]:
    for cond in status(cluster, namespace).get("conditions", []):
        if cond["type"] == type_:
            found: dict[str, Any] = cond
            return found
    return {}


def events(cluster: Cluster, namespace: str, reason: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        e for e in cluster.get("events", "-n", namespace)["items"]
        if e["reason"] == reason and e["involvedObject"]["name"] == NAME]
    return found


def catalog_weights(op: Operator) -> dict[str, int]:
    """version -> weight of the service's endpoints, as the catalog tells routers."""
    response = httpx.get(f"{op.url}/v1/catalogs/default", timeout=5)
    if response.status_code != 200:
        return {}
    for tool in response.json()["tools"]:
        if tool["name"] == "score_anomalies":
            return {e["version"]: e["weight"] for e in tool["endpoints"]}
    return {}


def start_release(cluster: Cluster, namespace: str, prometheus: Prometheus | None,
                  stable: LocalService) -> str:
    """Deploy 1.0.0, wait for Ready, and point Prometheus at its process."""
    apply(cluster, manifest(namespace, "1.0.0", prometheus))
    cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=60s",
                    f"toolservice/{NAME}", timeout=70)
    revision: str = status(cluster, namespace)["stableRevision"]
    if prometheus is not None:
        prometheus.scrape([(stable, {"namespace": namespace, "toolservice": NAME,
                                     "revision": revision})])
    return revision


def canary_revision(cluster: Cluster, namespace: str) -> str:
    revision: str = wait_until(lambda: (status(cluster, namespace).get("rollout") or {})
                               .get("revision"), 30, "the rollout to start")
    return revision


@pytest.fixture
def stable_process() -> Iterator[LocalService]:
    with LocalService("anomaly_detector", env={"TOOLFLEET_VERSION": "1.0.0"}) as service:
        yield service


@contextlib.contextmanager
def canary_release(cluster: Cluster, namespace: str, prometheus: Prometheus,
                   stable_process: LocalService, **env: str) -> Iterator[tuple[str, str]]:
    """Release 1.0.0, then 1.1.0 as a canary: its process runs, routers call both
    revisions, and Prometheus scrapes both.

    Yields (stable revision, canary revision); traffic stops and the process ends on exit.
    """
    stable_revision = start_release(cluster, namespace, prometheus, stable_process)
    with LocalService("anomaly_detector", env={"TOOLFLEET_VERSION": "1.1.0", **env}) as canary:
        traffic = Traffic([stable_process, canary])
        try:
            apply(cluster, manifest(namespace, "1.1.0", prometheus))
            revision = canary_revision(cluster, namespace)
            prometheus.scrape([
                (stable_process, {"namespace": namespace, "toolservice": NAME,
                                  "revision": stable_revision}),
                (canary, {"namespace": namespace, "toolservice": NAME, "revision": revision})])
            yield stable_revision, revision
        finally:
            traffic.stop()


def test_healthy_canary_is_promoted_through_every_step(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        prometheus: Prometheus, stable_process: LocalService) -> None:
    ns = rollout_namespace
    with canary_release(cluster, ns, prometheus, stable_process) as (_, revision):
        seen_weights: set[int] = set()
        seen_catalog: list[dict[str, int]] = []
        canary_column = False

        def promoted() -> bool:
            nonlocal canary_column
            rollout = status(cluster, ns).get("rollout") or {}
            if rollout.get("phase") == "Progressing":
                seen_weights.add(rollout["weight"])
                weights = catalog_weights(operators.current)  # type: ignore[arg-type]
                if len(weights) == 2:
                    seen_catalog.append(weights)
            (row,) = cluster.table("ts", NAME, "-n", ns)
            canary_column = canary_column or row["CANARY"] == "1.1.0"
            return rollout.get("phase") == "Promoted"

        wait_until(promoted, 90, "the canary to be promoted", interval=0.3)

    final = status(cluster, ns)
    assert seen_weights == {30, 60}
    assert {"1.0.0": 70, "1.1.0": 30} in seen_catalog and {"1.0.0": 40, "1.1.0": 60} in seen_catalog
    assert canary_column, "kubectl get ts never showed the canary version"
    assert final["stableVersion"] == "1.1.0" and final["stableRevision"] == revision
    assert not final.get("canaryVersion")
    assert len(events(cluster, ns, "CanaryStepAdvanced")) == 1
    assert len(events(cluster, ns, "CanaryPromoted")) == 1
    wait_until(lambda: cluster.kubectl("get", "deployment", f"{NAME}-canary", "-n", ns,
                                       check=False).returncode != 0, 30,
               "the canary Deployment to go")
    stable = cluster.get("deployment", NAME, "-n", ns)
    assert stable["spec"]["template"]["metadata"]["labels"]["toolfleet.io/revision"] == revision
    wait_until(lambda: catalog_weights(operators.current) == {"1.1.0": 100}, 10,  # type: ignore[arg-type]
               "the catalog to list only the promoted version")


def test_failing_canary_rolls_back_at_its_first_analysis(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        prometheus: Prometheus, stable_process: LocalService) -> None:
    ns = rollout_namespace
    with canary_release(cluster, ns, prometheus, stable_process,
                        TOOLFLEET_FAULT_RATE="1") as (stable_revision, _):
        wait_until(lambda: (status(cluster, ns).get("rollout") or {}).get("phase")
                   == "RolledBack", 60, "the rollback")

    final = status(cluster, ns)
    assert final["rollout"]["step"] == 0, "rolled back at the first analysis"
    assert final["stableRevision"] == stable_revision and final["stableVersion"] == "1.0.0"
    degraded = condition(cluster, ns, "Degraded")
    assert degraded["status"] == "True"
    assert "toolfleet_tool_requests_total" in degraded["message"]  # the failing query
    assert "error rate" in degraded["message"].lower()
    assert events(cluster, ns, "CanaryRolledBack")
    wait_until(lambda: cluster.kubectl("get", "deployment", f"{NAME}-canary", "-n", ns,
                                       check=False).returncode != 0, 30,
               "the canary Deployment to go")
    wait_until(lambda: catalog_weights(operators.current) == {"1.0.0": 100}, 10,  # type: ignore[arg-type]
               "the catalog to list only the stable version")


def test_operator_killed_mid_step_resumes_with_the_same_outcome(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        prometheus: Prometheus, stable_process: LocalService) -> None:
    ns = rollout_namespace
    with canary_release(cluster, ns, prometheus, stable_process) as (_, revision):
        operators.kill()  # mid step 1: its pause is running
        time.sleep(2)
        operators.start()

        wait_until(lambda: (status(cluster, ns).get("rollout") or {}).get("phase")
                   == "Promoted", 90, "the rollout to complete after the restart")

    assert status(cluster, ns)["stableRevision"] == revision
    assert len(events(cluster, ns, "RolloutStarted")) == 1
    assert len(events(cluster, ns, "CanaryStepAdvanced")) == 1, "a step was taken twice"
    assert len(events(cluster, ns, "CanaryPromoted")) == 1


def test_breaking_schema_change_is_blocked_unless_allowed(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        stable_process: LocalService) -> None:
    ns = rollout_namespace
    start_release(cluster, ns, None, stable_process)
    breaking = manifest(ns, "2.0.0", None)
    tool = breaking["spec"]["tools"][0]
    tool["inputSchema"]["properties"]["tenant"] = {"type": "string"}
    tool["inputSchema"]["required"] = [*tool["inputSchema"].get("required", []), "tenant"]

    apply(cluster, breaking)

    blocked = wait_until(lambda: (lambda c: c if c.get("reason") == "BreakingSchemaChange"
                                  else None)(condition(cluster, ns, "Degraded")),
                         30, "the rollout to be blocked")
    assert blocked["status"] == "True"
    assert "score_anomalies" in blocked["message"] and "tenant" in blocked["message"]
    assert "$.required" in blocked["message"]
    assert status(cluster, ns)["stableVersion"] == "1.0.0"
    assert cluster.kubectl("get", "deployment", f"{NAME}-canary", "-n", ns,
                           check=False).returncode != 0

    breaking["spec"]["rollout"]["allowBreakingSchemaChange"] = True
    apply(cluster, breaking)

    wait_until(lambda: (status(cluster, ns).get("rollout") or {}).get("weight", 0) > 0
               or status(cluster, ns).get("stableVersion") == "2.0.0", 30,
               "the rollout to proceed")


def toolfleet(cluster: Cluster, *args: str) -> str:
    import sys

    result = subprocess.run([sys.executable, "-m", "toolfleet.cli", *args], env=cluster.env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def phase(cluster: Cluster, namespace: str) -> str | None:
    found: str | None = (status(cluster, namespace).get("rollout") or {}).get("phase")
    return found


def test_rollout_is_steered_from_the_cli(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        stable_process: LocalService) -> None:
    ns = rollout_namespace
    slow = {"steps": [{"weight": 20, "pauseSeconds": 600}, {"weight": 50, "pauseSeconds": 600}]}
    apply(cluster, manifest(ns, "1.0.0", None, **slow))
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                    f"toolservice/{NAME}", timeout=70)
    apply(cluster, manifest(ns, "1.1.0", None, **slow))
    wait_until(lambda: phase(cluster, ns) == "Progressing", 30, "the rollout to start")

    toolfleet(cluster, "rollout", "pause", NAME, "-n", ns)
    wait_until(lambda: phase(cluster, ns) == "Paused", 20, "the pause")
    assert "Paused" in toolfleet(cluster, "rollout", "status", NAME, "-n", ns)
    toolfleet(cluster, "rollout", "resume", NAME, "-n", ns)
    wait_until(lambda: phase(cluster, ns) == "Progressing", 20, "the resume")
    assert (status(cluster, ns)["rollout"]["step"], status(cluster, ns)["rollout"]["weight"]) \
        == (0, 20), "resume continues the same step"
    toolfleet(cluster, "rollout", "promote", NAME, "-n", ns)
    wait_until(lambda: phase(cluster, ns) == "Promoted", 20, "the promotion")
    assert status(cluster, ns)["stableVersion"] == "1.1.0"

    apply(cluster, manifest(ns, "1.2.0", None, **slow))
    wait_until(lambda: phase(cluster, ns) == "Progressing" and
               status(cluster, ns)["rollout"]["version"] == "1.2.0", 30, "the next rollout")
    wait_until(lambda: cluster.kubectl("get", "deployment", f"{NAME}-canary", "-n", ns,
                                       check=False).returncode == 0, 30, "the canary")
    # Plain kubectl works too: the CLI only sets this annotation.
    cluster.kubectl("annotate", "ts", NAME, "-n", ns, "--overwrite",
                    "toolfleet.io/rollout-control=abort:from-kubectl")
    wait_until(lambda: phase(cluster, ns) == "Aborted", 20, "the abort")
    assert status(cluster, ns)["stableVersion"] == "1.1.0"
    wait_until(lambda: cluster.kubectl("get", "deployment", f"{NAME}-canary", "-n", ns,
                                       check=False).returncode != 0, 30,
               "the canary Deployment to go")


@pytest.fixture(scope="module")
def gateway_api(cluster: Cluster) -> None:
    """The Gateway API CRDs, installed as a cluster that routes with it has them."""
    crds = subprocess.run([str(REPO / "hack" / "gateway-api-crds.sh")], check=True,
                          capture_output=True, text=True, timeout=300).stdout.strip()
    cluster.kubectl("apply", "--server-side", "-f", crds, timeout=120)
    cluster.wait_established("httproutes.gateway.networking.k8s.io")


def route_weights(cluster: Cluster, namespace: str) -> dict[str, int]:
    route = cluster.get("httproute", NAME, "-n", namespace)
    return {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}


def test_gateway_api_routing_weights_follow_the_steps(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        gateway_api: None) -> None:
    ns = rollout_namespace
    routing = {"trafficRouting": "gatewayAPI", "gatewayRef": {"name": "public", "namespace": ns},
               "steps": [{"weight": 20, "pauseSeconds": 600}, {"weight": 50, "pauseSeconds": 600}]}
    apply(cluster, manifest(ns, "1.0.0", None, **routing))
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                    f"toolservice/{NAME}", timeout=70)
    assert wait_until(lambda: route_weights(cluster, ns), 30, "the HTTPRoute") == \
        {f"{NAME}-stable": 100}
    route = cluster.get("httproute", NAME, "-n", ns)
    assert route["spec"]["parentRefs"][0]["name"] == "public"

    apply(cluster, manifest(ns, "1.1.0", None, **routing))

    wait_until(lambda: route_weights(cluster, ns) == {f"{NAME}-stable": 80, f"{NAME}-canary": 20},
               30, "the first step's weights")
    canary_service = cluster.get("service", f"{NAME}-canary", "-n", ns)
    assert canary_service["spec"]["selector"]["toolfleet.io/track"] == "canary"
    toolfleet(cluster, "rollout", "promote", NAME, "-n", ns)
    wait_until(lambda: route_weights(cluster, ns) == {f"{NAME}-stable": 100}, 30,
               "all traffic back on the (now promoted) stable track")
    # The route is applied just before the status is written: wait for the status.
    wait_until(lambda: status(cluster, ns).get("stableVersion") == "1.1.0", 30,
               "the promoted version to become stable")


def test_an_mcp_image_with_no_metrics_answering_is_error_rolls_back_through_the_gateways_metric(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        prometheus: Prometheus) -> None:
    from tests.e2e.test_gateway import GatewayProcess, call, plain_mcp_server, toolservice

    from toolfleet.resources.tracks import Track, service_url

    ns = rollout_namespace
    rollout = {"strategy": "canary", "steps": [{"weight": 30, "pauseSeconds": 1},
                                               {"weight": 60, "pauseSeconds": 1}],
               "analysis": {"prometheusURL": prometheus.url, "maxErrorRate": 0.2,
                            "intervalSeconds": 5, "failureLimit": 0}}
    with plain_mcp_server(PLAIN_VERSION="1.0.0") as stable, \
            plain_mcp_server(PLAIN_VERSION="1.1.0", PLAIN_IS_ERROR="1") as canary:
        # An ordinary MCP image: it serves no metrics at all.
        assert httpx.get(f"{canary.url}/metrics", timeout=5).status_code == 404
        apply(cluster, toolservice(ns, "1.0.0", rollout=rollout))
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                        "toolservice/lookup", timeout=70)
        stable_revision = cluster.get("toolservice", "lookup", "-n", ns)["status"][
            "stableRevision"]
        gateway = GatewayProcess(cluster, REPO / ".cluster" / "logs" / f"gateway-{ns}.log", ns, {
            service_url("lookup", ns, 8080, "cluster.local"): stable.url,
            service_url("lookup", ns, 8080, "cluster.local", Track.canary): canary.url,
        }, "--no-auth")
        prometheus.scrape_gateways([gateway.url])
        stop = threading.Event()

        def route_calls() -> None:
            # A router's calls, all through the gateway; the canary's fail as tool errors.
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    call(gateway.url, "default", "k")
                time.sleep(0.02)

        router = threading.Thread(target=route_calls, daemon=True)
        router.start()
        try:
            apply(cluster, toolservice(ns, "1.1.0", rollout=rollout))
            wait_until(lambda: (cluster.get("toolservice", "lookup", "-n", ns)["status"]
                                .get("rollout") or {}).get("phase") == "RolledBack",
                       90, "the rollback")
        finally:
            stop.set()
            router.join(timeout=30)
            gateway.stop()

    final = cluster.get("toolservice", "lookup", "-n", ns)["status"]
    assert final["rollout"]["step"] == 0, "rolled back at the first analysis"
    assert final["stableRevision"] == stable_revision and final["stableVersion"] == "1.0.0"
    degraded = next(c for c in final["conditions"] if c["type"] == "Degraded")
    assert degraded["status"] == "True"
    # Judged on the gateway's count of the canary's isError results.
    assert "toolfleet_gateway_tool_calls_total" in degraded["message"]
    assert "error rate 1" in degraded["message"].lower()
