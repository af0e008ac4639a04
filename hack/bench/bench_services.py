#!/usr/bin/env python3
"""Latency and throughput of the specialist services on 1,000-row calls.

Starts cluster-analyzer and anomaly-detector as real processes on 127.0.0.1
(as the tests do), then for each: a few warm-up calls, a sequential phase
(one call at a time) and a short concurrent phase (several clients at once),
and prints p50 and p99 latency and calls per second. The number of calls is
fixed, so it ends by itself; it exits 1 if any call fails.

    .venv/bin/python hack/bench/bench_services.py [--sequential 50] [--clients 4]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
for source_root in ("services/common", "services/cluster-analyzer", "services/anomaly-detector"):
    sys.path.insert(0, str(ROOT / source_root))

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from toolfleet_service.local import LocalService  # noqa: E402

ROWS = 1000
WARM_UP_CALLS = 3


@dataclass(frozen=True)
class Phase:
    """What one phase measured."""

    name: str
    latencies: list[float]
    seconds: float

    def row(self, service: str) -> str:
        p50, p99 = np.percentile(self.latencies, [50, 99]) * 1000
        rate = len(self.latencies) / self.seconds
        return (f"{service:<18} {self.name:<14} {len(self.latencies):>6} {p50:>9.1f} "
                f"{p99:>9.1f} {rate:>8.1f}")


def customers(rows: int, rng: np.random.Generator) -> dict[str, Any]:
    """segment_customers arguments: three kinds of customer."""
    spend, visits = [300.0, 1500.0, 5000.0], [3.0, 12.0, 30.0]
    channels = [["store", "store", "online"], ["online", "online", "app"], ["app", "online"]]
    records = []
    for number in range(rows):
        kind = number % 3
        records.append({
            "customer_id": f"c{number:05d}",
            "annual_spend": round(float(rng.normal(spend[kind], spend[kind] * 0.15)), 2),
            "visits": round(float(rng.normal(visits[kind], 2.0)), 1),
            "basket": round(float(rng.normal(20 + 30 * kind, 5)), 2),
            "channel": str(rng.choice(channels[kind])),
        })
    return {"records": records, "id_field": "customer_id"}


def transactions(rows: int, rng: np.random.Generator) -> dict[str, Any]:
    """score_anomalies arguments: card payments, 1% of them odd."""
    records = []
    for number in range(rows):
        odd = number % 100 == 0
        records.append({
            "transaction_id": f"t{number:05d}",
            "amount": round(float(rng.normal(45, 12) * (60 if odd else 1)), 2),
            "items": int(rng.integers(1, 6)) + (30 if odd else 0),
            "hour": int(rng.integers(8, 22)) if not odd else 3,
            "country": str(rng.choice(["NL", "NL", "NL", "BE", "DE"])),
        })
    return {"records": records, "id_field": "transaction_id", "contamination": 0.01}


def measure(call: Callable[[], float], calls: int, clients: int, name: str) -> Phase:
    """Run `calls` calls over `clients` threads; each call returns its own latency."""
    started = time.perf_counter()
    if clients == 1:
        latencies = [call() for _ in range(calls)]
    else:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            latencies = list(pool.map(lambda _: call(), range(calls)))
    return Phase(name, latencies, time.perf_counter() - started)


def bench(module: str, tool: str, arguments: dict[str, Any], sequential: int, clients: int,
          per_client: int) -> list[Phase]:
    """Start the service, warm it up, and measure both phases."""
    body = httpx.Request("POST", "/", json=arguments).content
    with LocalService(module, env={"TOOLFLEET_LOG_LEVEL": "warning"}) as service, \
            httpx.Client(base_url=service.url, timeout=120,
                         limits=httpx.Limits(max_connections=clients)) as client:

        def call() -> float:
            started = time.perf_counter()
            response = client.post(f"/tools/{tool}", content=body,
                                   headers={"content-type": "application/json"})
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{tool}: {response.status_code} {response.text[:500]}")
            return elapsed

        for _ in range(WARM_UP_CALLS):
            call()
        return [
            measure(call, sequential, 1, "sequential"),
            measure(call, clients * per_client, clients, f"{clients} clients"),
        ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description="Benchmark the specialist services.")
    parser.add_argument("--sequential", type=int, default=50, help="calls, one at a time")
    parser.add_argument("--clients", type=int, default=4, help="clients in the concurrent phase")
    parser.add_argument("--per-client", type=int, default=10, help="calls per concurrent client")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(2024)
    cases = [
        ("cluster-analyzer", "cluster_analyzer", "segment_customers", customers(ROWS, rng)),
        ("anomaly-detector", "anomaly_detector", "score_anomalies", transactions(ROWS, rng)),
    ]
    print(f"{ROWS}-row calls over HTTP on 127.0.0.1; latency in ms")
    print(f"{'service':<18} {'phase':<14} {'calls':>6} {'p50':>9} {'p99':>9} {'calls/s':>8}")
    for service, module, tool, arguments in cases:
        for phase in bench(module, tool, arguments, args.sequential, args.clients,
                           args.per_client):
            print(phase.row(service), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
