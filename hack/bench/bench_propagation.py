#!/usr/bin/env python3
"""How fast a tool change reaches routers, against how fast the API server reports it.

For each of N description changes to a ToolService, measured from the apply:
  baseline   a plain watch on the ToolService sees the new description;
  catalog    the catalog endpoint serves a new ETag;
  stream     the catalog's server-sent-events stream delivers the change.
The ratios say what the operator adds on top of the API server's own watch.

    .venv/bin/python hack/bench/bench_propagation.py [--changes 20]
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
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, watch  # noqa: E402
from support import delete_namespaces, local_cluster, operator_process, percentile, sh  # noqa: E402

LABELS = ("baseline", "catalog", "stream")


def toolservice(namespace: str, description: str) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
            "metadata": {"name": "geo", "namespace": namespace},
            "spec": {"version": "1.0.0", "image": "toolfleet/geo:1.0.0",
                     "access": {"exposure": "public"},
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
                     "tools": [{"name": "geocode", "description": description,
                                "inputSchema": {"type": "object",
                                                "properties": {"q": {"type": "string"}}}}]}}


def wait_for_catalog(url: str, timeout: float = 120) -> None:
    """Returns once the catalog at `url` lists a tool."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).json().get("tools"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the catalog never listed the service")
        time.sleep(0.2)


def watch_toolservice(namespace: str, seen: dict[str, float], stop: threading.Event) -> None:
    """Records in `seen` when a plain watch first sees each tool description."""
    api = client.CustomObjectsApi()
    for event in watch.Watch().stream(
            api.list_namespaced_custom_object, "toolfleet.io", "v1alpha1", namespace,
            "toolservices", timeout_seconds=600):
        if stop.is_set():
            return
        text = event["object"]["spec"]["tools"][0]["description"]
        seen.setdefault(text, time.monotonic())


def follow_stream(url: str, seen: dict[str, float], stop: threading.Event) -> None:
    """Records in `seen` when the catalog's event stream first announces each hash."""
    with httpx.stream("GET", f"{url}/events", timeout=httpx.Timeout(5, read=600)) as stream:
        for line in stream.iter_lines():
            if stop.is_set():
                return
            if line.startswith("data:"):
                change = json.loads(line[5:])
                seen.setdefault(change["hash"], time.monotonic())


def wait_for_new_etag(url: str, etag: str) -> httpx.Response:
    """Polls the catalog until its ETag is no longer `etag`; the first new response."""
    while True:
        response = httpx.get(url, timeout=5)
        if response.headers["ETag"] != etag:
            return response
        time.sleep(0.01)


def measure_changes(kubectl: str, namespace: str, url: str, changes: int,
                    seen: dict[str, dict[str, float]]) -> dict[str, list[float]]:
    """Applies `changes` description changes, one at a time; each one's latency per label."""
    latency: dict[str, list[float]] = {label: [] for label in LABELS}
    for i in range(1, changes + 1):
        etag = httpx.get(url, timeout=5).headers["ETag"]
        text = f"Geocode an address, change {i}."
        started = time.monotonic()
        sh(kubectl, "apply", "-f", "-", input=json.dumps(toolservice(namespace, text)))
        response = wait_for_new_etag(url, etag)
        latency["catalog"].append(time.monotonic() - started)
        new_hash = response.json()["hash"]
        for _ in range(500):
            if text in seen["baseline"] and new_hash in seen["stream"]:
                break
            time.sleep(0.01)
        latency["baseline"].append(seen["baseline"][text] - started)
        latency["stream"].append(seen["stream"][new_hash] - started)
    return latency


def print_report(latency: dict[str, list[float]], changes: int) -> None:
    print(f"tool description change -> visible, over {changes} changes (from the apply)")
    base50 = statistics.median(latency["baseline"])
    base99 = percentile(latency["baseline"], 0.99)
    for label in LABELS:
        values = latency[label]
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(f"  {label:9}: p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
              f"ratio p50 {p50 / base50:5.2f}x  p99 {p99 / base99:5.2f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()

    kubectl = local_cluster()
    ns = f"bench-prop-{uuid.uuid4().hex[:6]}"
    sh(kubectl, "create", "namespace", ns)
    port = 19000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}/v1/catalogs/default"
    seen: dict[str, dict[str, float]] = {"baseline": {}, "stream": {}}
    stop = threading.Event()
    try:
        with operator_process(ns, port, "operator-bench-propagation.log",
                              {"TOOLFLEET_NAMESPACE": ns}):
            try:
                sh(kubectl, "apply", "-f", "-", input=json.dumps(toolservice(ns, "Geocode v0.")))
                wait_for_catalog(url)
                threading.Thread(target=watch_toolservice, args=(ns, seen["baseline"], stop),
                                 daemon=True).start()
                threading.Thread(target=follow_stream, args=(url, seen["stream"], stop),
                                 daemon=True).start()
                time.sleep(1)
                latency = measure_changes(kubectl, ns, url, args.changes, seen)
            finally:
                stop.set()
    finally:
        delete_namespaces(kubectl, ns)

    print_report(latency, args.changes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
