"""The e2e fixtures: a real control plane (hack/cluster.sh) and kubectl against it.

The session starts the cluster, or reuses one already up (then leaves it up),
and tears down only what it started.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.support import CLUSTER_SH, REPO, Cluster, Operator, free_port, wait_until

# Short, so that tests can watch a resync happen; the default is minutes.
RESYNC_SECONDS = 2
# Where the operator publishes the built-in catalog's ConfigMaps.
OPERATOR_NAMESPACE = "toolfleet-system"
WEBHOOK_CONFIGURATION = "toolfleet.io"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The local control plane, started for this session unless it is already up."""
    was_up = subprocess.run([str(CLUSTER_SH), "status"], capture_output=True).returncode == 0
    if not was_up:
        start_cluster()
    bin_dir = subprocess.run([str(REPO / "hack" / "binaries.sh"), "--check"], check=True,
                             capture_output=True, text=True).stdout.strip()
    kubeconfig = Path(os.environ.get("TOOLFLEET_CLUSTER_DIR", REPO / ".cluster")) / "kubeconfig"
    try:
        yield Cluster(kubeconfig=kubeconfig, bin_dir=Path(bin_dir))
    finally:
        if not was_up:
            subprocess.run([str(CLUSTER_SH), "down"], check=False, timeout=120)


def start_cluster() -> None:
    """hack/cluster.sh up; on failure its last lines go into every e2e error's summary
    line, which is all a truncated CI log may keep."""
    up = subprocess.run([str(CLUSTER_SH), "up"], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, timeout=1800)
    sys.stdout.write(up.stdout)
    if up.returncode != 0:
        last = [line for line in up.stdout.splitlines() if line.strip()][-3:]
        pytest.fail(f"hack/cluster.sh up failed (exit {up.returncode}): " + " | ".join(last),
                    pytrace=False)


@contextlib.contextmanager
def fresh_namespace(cluster: Cluster, prefix: str) -> Iterator[str]:
    """A new namespace `<prefix><random>`, deleted afterwards.

    Prefix `ro-` keeps the session operator out (it watches `!ro-*`), for a
    test that runs operators of its own there.
    """
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    with fresh_namespace(cluster, "t-") as name:
        yield name


def start_operator(cluster: Cluster, log_path: Path,
                   extra_env: dict[str, str] | None = None,
                   args: tuple[str, ...] = ()) -> Operator:
    """Start `toolfleet run` against the cluster and wait until it serves /readyz."""
    import sys
    import urllib.error
    import urllib.request

    port = free_port()
    env = {**cluster.env(), "TOOLFLEET_HTTP_PORT": str(port), "TOOLFLEET_HTTP_HOST": "127.0.0.1",
           "TOOLFLEET_RESYNC_SECONDS": str(RESYNC_SECONDS), **(extra_env or {})}
    log = log_path.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "toolfleet.cli", "run", *args], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    op = Operator(process=process, port=port, log_path=log_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"operator exited {process.returncode}:\n{op.log_tail()}")
        try:
            with urllib.request.urlopen(f"{op.url}/readyz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError):
            return False

    wait_until(ready, 60, "the operator to serve /readyz")
    return op


def stop_operator(op: Operator) -> None:
    """SIGTERM, then SIGKILL if it does not stop in time."""
    op.process.terminate()
    try:
        op.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        op.process.kill()
        op.process.wait(timeout=10)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    """toolfleet's CRDs, installed from crds/ as a user would."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for crd in sorted((REPO / "crds").glob("*.yaml")):
        name = crd.name.removesuffix(".yaml")
        cluster.wait_established(name)


@pytest.fixture(scope="session")
def operator(cluster: Cluster, crds: None) -> Iterator[Operator]:
    """One operator process for the session, with its admission webhook on loopback TLS."""
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    if cluster.kubectl("get", "namespace", OPERATOR_NAMESPACE, check=False).returncode:
        cluster.kubectl("create", "namespace", OPERATOR_NAMESPACE)
    webhook_dir = log_dir / "webhook-tls"
    # Rollout tests run operators of their own in ro-* namespaces (they kill and
    # restart them); the session operator stays out of those.
    op = start_operator(cluster, log_dir / "operator-e2e.log", args=("--namespace", "!ro-*"),
                        extra_env={
        "TOOLFLEET_NAMESPACE": OPERATOR_NAMESPACE,
        "TOOLFLEET_WEBHOOK_HOST": "127.0.0.1",
        "TOOLFLEET_WEBHOOK_LISTEN": "127.0.0.1",
        "TOOLFLEET_WEBHOOK_PORT": str(free_port()),
        "TOOLFLEET_WEBHOOK_CERT_DIR": str(webhook_dir),
    })
    try:
        # Admission is live once the API server has the webhook's configuration.
        wait_until(lambda: cluster.kubectl("get", "validatingwebhookconfiguration",
                                           WEBHOOK_CONFIGURATION, check=False).returncode == 0,
                   60, "the admission webhook to be registered")
        yield op
    finally:
        stop_operator(op)
        # A webhook nobody serves would refuse every later ToolService.
        cluster.kubectl("delete", "validatingwebhookconfiguration", WEBHOOK_CONFIGURATION,
                        "--ignore-not-found", check=False)
        import shutil

        shutil.rmtree(webhook_dir, ignore_errors=True)
