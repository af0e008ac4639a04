#!/usr/bin/env python3
"""The toolfleet demo: the operator on a local cluster, with the two sample services.

1. starts the local control plane (hack/cluster.sh) and installs the CRDs;
2. runs the operator, and both specialist services as local processes
   (kwok's pods run no code, so the services' code runs here instead);
3. applies services/*/deploy/toolservice.yaml and waits for Ready;
4. prints the tool catalog in OpenAI format, as an LLM router would read it;
5. calls segment_customers at the endpoint the catalog names, mapping the
   in-cluster address to the local process (and saying so).

    make demo                     # then Ctrl-C to stop the operator and services
    .venv/bin/python hack/demo.py --no-wait --namespace demo
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
KUBECONFIG = REPO / ".cluster" / "kubeconfig"
SERVICES = {"cluster-analyzer": "cluster_analyzer", "anomaly-detector": "anomaly_detector"}


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run(*args: str, **kwargs: Any) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs).stdout


def customers(seed: int = 7) -> list[dict[str, Any]]:
    """Three kinds of customer: bargain hunters, loyal families, big-ticket online buyers."""
    rng = random.Random(seed)
    kinds = [("store", 300, 4, 25), ("store", 1200, 14, 60), ("online", 5200, 3, 900)]
    records = []
    for i in range(90):
        channel, spend, visits, basket = kinds[i % 3]
        records.append({
            "customer_id": f"c{i:03d}",
            "annual_spend": round(rng.gauss(spend, spend * 0.08), 2),
            "visits_per_month": max(1, round(rng.gauss(visits, 1))),
            "avg_basket": round(rng.gauss(basket, basket * 0.1), 2),
            "channel": channel,
        })
    return records


class Kubectl:
    """kubectl against the local cluster."""

    def __init__(self, binary: str, env: dict[str, str]) -> None:
        self.binary, self.env = binary, env

    def __call__(self, *args: str, **kwargs: Any) -> str:
        """Runs kubectl (failing on a non-zero exit); its standard output."""
        return run(self.binary, *args, env=self.env, **kwargs)

    def succeeds(self, *args: str) -> bool:
        """Whether kubectl exits 0, its output discarded."""
        return subprocess.run([self.binary, *args], env=self.env,
                              capture_output=True).returncode == 0


def start_cluster() -> Kubectl:
    """Starts the local control plane and installs the CRDs."""
    say("Starting the local control plane (first run builds the binaries; later runs reuse them)")
    subprocess.run([str(REPO / "hack" / "cluster.sh"), "up"], check=True)
    binary = str(Path(run(str(REPO / "hack" / "binaries.sh"), "--check").strip()) / "kubectl")
    kubectl = Kubectl(binary, {**os.environ, "KUBECONFIG": str(KUBECONFIG)})
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(REPO / "crds"))
    for crd in ("toolservices.toolfleet.io", "toolcatalogs.toolfleet.io"):
        kubectl("wait", "--for=condition=Established", "--timeout=30s", f"crd/{crd}")
    return kubectl


def start_operator(kubectl: Kubectl, ns: str, port: int) -> subprocess.Popen[bytes]:
    """The operator watching `ns`, its catalog endpoint on 127.0.0.1:`port`."""
    log_path = REPO / ".cluster" / "logs" / "operator-demo.log"
    say(f"Starting the operator (log: {log_path.relative_to(REPO)}, "
        f"catalog endpoint: http://127.0.0.1:{port})")
    return subprocess.Popen(
        [sys.executable, "-m", "toolfleet.cli", "run", "--namespace", ns],
        env={**kubectl.env, "TOOLFLEET_HTTP_PORT": str(port), "TOOLFLEET_HTTP_HOST": "127.0.0.1",
             "TOOLFLEET_NAMESPACE": ns},
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def apply_samples(kubectl: Kubectl, ns: str) -> None:
    """Applies each service's deploy/toolservice.yaml in `ns` and waits for them to be Ready."""
    say(f"kubectl apply -n {ns} -f services/*/deploy/toolservice.yaml")
    for name in SERVICES:
        manifest = yaml.safe_load((REPO / "services" / name / "deploy" /
                                   "toolservice.yaml").read_text())
        manifest["metadata"]["namespace"] = ns
        print(kubectl("apply", "-f", "-", input=json.dumps(manifest)).strip())
    for name in SERVICES:
        kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=120s",
                f"toolservice/{name}", timeout=130)
    print(kubectl("get", "toolservices", "-n", ns))


def openai_catalog(catalog_url: str, timeout: float = 30) -> httpx.Response:
    """The catalog in OpenAI format, once it lists every sample service."""
    deadline = time.monotonic() + timeout
    while True:
        openai = httpx.get(catalog_url, params={"format": "openai"}, timeout=10)
        if openai.status_code == 200 and len(openai.json()) >= len(SERVICES):
            return openai
        if time.monotonic() > deadline:
            raise SystemExit(f"the catalog did not list the services: {openai.text[:500]}")
        time.sleep(0.5)


def show_catalog(catalog_url: str) -> None:
    """Prints the tools as an LLM router reads them, and saves the whole document."""
    say(f"GET {catalog_url}?format=openai")
    openai = openai_catalog(catalog_url)
    tools = openai.json()
    saved = REPO / ".cluster" / "demo-catalog-openai.json"
    saved.write_text(json.dumps(tools, indent=2))
    for tool in tools:
        fn = tool["function"]
        params = ", ".join(fn["parameters"].get("properties", {}))
        print(f"  - {fn['name']}({params})" + ("  [strict]" if fn.get("strict") else ""))
        print(f"      {fn['description'][:140]}...")
    print(f"  (the whole document, {len(openai.content)} bytes, is in "
          f"{saved.relative_to(REPO)})")


def call_segment_customers(catalog_url: str, local: str) -> None:
    """Calls segment_customers at the path the catalog names, on the local process."""
    say("Calling segment_customers where the catalog says it lives")
    canonical = httpx.get(catalog_url, timeout=10).json()
    tool = next(t for t in canonical["tools"] if t["name"] == "segment_customers")
    endpoint = tool["endpoints"][0]["url"]
    print(f"    catalog endpoint: {endpoint}{tool['path']}")
    print(f"    kwok pods run no code, so the demo sends it to the local process: "
          f"{local}{tool['path']}")
    question = "analyse these customer segments and tell me the most common purchasing " \
               "behaviours"
    print(f"    the orchestrator's question: \"{question}\"")
    answer = httpx.post(f"{local}{tool['path']}", timeout=60,
                        json={"records": customers(), "id_field": "customer_id"}).json()
    print(f"    k = {answer['k']}")
    for line in answer["summary"].splitlines():
        print(f"    {line}")


def wait_for_ctrl_c(port: int) -> None:
    """Keeps everything running until SIGINT or SIGTERM."""
    say("The operator and both services keep running; press Ctrl-C to stop them "
        "(the cluster stays up: `make cluster-down` stops it)")
    print(f"    export KUBECONFIG={KUBECONFIG}")
    print(f"    curl 'http://127.0.0.1:{port}/v1/catalogs/default?format=mcp'")
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.sigwait({signal.SIGINT, signal.SIGTERM})


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the toolfleet demo on a local cluster.")
    parser.add_argument("--namespace", default="default",
                        help="namespace for the sample ToolServices (the demo's operator "
                        "watches only it)")
    parser.add_argument("--no-wait", action="store_true",
                        help="stop everything after the walk-through instead of waiting")
    args = parser.parse_args()
    ns = args.namespace
    sys.path.insert(0, str(REPO / "services" / "common"))
    from toolfleet_service.local import LocalService, free_port

    kubectl = start_cluster()
    if not kubectl.succeeds("get", "namespace", ns):
        kubectl("create", "namespace", ns)
    port = free_port()
    operator = start_operator(kubectl, ns, port)
    processes: dict[str, LocalService] = {}
    try:
        say("Starting the specialist services as local processes")
        for name, module in SERVICES.items():
            processes[name] = LocalService(module, env={"TOOLFLEET_VERSION": "1.0.0"}).start()
            print(f"    {name}: {processes[name].url}")

        apply_samples(kubectl, ns)
        catalog_url = f"http://127.0.0.1:{port}/v1/catalogs/default"
        show_catalog(catalog_url)
        call_segment_customers(catalog_url, processes["cluster-analyzer"].url)

        if not args.no_wait:
            wait_for_ctrl_c(port)
        return 0
    finally:
        for service in processes.values():
            service.terminate()
        operator.terminate()
        try:
            operator.wait(timeout=20)
        except subprocess.TimeoutExpired:
            operator.kill()


if __name__ == "__main__":
    raise SystemExit(main())
