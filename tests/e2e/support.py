"""Helpers for e2e tests: the local cluster handle and waiting for conditions."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SH = REPO / "hack" / "cluster.sh"


@dataclass
class Cluster:
    """A running local control plane."""

    kubeconfig: Path
    bin_dir: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raises with its stderr when check fails."""
        proc = subprocess.run(
            [str(self.bin_dir / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def get(self, *args: str) -> Any:
        """kubectl get ... -o json, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def table(self, *args: str) -> list[dict[str, str]]:
        """`kubectl get ...` as a user reads it: each row, column header to value ("" where
        the cell is blank). Cells are cut at the header's offsets, as kubectl aligns them."""
        header, *rows = self.kubectl("get", *args).stdout.splitlines()
        starts = [m.start() for m in re.finditer(r"\S+", header)]
        names = header.split()
        ends: list[int | None] = [*starts[1:], None]
        return [{name: row[start:end].strip()
                 for name, start, end in zip(names, starts, ends, strict=True)}
                for row in rows]

    def wait_established(self, *crds: str, timeout: float = 60) -> None:
        """Wait until each CRD (by name) is Established.

        Not `kubectl wait`: on a CRD the API server has not given a status yet
        it fails at once (".status.conditions accessor error") instead of waiting.
        """
        def established(crd: str) -> bool:
            conditions = (self.get("crd", crd).get("status") or {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True"
                       for c in conditions)

        for crd in crds:
            wait_until(lambda crd=crd: established(crd), timeout, f"CRD {crd} to be Established")

    def env(self) -> dict[str, str]:
        """An environment whose KUBECONFIG points at this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig),
                "PATH": f"{self.bin_dir}:{os.environ.get('PATH', '')}"}


def wait_until(check: Callable[[], Any], timeout: float, what: str,
               interval: float = 0.25) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")




@contextlib.contextmanager
def http_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a thread; yields its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Operator:
    """A toolfleet operator process running against the local cluster."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL of its HTTP server (health, metrics, catalogs)."""
        return f"http://127.0.0.1:{self.port}"

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels` (0 when absent)."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    total += sample.value
        return total

    def log(self) -> str:
        """Everything the operator logged so far."""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 5000) -> str:
        """The end of the operator's log, short enough for a failure message."""
        return self.log()[-chars:]
