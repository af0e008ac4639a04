"""Failures of the API server during a reconcile, as a platform team meets them.

Each shows where a user looks (Degraded and Ready with reason ApplyFailed,
naming the child and quoting the API server, and a Warning event) within
seconds, and heals without waiting for the resync: the operators here resync
once an hour.

- An admission webhook that nobody serves, with failurePolicy Fail, makes the
  API server answer every Deployment write with 500 ("failed calling webhook"):
  a temporary failure the operator retries on its own, with backoff.
- A ResourceQuota allowing no Services refuses the Service (403): deleting the
  quota is seen by the operator's quota watch, and the service is Ready at once.
- A webhook that refuses Deployments (400, its own message) until its
  configuration is deleted.
- A CPU service whose pods no node can take is Schedulable=False in the
  scheduler's own words.
"""

from __future__ import annotations

import http.server
import json
import re
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.e2e.conftest import fresh_namespace, start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, free_port, wait_until

from toolfleet.runtime.tls import self_signed

SAMPLE = REPO / "config" / "samples" / "cpu-toolservice.yaml"
RECONCILES = "toolfleet_reconciles_total"


@pytest.fixture
def quiet_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace the session operator skips (ro-*), for an operator of this test's own."""
    with fresh_namespace(cluster, "ro-fail-") as name:
        yield name


@pytest.fixture
def slow_resync_operator(cluster: Cluster, crds: None, quiet_namespace: str,
                         tmp_path: Path) -> Iterator[Operator]:
    op = start_operator(cluster, tmp_path / "operator.log", args=("-n", quiet_namespace),
                        extra_env={"TOOLFLEET_RESYNC_SECONDS": "3600"})
    try:
        yield op
    finally:
        stop_operator(op)


def unserved_webhook(name: str, namespace: str) -> dict[str, object]:
    """Refuse every Deployment write in `namespace` with a 500, until deleted."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "deployments.unserved.toolfleet.io",
            "clientConfig": {"url": f"https://127.0.0.1:{free_port()}/validate"},
            "rules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                       "operations": ["CREATE", "UPDATE"], "resources": ["deployments"]}],
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "failurePolicy": "Fail", "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "timeoutSeconds": 2,
        }],
    }


def conditions(cluster: Cluster, namespace: str, name: str) -> dict[str, dict[str, Any]]:
    body = cluster.get("toolservice", name, "-n", namespace)
    return {c["type"]: c for c in (body.get("status") or {}).get("conditions") or []}


def apply_failed(cluster: Cluster, namespace: str, name: str, *quoted: str) -> str | None:
    """Degraded's message when Degraded=True and Ready=False both say ApplyFailed and the
    message holds every one of `quoted`; else None."""
    found = conditions(cluster, namespace, name)
    degraded, ready = found.get("Degraded") or {}, found.get("Ready") or {}
    message = str(degraded.get("message", ""))
    if ((degraded.get("status"), degraded.get("reason")) == ("True", "ApplyFailed")
            and (ready.get("status"), ready.get("reason")) == ("False", "ApplyFailed")
            and all(q in message for q in quoted)):
        return message
    return None


def warnings(cluster: Cluster, namespace: str, name: str, reason: str) -> list[str]:
    items = cluster.get("events", "-n", namespace, "--field-selector",
                        f"involvedObject.name={name},type=Warning,reason={reason}")["items"]
    return [str(e.get("message")) for e in items]


def ready(cluster: Cluster, namespace: str, name: str) -> bool:
    return (conditions(cluster, namespace, name).get("Ready") or {}).get("status") == "True"


def default_catalog(op: Operator) -> set[str]:
    """The tool names the operator's built-in catalog publishes (canonical rendering)."""
    document = httpx.get(f"{op.url}/v1/catalogs/default", params={"format": "canonical"},
                         timeout=10).json()
    return {t["name"] for t in document["tools"]}


def sample() -> str:
    return json.dumps(yaml.safe_load(SAMPLE.read_text()))


def test_a_temporary_api_failure_is_retried_with_backoff_not_left_to_the_resync(
        cluster: Cluster, quiet_namespace: str, slow_resync_operator: Operator) -> None:
    webhook = f"toolfleet-e2e-unserved-{quiet_namespace}"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(unserved_webhook(webhook,
                                                                          quiet_namespace)))
    try:
        cluster.kubectl("apply", "-n", quiet_namespace, "-f", "-", input=sample())
        # Shown at once, in the API server's words, not only in the log.
        wait_until(lambda: apply_failed(cluster, quiet_namespace, "text-stats",
                                        "Deployment text-stats", "failed calling webhook"),
                   5, "Degraded=True ApplyFailed naming the Deployment and the webhook")
        assert warnings(cluster, quiet_namespace, "text-stats", "ApplyFailed")
        # The operator keeps trying, and each try fails at the Deployment.
        wait_until(lambda: slow_resync_operator.metric(RECONCILES, kind="ToolService",
                                                       result="error") >= 3,
                   60, "three failed reconciles in a row")
        assert cluster.kubectl("get", "deployment", "text-stats", "-n", quiet_namespace,
                               check=False).returncode != 0
        # Backoff, not a hot loop: each retry waits twice as long as the one before.
        delays = [float(d) for d in re.findall(r"retrying in ([0-9.]+)s",
                                               slow_resync_operator.log())]
        assert delays[:3] == [0.5, 1.0, 2.0]
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", webhook,
                        "--ignore-not-found", check=False)
    # The webhook's configuration went: the operator's watch on it retries at once,
    # an hour before the resync would have.
    wait_until(lambda: ready(cluster, quiet_namespace, "text-stats"), 10,
               "Ready within 10 s of the webhook's removal")
    assert not apply_failed(cluster, quiet_namespace, "text-stats")


def await_long_backoff(op: Operator) -> None:
    """Wait out five failed tries (0.5 + 1 + 2 + 4 + 8 s of backoff): the next waits 16 s,
    so only a watch on what refused the child can heal it within 10 s of its change."""
    wait_until(lambda: op.metric(RECONCILES, kind="ToolService", result="error") >= 5, 60,
               "five failed reconciles")


def zero_services_quota(namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "no-services", "namespace": namespace},
            "spec": {"hard": {"services": "0"}}}


def test_a_quota_refusing_the_service_shows_at_once_and_its_removal_heals_at_once(
        cluster: Cluster, quiet_namespace: str, slow_resync_operator: Operator) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(zero_services_quota(quiet_namespace)))
    # The quota controller fills in status.used before it admits anything against it.
    wait_until(lambda: (cluster.get("resourcequota", "no-services", "-n", quiet_namespace)
                        .get("status") or {}).get("used"), 30, "the quota to be counted")
    cluster.kubectl("apply", "-n", quiet_namespace, "-f", "-", input=sample())
    message = wait_until(
        lambda: apply_failed(cluster, quiet_namespace, "text-stats", "Service text-stats",
                             "exceeded quota: no-services"),
        5, "Degraded=True ApplyFailed naming the Service and the quota")
    assert "forbidden" in message.lower()
    assert any("exceeded quota" in m for m in
               warnings(cluster, quiet_namespace, "text-stats", "ApplyFailed"))
    # `kubectl get` says why too, without a describe.
    (row,) = cluster.table("ts", "text-stats", "-n", quiet_namespace)
    assert (row["READY"], row["REASON"]) == ("False", "ApplyFailed"), row
    # The Deployment is written even though its Service was refused...
    cluster.kubectl("get", "deployment", "text-stats", "-n", quiet_namespace)
    # ...but the built-in catalog lists only tools a router can call.
    assert "count_words" not in default_catalog(slow_resync_operator)
    await_long_backoff(slow_resync_operator)

    cluster.kubectl("delete", "resourcequota", "no-services", "-n", quiet_namespace)
    wait_until(lambda: ready(cluster, quiet_namespace, "text-stats"), 10,
               "Ready within 10 s of the quota's removal")
    wait_until(lambda: "count_words" in default_catalog(slow_resync_operator), 10,
               "the tool in the built-in catalog once Ready")


class RefusingWebhook:
    """An HTTPS admission webhook on loopback that denies every request with a message."""

    MESSAGE = "deployments are frozen for the change window"

    def __init__(self, directory: Path) -> None:
        cert, key = self_signed("127.0.0.1", directory)
        self.ca_bundle = cert.read_bytes()
        message = self.MESSAGE

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body = json.dumps({
                    "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                    "response": {"uid": review["request"]["uid"], "allowed": False,
                                 "status": {"code": 403, "message": message}}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def configuration(self, name: str, namespace: str) -> dict[str, Any]:
        import base64

        webhook = unserved_webhook(name, namespace)
        hook = webhook["webhooks"][0]  # type: ignore[index]
        hook["name"] = "deployments.frozen.toolfleet.io"
        hook["clientConfig"] = {"url": f"https://127.0.0.1:{self.port}/validate",
                                "caBundle": base64.b64encode(self.ca_bundle).decode()}
        return webhook


def test_a_webhook_refusing_deployments_shows_its_words_and_its_removal_heals_at_once(
        cluster: Cluster, quiet_namespace: str, slow_resync_operator: Operator,
        tmp_path: Path) -> None:
    refusing = RefusingWebhook(tmp_path / "tls")
    name = f"toolfleet-e2e-frozen-{quiet_namespace}"
    cluster.kubectl("apply", "-f", "-",
                    input=json.dumps(refusing.configuration(name, quiet_namespace)))
    try:
        cluster.kubectl("apply", "-n", quiet_namespace, "-f", "-", input=sample())
        wait_until(lambda: apply_failed(cluster, quiet_namespace, "text-stats",
                                        "Deployment text-stats", RefusingWebhook.MESSAGE),
                   5, "Degraded=True ApplyFailed quoting the webhook's refusal")
        assert warnings(cluster, quiet_namespace, "text-stats", "ApplyFailed")
        await_long_backoff(slow_resync_operator)
    finally:
        cluster.kubectl("delete", "validatingwebhookconfiguration", name, "--ignore-not-found",
                        check=False)
        refusing.server.shutdown()
    wait_until(lambda: ready(cluster, quiet_namespace, "text-stats"), 10,
               "Ready within 10 s of the webhook's removal")


def test_a_cpu_service_no_node_can_take_is_unschedulable_in_the_schedulers_words(
        cluster: Cluster, quiet_namespace: str, slow_resync_operator: Operator) -> None:
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"]["resources"] = {"cpu": "900", "memory": "256Mi"}
    cluster.kubectl("apply", "-n", quiet_namespace, "-f", "-", input=json.dumps(body))

    def unschedulable() -> str | None:
        found = conditions(cluster, quiet_namespace, "text-stats")
        schedulable, ready_ = found.get("Schedulable") or {}, found.get("Ready") or {}
        if ((schedulable.get("status"), schedulable.get("reason")) == ("False", "Unschedulable")
                and ready_.get("reason") == "Unschedulable"):
            return str(schedulable["message"])
        return None

    message = wait_until(unschedulable, 30, "Schedulable=False with reason Unschedulable")
    assert "Insufficient cpu" in message and "nodes are available" in message
    assert message.startswith("pod text-stats-")
    assert any("Insufficient cpu" in m for m in
               warnings(cluster, quiet_namespace, "text-stats", "Unschedulable"))
