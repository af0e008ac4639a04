"""Run a service as a real local process on 127.0.0.1, for tests and benchmarks.

`LocalService` starts `python -m <module>` on a free port, waits (with a
timeout, polling) until /readyz answers 200, and stops the process on exit
with SIGTERM, as Kubernetes would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import httpx
from prometheus_client.parser import text_string_to_metric_families

HOST = "127.0.0.1"


class ServiceStartError(RuntimeError):
    """The service process exited or did not become ready in time."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_until(
    condition: Callable[[], bool], timeout_seconds: float, what: str, interval: float = 0.05
) -> None:
    """Poll `condition` until it holds; TimeoutError naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not true after {timeout_seconds}s")
        time.sleep(interval)


class LocalService:
    """`python -m <module>` as a child process, ready to call at `url`."""

    def __init__(
        self, module: str, env: Mapping[str, str] | None = None,
        ready_timeout_seconds: float = 60.0,
    ) -> None:
        self.module = module
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self._extra_env = dict(env or {})
        self._ready_timeout = ready_timeout_seconds
        descriptor, log_name = tempfile.mkstemp(prefix=f"{module}-", suffix=".log")
        os.close(descriptor)
        self._log_path = Path(log_name)
        self._final_output: str | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> LocalService:
        """Start the process and wait until it is ready."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self._extra_env}
        with self._log_path.open("wb") as log:  # the child keeps its own copy of the file
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module, "--host", HOST, "--port", str(self.port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Poll /readyz until it answers 200, the process exits, or the timeout passes."""
        deadline = time.monotonic() + self._ready_timeout
        last = "no answer yet"
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise ServiceStartError(
                        f"{self.module} exited with {self.exit_code()} before it was ready:\n"
                        f"{self.output()}"
                    )
                try:
                    response = client.get(f"{self.url}/readyz")
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
                except httpx.TransportError as error:
                    last = repr(error)
                time.sleep(0.1)
        raise ServiceStartError(
            f"{self.module} not ready after {self._ready_timeout:.0f}s (last: {last}):\n"
            f"{self.output()}"
        )

    def terminate(self, timeout_seconds: float = 30.0) -> int:
        """Send SIGTERM and wait for the process to exit; its exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise ServiceStartError(
                f"{self.module} did not exit {timeout_seconds:.0f}s after SIGTERM"
            ) from None

    def metric(self, name: str, **labels: str) -> float:
        """The current value of one sample of /metrics (0 if the sample is absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5.0).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(key) == value for key, value in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    def exit_code(self) -> int | None:
        """The exit code, or None while the process runs."""
        return None if self.process is None else self.process.poll()

    def output(self) -> str:
        """Everything the process has printed so far."""
        if self._final_output is not None:
            return self._final_output
        return self._log_path.read_bytes().decode(errors="replace")

    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.terminate()
        finally:
            self._final_output = self.output()
            self._log_path.unlink(missing_ok=True)
