"""What the benchmarks share: commands, ports and waits, the local cluster, an operator process.

Imported by the bench_*.py scripts beside it (Python puts a script's folder on
sys.path); not a benchmark itself, so `make bench` does not run it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kubernetes import config

REPO = Path(__file__).resolve().parents[2]
# One foreground nginx worker, every file it writes kept in its own directory; the
# bench's own `http` directives follow.
NGINX_PRELUDE = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_requests 10000000;
"""


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


def local_cluster(cluster_dir: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Starts the local control plane and installs the CRDs; the kubectl binary to use.

    `cluster_dir` keeps a cluster of its own apart from the checkout's (.cluster/),
    and `env` passes hack/cluster.sh more settings (TOOLFLEET_SCALE_NODES). Also
    points KUBECONFIG (for child processes) and the kubernetes client at it.
    """
    sh(str(REPO / "hack" / "cluster.sh"), "up", env=cluster_env(cluster_dir, env))
    os.environ["KUBECONFIG"] = str((cluster_dir or REPO / ".cluster") / "kubeconfig")
    kubectl = str(Path(sh(str(REPO / "hack" / "binaries.sh"), "--check").strip()) / "kubectl")
    sh(kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    return kubectl


def stop_cluster(cluster_dir: Path) -> None:
    """Stops the cluster `local_cluster(cluster_dir)` started and removes its state."""
    sh(str(REPO / "hack" / "cluster.sh"), "down", env=cluster_env(cluster_dir))


def cluster_env(cluster_dir: Path | None, env: Mapping[str, str] | None = None
                ) -> dict[str, str]:
    """The environment of hack/cluster.sh for the cluster in `cluster_dir` (None: .cluster/).

    A cluster of its own never takes the real node: one per machine, and the
    checkout's cluster may hold it.
    """
    if cluster_dir is None:
        return {**os.environ, **(env or {})}
    return {**os.environ, "TOOLFLEET_CLUSTER_DIR": str(cluster_dir),
            "TOOLFLEET_REAL_NODE": "0", **(env or {})}


@contextlib.contextmanager
def operator_process(namespace: str, port: int, log_name: str,
                     env: Mapping[str, str] | None = None,
                     log_dir: Path = REPO / ".cluster" / "logs"
                     ) -> Iterator[subprocess.Popen[bytes]]:
    """The operator watching `namespace`, serving HTTP on 127.0.0.1:`port`, while in the block.

    Its output goes to `log_dir`/`log_name`.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / log_name).open("wb") as log:
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


def find_nginx(explicit: str | None) -> str | None:
    """The nginx binary: `explicit` if given, else the one on PATH or in sbin; None if absent."""
    candidates = [explicit] if explicit else [
        shutil.which("nginx") or "", "/usr/sbin/nginx", "/usr/local/sbin/nginx"]
    return next((p for p in candidates if p and os.access(p, os.X_OK)), None)


def stop(process: subprocess.Popen[bytes], graceful: signal.Signals) -> None:
    """Asks a server to stop with `graceful`; kills it if it has not within 20 seconds."""
    process.send_signal(graceful)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def nginx_running(nginx: str, http: str, ready_path: str, prepare: Any = None,
                  **fields: Any) -> Iterator[tuple[str, int, str]]:
    """nginx with NGINX_PRELUDE and `http` (the rest of its `http` block, a format string
    with {tmp}, {port} and `fields`), in a temporary directory, while in the block.

    `prepare(tmp)` may write files first. Yields its base URL, its master's pid and the
    directory; it stops gracefully (SIGQUIT) on exit.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        os.chmod(tmp, 0o755)  # nginx workers may run as another user
        if prepare is not None:
            prepare(tmp)
        config = Path(tmp, "nginx.conf")
        config.write_text((NGINX_PRELUDE + http).format(tmp=tmp, port=port, **fields))
        process = subprocess.Popen([nginx, "-p", tmp, "-c", str(config), "-e",
                                    f"{tmp}/error.log"])
        try:
            wait_for(f"http://127.0.0.1:{port}{ready_path}")
            yield f"http://127.0.0.1:{port}", process.pid, tmp
        finally:
            stop(process, signal.SIGQUIT)
