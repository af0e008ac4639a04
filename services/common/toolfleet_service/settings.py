"""Settings every toolfleet service reads from its environment, with their defaults.

This is the one place a service's knobs are named. The ToolService `env` list sets
them in a cluster; the services README lists them for users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

DEFAULT_PORT = 8080
DEFAULT_HOST = "0.0.0.0"  # every interface: in a pod, the kubelet and the Service reach the IP
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# Tool calls computed at once; the others wait their turn (and count as in
# flight, which is what the autoscaler should see). The tools are CPU-bound and
# partly hold the GIL: on 1,000-row calls a second thread bought no throughput
# and cost the anomaly detector a third of it. Raise it for tools that release
# the GIL, on pods with more than one CPU.
DEFAULT_WORKER_THREADS = 1
# Kubernetes sends SIGKILL 30 s (terminationGracePeriodSeconds) after SIGTERM by
# default; finishing in-flight requests must end before that.
DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 25

_T = TypeVar("_T", int, float)


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


@dataclass(frozen=True)
class ServiceSettings:
    """How one service process behaves; see `from_env` for the variable names."""

    version: str
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    worker_threads: int = DEFAULT_WORKER_THREADS
    fault_rate: float = 0.0
    fault_delay_seconds: float = 0.0
    shutdown_timeout_seconds: int = DEFAULT_SHUTDOWN_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, default_version: str) -> ServiceSettings:
        """Read the settings from environment variables.

        PORT, TOOLFLEET_HOST: where to listen.
        TOOLFLEET_VERSION: the version reported in /healthz and the X-Toolfleet-Version
            header, so a canary and the stable instance can be told apart.
        TOOLFLEET_MAX_ROWS, TOOLFLEET_MAX_BODY_BYTES: input limits; larger requests get 413.
        TOOLFLEET_WORKER_THREADS: tool calls computed at once; more wait their turn.
        TOOLFLEET_FAULT_RATE (0..1): this fraction of tool calls fail with 500, to
            demonstrate a canary that fails its error-rate analysis.
        TOOLFLEET_FAULT_DELAY_SECONDS: added to every tool call, to demonstrate a canary
            that fails its latency analysis.
        TOOLFLEET_SHUTDOWN_TIMEOUT_SECONDS: how long SIGTERM waits for in-flight requests.
        """
        return cls(
            version=env.get("TOOLFLEET_VERSION", "").strip() or default_version,
            host=env.get("TOOLFLEET_HOST", "").strip() or DEFAULT_HOST,
            port=_read(env, "PORT", int, DEFAULT_PORT, 1, 65535),
            max_rows=_read(env, "TOOLFLEET_MAX_ROWS", int, DEFAULT_MAX_ROWS, 1, 10_000_000),
            max_body_bytes=_read(
                env, "TOOLFLEET_MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES, 1024, 1 << 31
            ),
            worker_threads=_read(
                env, "TOOLFLEET_WORKER_THREADS", int, DEFAULT_WORKER_THREADS, 1, 64
            ),
            fault_rate=_read(env, "TOOLFLEET_FAULT_RATE", float, 0.0, 0.0, 1.0),
            fault_delay_seconds=_read(
                env, "TOOLFLEET_FAULT_DELAY_SECONDS", float, 0.0, 0.0, 600.0
            ),
            shutdown_timeout_seconds=_read(
                env, "TOOLFLEET_SHUTDOWN_TIMEOUT_SECONDS", int,
                DEFAULT_SHUTDOWN_TIMEOUT_SECONDS, 0, 3600,
            ),
        )


def _read(
    env: Mapping[str, str], name: str, kind: Callable[[str], _T], default: _T,
    low: _T, high: _T,
) -> _T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    what = "an integer" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(
            f"{name} must be {what} from {low} to {high} (got {raw!r}); unset it for {default}"
        ) from None
    if not low <= value <= high:  # also false for nan
        raise SettingsError(
            f"{name} must be {what} from {low} to {high} (got {raw!r}); unset it for {default}"
        )
    return value
