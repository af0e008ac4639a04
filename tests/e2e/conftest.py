"""The e2e fixtures: a real control plane (hack/cluster.sh) and kubectl against it.

The session starts the cluster, or reuses one already up (then leaves it up),
and tears down only what it started.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e.support import CLUSTER_SH, REPO, Cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The local control plane, started for this session unless it is already up."""
    was_up = subprocess.run([str(CLUSTER_SH), "status"], capture_output=True).returncode == 0
    if not was_up:
        subprocess.run([str(CLUSTER_SH), "up"], check=True, timeout=1800)
    bin_dir = subprocess.run([str(REPO / "hack" / "binaries.sh"), "--check"], check=True,
                             capture_output=True, text=True).stdout.strip()
    kubeconfig = Path(os.environ.get("TOOLFLEET_CLUSTER_DIR", REPO / ".cluster")) / "kubeconfig"
    try:
        yield Cluster(kubeconfig=kubeconfig, bin_dir=Path(bin_dir))
    finally:
        if not was_up:
            subprocess.run([str(CLUSTER_SH), "down"], check=False, timeout=120)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)
