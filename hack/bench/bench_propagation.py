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
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))

from kubernetes import client, config, watch  # noqa: E402


def sh(*args: str, **kwargs: Any) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def toolservice(namespace: str, description: str) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
            "metadata": {"name": "geo", "namespace": namespace},
            "spec": {"version": "1.0.0", "image": "ghcr.io/toolfleet/geo:1.0.0",
                     "access": {"exposure": "public"},
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 1},
                     "tools": [{"name": "geocode", "description": description,
                                "inputSchema": {"type": "object",
                                                "properties": {"q": {"type": "string"}}}}]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()

    sh(str(REPO / "hack" / "cluster.sh"), "up")
    os.environ["KUBECONFIG"] = str(REPO / ".cluster" / "kubeconfig")
    kubectl = str(Path(sh(str(REPO / "hack" / "binaries.sh"), "--check").strip()) / "kubectl")
    sh(kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    config.load_kube_config(config_file=os.environ["KUBECONFIG"])
    ns = f"bench-prop-{uuid.uuid4().hex[:6]}"
    sh(kubectl, "create", "namespace", ns)
    port = 19000 + os.getpid() % 1000
    log = (REPO / ".cluster" / "logs" / "operator-bench-propagation.log").open("wb")
    operator = subprocess.Popen(
        [sys.executable, "-m", "toolfleet.cli", "run", "--namespace", ns],
        env={**os.environ, "TOOLFLEET_HTTP_PORT": str(port), "TOOLFLEET_HTTP_HOST": "127.0.0.1",
             "TOOLFLEET_NAMESPACE": ns}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/catalogs/default"
    seen: dict[str, dict[str, float]] = {"baseline": {}, "stream": {}}
    stop = threading.Event()
    try:
        sh(kubectl, "apply", "-f", "-", input=json.dumps(toolservice(ns, "Geocode v0.")))
        deadline = time.monotonic() + 120
        while True:
            try:
                body = httpx.get(url, timeout=2).json()
                if body.get("tools"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the catalog never listed the service")
            time.sleep(0.2)

        def watch_toolservice() -> None:
            api = client.CustomObjectsApi()
            for event in watch.Watch().stream(
                    api.list_namespaced_custom_object, "toolfleet.io", "v1alpha1", ns,
                    "toolservices", timeout_seconds=600):
                if stop.is_set():
                    return
                text = event["object"]["spec"]["tools"][0]["description"]
                seen["baseline"].setdefault(text, time.monotonic())

        def follow_stream() -> None:
            with httpx.stream("GET", f"{url}/events", timeout=httpx.Timeout(5, read=600)) as s:
                for line in s.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("data:"):
                        change = json.loads(line[5:])
                        seen["stream"].setdefault(change["hash"], time.monotonic())

        for target in (watch_toolservice, follow_stream):
            threading.Thread(target=target, daemon=True).start()
        time.sleep(1)

        latency: dict[str, list[float]] = {"baseline": [], "catalog": [], "stream": []}
        for i in range(1, args.changes + 1):
            etag = httpx.get(url, timeout=5).headers["ETag"]
            text = f"Geocode an address, change {i}."
            started = time.monotonic()
            sh(kubectl, "apply", "-f", "-", input=json.dumps(toolservice(ns, text)))
            while True:
                response = httpx.get(url, timeout=5)
                if response.headers["ETag"] != etag:
                    latency["catalog"].append(time.monotonic() - started)
                    new_hash = response.json()["hash"]
                    break
                time.sleep(0.01)
            for _ in range(500):
                if text in seen["baseline"] and new_hash in seen["stream"]:
                    break
                time.sleep(0.01)
            latency["baseline"].append(seen["baseline"][text] - started)
            latency["stream"].append(seen["stream"][new_hash] - started)
    finally:
        stop.set()
        operator.terminate()
        operator.wait(timeout=30)
        subprocess.run([kubectl, "delete", "namespace", ns, "--wait=false"],
                       capture_output=True)

    print(f"tool description change -> visible, over {args.changes} changes (from the apply)")
    base50 = statistics.median(latency["baseline"])
    base99 = percentile(latency["baseline"], 0.99)
    for label in ("baseline", "catalog", "stream"):
        values = latency[label]
        p50, p99 = statistics.median(values), percentile(values, 0.99)
        print(f"  {label:9}: p50 {p50 * 1000:7.1f} ms   p99 {p99 * 1000:7.1f} ms   "
              f"ratio p50 {p50 / base50:5.2f}x  p99 {p99 / base99:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
