#!/usr/bin/env python3
"""apply -> Ready latency of ToolServices through the operator, against a baseline.

The baseline creates the very same child objects (from the same builders) by
server-side apply straight from this script, and waits for the Deployment to
be available: what the operator's latency would be with no operator overhead.
Both run in the same process against the same local API server, one object at
a time, so the ratio is what the operator adds.

    .venv/bin/python hack/bench/bench_reconcile.py [--count 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, watch  # noqa: E402
from support import (  # noqa: E402
    delete_namespaces,
    local_cluster,
    operator_process,
    percentile,
    sh,
    wait_for,
)

from toolfleet.api.toolservice import ToolServiceSpec  # noqa: E402
from toolfleet.resources.children import build_children  # noqa: E402
from toolfleet.resources.meta import Owner  # noqa: E402
from toolfleet.runtime import kube  # noqa: E402
from toolfleet.settings import Settings  # noqa: E402

SPEC: dict[str, Any] = {
    "version": "1.0.0", "image": "toolfleet/bench:1.0.0",
    "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
    "tools": [{"name": "echo", "description": "Echo the input.",
               "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}],
}


class Watcher:
    """Signals, per object name, the first time a watched object satisfies `done`."""

    def __init__(self, stream: Callable[[], Iterator[dict[str, Any]]],
                 done: Callable[[dict[str, Any]], bool]) -> None:
        self.seen: dict[str, float] = {}
        self.events: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.stream, self.done = stream, done
        threading.Thread(target=self.run, daemon=True).start()

    def run(self) -> None:
        while True:
            for event in self.stream():
                obj = event["object"]
                if not isinstance(obj, dict):
                    obj = client.ApiClient().sanitize_for_serialization(obj)
                name = obj["metadata"]["name"]
                if self.done(obj):
                    with self.lock:
                        if name not in self.seen:
                            self.seen[name] = time.monotonic()
                            self.events.setdefault(name, threading.Event()).set()

    def wait(self, name: str, timeout: float = 120) -> float:
        with self.lock:
            flag = self.events.setdefault(name, threading.Event())
        if not flag.wait(timeout):
            raise TimeoutError(f"{name} not ready after {timeout}s")
        return self.seen[name]


def ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def available(obj: dict[str, Any]) -> bool:
    status = obj.get("status") or {}
    return int(status.get("availableReplicas") or 0) >= 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args()

    kubectl = local_cluster()
    run_id = uuid.uuid4().hex[:6]
    ns_operator, ns_direct = f"bench-op-{run_id}", f"bench-direct-{run_id}"
    for ns in (ns_operator, ns_direct):
        sh(kubectl, "create", "namespace", ns)

    port = 18000 + os.getpid() % 1000
    try:
        with operator_process(ns_operator, port, "operator-bench.log"):
            wait_for(f"http://127.0.0.1:{port}/readyz")

            custom, apps = client.CustomObjectsApi(), client.AppsV1Api()
            ts_watch = Watcher(lambda: watch.Watch().stream(
                custom.list_namespaced_custom_object, "toolfleet.io", "v1alpha1", ns_operator,
                "toolservices", timeout_seconds=300), ready)
            deploy_watch = Watcher(lambda: watch.Watch().stream(
                apps.list_namespaced_deployment, ns_direct, timeout_seconds=300), available)
            time.sleep(1)  # let both watches establish

            settings = Settings()
            operator_latency, direct_latency = [], []
            for i in range(args.count):
                name = f"svc-{i:03d}"
                body = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
                        "metadata": {"name": name, "namespace": ns_operator}, "spec": SPEC}
                started = time.monotonic()
                custom.create_namespaced_custom_object("toolfleet.io", "v1alpha1", ns_operator,
                                                       "toolservices", body)
                operator_latency.append(ts_watch.wait(name) - started)

                owner = Owner(name=name, namespace=ns_direct, uid="0",
                              spec=ToolServiceSpec.model_validate(SPEC))
                started = time.monotonic()
                for child in build_children(owner, settings):
                    child["metadata"].pop("ownerReferences")  # no owner object in the baseline
                    kube.apply(child, "bench")
                direct_latency.append(deploy_watch.wait(name) - started)
    finally:
        delete_namespaces(kubectl, ns_operator, ns_direct)

    result = {}
    for label, values in (("operator", operator_latency), ("direct", direct_latency)):
        result[label] = {"p50_ms": round(statistics.median(values) * 1000, 1),
                         "p99_ms": round(percentile(values, 0.99) * 1000, 1)}
    result["ratio"] = {
        "p50": round(result["operator"]["p50_ms"] / result["direct"]["p50_ms"], 2),
        "p99": round(result["operator"]["p99_ms"] / result["direct"]["p99_ms"], 2)}
    print(f"apply -> Ready over {args.count} ToolServices (one at a time)")
    print(f"  operator : p50 {result['operator']['p50_ms']:8.1f} ms   "
          f"p99 {result['operator']['p99_ms']:8.1f} ms")
    print(f"  direct   : p50 {result['direct']['p50_ms']:8.1f} ms   "
          f"p99 {result['direct']['p99_ms']:8.1f} ms")
    print(f"  ratio    : p50 {result['ratio']['p50']:.2f}x     p99 {result['ratio']['p99']:.2f}x")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
