"""What the benchmarks share: commands, ports and waits, the local cluster, an operator process.

Imported by the bench_*.py scripts beside it (Python puts a script's folder on
sys.path); not a benchmark itself, so `make bench` does not run it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kubernetes import config

REPO = Path(__file__).resolve().parents[2]


def sh(*args: str, **kwargs: Any) -> str:
    """Runs a command to completion (failing on a non-zero exit); its standard output."""
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def percentile(values: list[float], q: float) -> float:
    """The value at quantile `q` (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> None:
    """Returns once `url` answers 200; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout}s")
        time.sleep(0.1)


def local_cluster() -> str:
    """Starts the local control plane and installs the CRDs; the kubectl binary to use.

    Also points KUBECONFIG (for child processes) and the kubernetes client at it.
    """
    sh(str(REPO / "hack" / "cluster.sh"), "up")
    os.environ["KUBECONFIG"] = str(REPO / ".cluster" / "kubeconfig")
    kubectl = str(Path(sh(str(REPO / "hack" / "binaries.sh"), "--check").strip()) / "kubectl")
    sh(kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    return kubectl


@contextlib.contextmanager
def operator_process(namespace: str, port: int, log_name: str,
                     env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The operator watching `namespace`, serving HTTP on 127.0.0.1:`port`, while in the block.

    Its output goes to .cluster/logs/`log_name`.
    """
    with (REPO / ".cluster" / "logs" / log_name).open("wb") as log:
        operator = subprocess.Popen(
            [sys.executable, "-m", "toolfleet.cli", "run", "--namespace", namespace],
            env={**os.environ, "TOOLFLEET_HTTP_PORT": str(port),
                 "TOOLFLEET_HTTP_HOST": "127.0.0.1", **(env or {})},
            stdout=log, stderr=subprocess.STDOUT)
        try:
            yield operator
        finally:
            operator.terminate()
            operator.wait(timeout=30)


def delete_namespaces(kubectl: str, *namespaces: str) -> None:
    """Deletes `namespaces` without waiting, ignoring any that are already gone."""
    for namespace in namespaces:
        subprocess.run([kubectl, "delete", "namespace", namespace, "--wait=false"],
                       capture_output=True)
