"""Rollouts that never hang and never lie, on the local cluster.

Each test is a platform team's step: an analysis whose Prometheus answers no
data, a canary whose pods cannot be scheduled, another writer scaling or
deleting the operator's children, a promote with no ready canary pod and the
abort that follows it. kwok schedules pods on its fake nodes by their
requests, so a canary asking for 500 CPUs stays Pending with the scheduler's
own "Insufficient cpu".
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from tests.e2e import test_rollout
from tests.e2e.support import Cluster, http_server, wait_until
from tests.e2e.test_rollout import (
    NAME,
    OperatorRunner,
    apply,
    condition,
    events,
    manifest,
    phase,
    status,
)

# An operator of its own per ro-* namespace, as the other rollout tests run.
rollout_namespace = test_rollout.rollout_namespace
operators = test_rollout.operators

SLOW = [{"weight": 30, "pauseSeconds": 600}, {"weight": 60, "pauseSeconds": 600}]


class NoData(BaseHTTPRequestHandler):
    """The Prometheus query API answering every query with an empty vector."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "success",
                           "data": {"resultType": "vector", "result": []}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def no_data_prometheus() -> Iterator[str]:
    with http_server(NoData) as url:
        yield url


def release(cluster: Cluster, ns: str, version: str, **rollout: Any) -> dict[str, Any]:
    ts = manifest(ns, version, None, **rollout)
    apply(cluster, ts)
    return ts


def ready_release(cluster: Cluster, ns: str, **rollout: Any) -> None:
    release(cluster, ns, "1.0.0", **rollout)
    cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                    f"toolservice/{NAME}", timeout=70)


def unschedulable(ts: dict[str, Any]) -> dict[str, Any]:
    ts["spec"]["resources"] = {"cpu": "500", "memory": "512Mi"}
    return ts


def toolfleet(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "toolfleet.cli", *args], env=cluster.env(),
                          capture_output=True, text=True, timeout=60)


def replicas(cluster: Cluster, ns: str, name: str) -> int:
    found = cluster.kubectl("get", "deployment", name, "-n", ns, "-o",
                            "jsonpath={.spec.replicas}", check=False)
    return int(found.stdout or -1) if found.returncode == 0 else -1


def test_an_analysis_that_never_decides_pauses_after_its_limit(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str,
        no_data_prometheus: str) -> None:
    ns = rollout_namespace
    analysis = {"prometheusURL": no_data_prometheus, "intervalSeconds": 5,
                "inconclusiveLimit": 2}
    steps = [{"weight": 30, "pauseSeconds": 1}, {"weight": 60, "pauseSeconds": 1}]
    ready_release(cluster, ns, steps=steps, analysis=analysis)
    release(cluster, ns, "1.1.0", steps=steps, analysis=analysis)

    wait_until(lambda: phase(cluster, ns) == "Paused", 90, "the rollout to pause")

    healthy = condition(cluster, ns, "RolloutHealthy")
    assert (healthy["status"], healthy["reason"]) == ("False", "AnalysisInconclusive")
    assert "resume" in healthy["message"] and "abort" in healthy["message"]
    assert status(cluster, ns)["rollout"]["inconclusive"] == 3
    held = [e for e in events(cluster, ns, "AnalysisInconclusive") if e["type"] == "Normal"]
    assert len(held) == 1 and held[0]["count"] == 2, "one Event, counted, per repeated message"
    assert len(events(cluster, ns, "AnalysisInconclusive")) == 2


def test_canary_pods_that_cannot_be_scheduled_roll_back_at_the_deadline(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str) -> None:
    ns = rollout_namespace
    ready_release(cluster, ns, steps=SLOW, progressDeadlineSeconds=15)
    apply(cluster, unschedulable(manifest(ns, "1.1.0", None, steps=SLOW,
                                          progressDeadlineSeconds=15)))

    reported = wait_until(
        lambda: (lambda c: c if c.get("reason") == "CanaryNotReady" else None)(
            condition(cluster, ns, "RolloutHealthy")), 30, "the failure state reported")
    assert reported["status"] == "False" and "Insufficient cpu" in reported["message"]
    wait_until(lambda: phase(cluster, ns) == "RolledBack", 60, "the rollback")

    final = status(cluster, ns)
    assert final["rollout"]["reason"] == "CanaryNotReady"
    assert final["stableVersion"] == "1.0.0"
    assert "Insufficient cpu" in final["rollout"]["message"]
    assert events(cluster, ns, "CanaryNotReady")[0]["type"] == "Warning"
    assert condition(cluster, ns, "Degraded")["status"] == "True"
    wait_until(lambda: replicas(cluster, ns, f"{NAME}-canary") == -1, 30,
               "the canary Deployment to go")


def test_drift_by_another_writer_is_corrected_and_ready_names_what_serves(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str) -> None:
    ns = rollout_namespace
    ready_release(cluster, ns, steps=SLOW)
    release(cluster, ns, "1.1.0", steps=SLOW)
    canary = f"{NAME}-canary"
    wait_until(lambda: replicas(cluster, ns, canary) == 1, 30, "the canary")
    serving = wait_until(
        lambda: (lambda m: m if "of version 1.1.0" in m else None)(
            condition(cluster, ns, "Ready").get("message", "")), 30, "Ready to count the canary")
    assert serving == "3 replica(s) ready: 2 of version 1.0.0, 1 of version 1.1.0"

    cluster.kubectl("scale", "deployment", canary, "-n", ns, "--replicas=0")
    wait_until(lambda: replicas(cluster, ns, canary) == 1, 30, "the canary restored")

    cluster.kubectl("delete", "service", canary, "-n", ns)
    wait_until(lambda: cluster.kubectl("get", "service", canary, "-n", ns,
                                       check=False).returncode == 0, 30,
               "the canary Service recreated")

    cluster.kubectl("scale", "deployment", NAME, "-n", ns, "--replicas=0")
    wait_until(lambda: replicas(cluster, ns, NAME) == 2, 30, "the stable lifted to minReplicas")
    # The event follows the status write, a moment after the scale.
    [lifted] = wait_until(lambda: events(cluster, ns, "ReplicasRestored"), 10,
                          "the ReplicasRestored event")
    assert "lifted to minReplicas (2)" in lifted["message"]
    assert phase(cluster, ns) == "Progressing"


def test_promote_without_ready_canary_pods_is_refused_and_abort_undoes_a_forced_one(
        cluster: Cluster, operators: OperatorRunner, rollout_namespace: str) -> None:
    ns = rollout_namespace
    ready_release(cluster, ns, steps=SLOW)
    stable_revision = status(cluster, ns)["stableRevision"]
    apply(cluster, unschedulable(manifest(ns, "2.0.0", None, steps=SLOW)))
    wait_until(lambda: replicas(cluster, ns, f"{NAME}-canary") == 1, 30, "the canary")

    refused = toolfleet(cluster, "rollout", "promote", NAME, "-n", ns)
    assert refused.returncode == 1
    assert "promote refused" in refused.stderr and "0 of 1 canary pod(s) ready" in refused.stderr
    [warning] = events(cluster, ns, "PromotionRefused")
    assert warning["type"] == "Warning"
    assert status(cluster, ns)["stableVersion"] == "1.0.0"

    forced = toolfleet(cluster, "rollout", "promote-force", NAME, "-n", ns)
    assert forced.returncode == 0, forced.stderr
    assert "promote-force applied" in forced.stdout
    wait_until(lambda: condition(cluster, ns, "RolloutHealthy").get("reason")
               == "PromotionUnfinished", 30, "the promotion to wait for its pods")
    # The new pods cannot be scheduled: the old ones still serve, and Ready says so.
    ready = condition(cluster, ns, "Ready")
    assert ready["message"] == "2 replica(s) ready: 2 of version 1.0.0", ready

    aborted = toolfleet(cluster, "rollout", "abort", NAME, "-n", ns)
    assert aborted.returncode == 0, aborted.stderr
    wait_until(lambda: status(cluster, ns).get("stableRevision") == stable_revision, 30,
               "the old revision restored")
    assert phase(cluster, ns) == "Aborted"
    assert status(cluster, ns)["stableVersion"] == "1.0.0"
    wait_until(lambda: cluster.get("deployment", NAME, "-n", ns)["spec"]["template"]["metadata"]
               ["labels"]["toolfleet.io/revision"] == stable_revision, 30,
               "the stable Deployment back on the old revision")


def test_a_deleted_service_or_edited_hpa_is_corrected_without_waiting_for_the_resync(
        cluster: Cluster, crds: None, rollout_namespace: str) -> None:
    from tests.e2e.conftest import start_operator, stop_operator
    from tests.e2e.support import REPO

    ns = rollout_namespace
    # A resync an hour away: what corrects the children here is their own watch.
    op = start_operator(cluster, REPO / ".cluster" / "logs" / f"operator-{ns}-watch.log",
                        extra_env={"TOOLFLEET_NAMESPACE": ns, "TOOLFLEET_RESYNC_SECONDS": "3600"},
                        args=("--namespace", ns))
    try:
        apply(cluster, manifest(ns, "1.0.0", None, steps=SLOW))
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=60s",
                        f"toolservice/{NAME}", timeout=70)

        cluster.kubectl("delete", "service", NAME, "-n", ns)
        wait_until(lambda: cluster.kubectl("get", "service", NAME, "-n", ns,
                                           check=False).returncode == 0, 30,
                   "the Service recreated")

        wanted = cluster.get("hpa", NAME, "-n", ns)["spec"]["maxReplicas"]
        cluster.kubectl("patch", "hpa", NAME, "-n", ns, "--type=merge",
                        "-p", json.dumps({"spec": {"maxReplicas": wanted + 7}}))
        wait_until(lambda: cluster.get("hpa", NAME, "-n", ns)["spec"]["maxReplicas"] == wanted,
                   30, "the HPA's maxReplicas restored")
    finally:
        stop_operator(op)
