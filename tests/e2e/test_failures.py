"""Failures of the API server during a reconcile, as a platform team meets them.

An admission webhook that nobody serves, with failurePolicy Fail, makes the
API server answer every Deployment write with 500 ("failed calling webhook"):
a temporary failure the operator must retry on its own, with backoff, and not
wait for the next resync. The operator here resyncs once an hour, so only the
retry can bring the ToolService up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.e2e.conftest import fresh_namespace, start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, free_port, wait_until

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


def test_a_temporary_api_failure_is_retried_with_backoff_not_left_to_the_resync(
        cluster: Cluster, quiet_namespace: str, slow_resync_operator: Operator) -> None:
    webhook = f"toolfleet-e2e-unserved-{quiet_namespace}"
    cluster.kubectl("apply", "-f", "-", input=json.dumps(unserved_webhook(webhook,
                                                                          quiet_namespace)))
    try:
        cluster.kubectl("apply", "-n", quiet_namespace, "-f", "-",
                        input=json.dumps(yaml.safe_load(SAMPLE.read_text())))
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
    # The API server heals; the next retry (capped at 30 s) brings the service up,
    # an hour before the resync would have.
    cluster.kubectl("wait", "-n", quiet_namespace, "--for=condition=Ready", "--timeout=60s",
                    "toolservice/text-stats", timeout=70)
