#!/usr/bin/env python3
"""The toolfleet demo: the operator on a local cluster, with the two sample services.

1. starts the local control plane (hack/cluster.sh) and installs the CRDs;
2. runs the operator; with the real node up (TOOLFLEET_REAL_NODE=1 make cluster-up,
   make images) the services run as real pods on it; otherwise as local processes
   (kwok's pods run no code, so the services' code runs here instead);
3. applies services/*/deploy/toolservice.yaml and waits for Ready;
4. prints the tool catalog in OpenAI format, as an LLM router would read it;
5. calls segment_customers at the endpoint the catalog names: from a client pod on
   the real node (the cluster's DNS resolves it), or else mapping the in-cluster
   address to the local process (and saying so);
6. starts the tool gateway (`toolfleet gateway`) the catalog names, and calls
   both tools through it: once in OpenAI's shape, once with the `mcp` client;
7. starts a second gateway with auth on: no token gets 401; a ServiceAccount
   granted `call` on the `default` catalog by RBAC gets its answer.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
KUBECONFIG = REPO / ".cluster" / "kubeconfig"
SERVICES = {"cluster-analyzer": "cluster_analyzer", "anomaly-detector": "anomaly_detector"}
# What a ToolService needs to run on the real node (hack/realnode.sh): its label and
# taint. Smaller CPU requests than the manifests' too: that node has the machine's CPUs.
ON_THE_REAL_NODE = {
    "nodeSelector": {"toolfleet.io/real-node": "true"},
    "tolerations": [{"key": "toolfleet.io/real-node", "operator": "Exists",
                     "effect": "NoSchedule"}],
    "resources": {"cpu": "250m", "memory": "512Mi"},
}
# A client pod's program: POST argv[2] to argv[1], print the answer.
CLIENT = """
import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(),
                                 headers={'Content-Type': 'application/json'})
print(urllib.request.urlopen(request, timeout=60).read().decode())
"""


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


def start_operator(kubectl: Kubectl, ns: str, port: int,
                   gateway_url: str) -> subprocess.Popen[bytes]:
    """The operator watching `ns`, its catalog endpoint on 127.0.0.1:`port`, naming the
    gateway at `gateway_url` in its catalogs."""
    log_path = REPO / ".cluster" / "logs" / "operator-demo.log"
    say(f"Starting the operator (log: {log_path.relative_to(REPO)}, "
        f"catalog endpoint: http://127.0.0.1:{port})")
    return subprocess.Popen(
        [sys.executable, "-m", "toolfleet.cli", "run", "--namespace", ns],
        env={**kubectl.env, "TOOLFLEET_HTTP_PORT": str(port), "TOOLFLEET_HTTP_HOST": "127.0.0.1",
             "TOOLFLEET_NAMESPACE": ns, "TOOLFLEET_GATEWAY_URL": gateway_url},
        stdout=log_path.open("wb"), stderr=subprocess.STDOUT)


def start_gateway(kubectl: Kubectl, ns: str, port: int, services: dict[str, str],
                  *options: str) -> subprocess.Popen[bytes]:
    """`toolfleet gateway` following the catalogs the demo's operator publishes in `ns`.

    `services` maps each sample's in-cluster URL to its local process.
    """
    log_path = REPO / ".cluster" / "logs" / f"gateway-demo-{port}.log"
    resolve = [a for source, target in services.items() for a in ("--resolve",
                                                                  f"{source}={target}")]
    process = subprocess.Popen(
        [sys.executable, "-m", "toolfleet.cli", "gateway", "--host", "127.0.0.1", "--port",
         str(port), "--operator-namespace", ns, *resolve, *options],
        env=kubectl.env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the gateway exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the gateway was not ready in 60s: {log_path.read_text()[-2000:]}")


def real_node_images() -> dict[str, str] | None:
    """The images `make images` built, by file name, when the real node is up; else None."""
    up = subprocess.run([str(REPO / "hack" / "realnode.sh"), "status"], capture_output=True)
    refs = {ref.stem: ref.read_text().strip()
            for ref in (REPO / "build" / "images").glob("*.ref")}
    wanted = [f"toolfleet_{name}" for name in SERVICES]
    return refs if up.returncode == 0 and all(w in refs for w in wanted) else None


def apply_samples(kubectl: Kubectl, ns: str, real_node: bool) -> None:
    """Applies each service's deploy/toolservice.yaml in `ns` and waits for them to be Ready."""
    say(f"kubectl apply -n {ns} -f services/*/deploy/toolservice.yaml"
        + (", with spec.nodeSelector and spec.tolerations for the real node" if real_node
           else ""))
    for name in SERVICES:
        manifest = yaml.safe_load((REPO / "services" / name / "deploy" /
                                   "toolservice.yaml").read_text())
        manifest["metadata"]["namespace"] = ns
        if real_node:
            manifest["spec"].update(ON_THE_REAL_NODE)
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


def call_from_a_pod(kubectl: Kubectl, ns: str, image: str, url: str,
                    body: dict[str, Any]) -> Any:
    """POSTs `body` to `url` from a pod on the real node; its JSON answer."""
    name = f"demo-client-{random.randrange(16**6):06x}"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
           "spec": {"nodeSelector": ON_THE_REAL_NODE["nodeSelector"],
                    "tolerations": ON_THE_REAL_NODE["tolerations"], "restartPolicy": "Never",
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "client", "image": image, "imagePullPolicy": "Never",
                        "command": ["python3", "-c", CLIENT, url, json.dumps(body)],
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}}]}}
    kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        kubectl("wait", "-n", ns, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s",
                f"pod/{name}", timeout=100)
        return json.loads(kubectl("logs", "-n", ns, name))
    finally:
        kubectl("delete", "pod", "-n", ns, name, "--wait=false")


def call_segment_customers(catalog_url: str, local: str | None,
                           from_a_pod: Callable[[str, dict[str, Any]], Any] | None = None,
                           ) -> None:
    """Calls segment_customers at the URL the catalog names: from a pod on the real node
    (`from_a_pod(url, body)`), or at that path on the local process `local`."""
    say("Calling segment_customers where the catalog says it lives")
    canonical = httpx.get(catalog_url, timeout=10).json()
    tool = next(t for t in canonical["tools"] if t["name"] == "segment_customers")
    endpoint = tool["endpoints"][0]["url"]
    print(f"    catalog endpoint: {endpoint}{tool['path']}")
    question = "analyse these customer segments and tell me the most common purchasing " \
               "behaviours"
    print(f"    the orchestrator's question: \"{question}\"")
    body = {"records": customers(), "id_field": "customer_id"}
    if from_a_pod is not None:
        print("    from a client pod on the real node, by the cluster's DNS name")
        answer = from_a_pod(f"{endpoint}{tool['path']}", body)
    else:
        print(f"    kwok pods run no code, so the demo sends it to the local process: "
              f"{local}{tool['path']}")
        answer = httpx.post(f"{local}{tool['path']}", timeout=60, json=body).json()
    print(f"    k = {answer['k']}")
    for line in answer["summary"].splitlines():
        print(f"    {line}")


def call_through_gateway(catalog_url: str) -> None:
    """Both tools through the one address the catalog names: /calls and MCP."""
    canonical = httpx.get(catalog_url, timeout=10).json()
    gateway = canonical["gateway"]
    say(f"The catalog names the tool gateway: {gateway['calls']} and {gateway['mcp']}")
    call = {"id": "call_1", "type": "function", "function": {
        "name": "segment_customers",
        "arguments": json.dumps({"records": customers(), "id_field": "customer_id"})}}
    print(f"    POST {gateway['calls']}?format=openai  (a tool_calls[] item, as the model "
          "produced it)")
    answer = httpx.post(gateway["calls"], params={"format": "openai"}, json=call, timeout=60)
    answer.raise_for_status()
    message = answer.json()
    print(f"    -> role={message['role']} tool_call_id={message['tool_call_id']}, k = "
          f"{json.loads(message['content'])['k']}, revision "
          f"{answer.headers.get('X-Toolfleet-Revision')}")

    import anyio
    from mcp import Client

    async def score() -> Any:
        async with Client(gateway["mcp"], mode="auto") as client:
            tools = await client.list_tools()
            print(f"    mcp client: {len(tools.tools)} tools listed at {gateway['mcp']}")
            records = [{"id": i, "amount": 20.0 + (i % 7)} for i in range(30)]
            records.append({"id": 30, "amount": 4000.0})
            return await client.call_tool("score_anomalies",
                                          {"records": records, "id_field": "id"})

    result = anyio.run(score)
    flagged = [a["id"] for a in (result.structured_content or {}).get("flagged", [])]
    print(f"    mcp client: score_anomalies -> isError={result.is_error}, flagged ids {flagged}")


def demo_rbac_role(ns: str) -> str:
    """A ClusterRole and binding letting ServiceAccount `router` of `ns` call `default`."""
    name = f"toolfleet-demo-{ns}-call-default"
    return yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": name},
         "rules": [{"apiGroups": ["toolfleet.io"], "resources": ["toolcatalogs"],
                    "resourceNames": ["default"], "verbs": ["call"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": "router", "namespace": ns}]},
    ])


def call_with_rbac(kubectl: Kubectl, ns: str, gateway: str) -> None:
    """The same call with auth on: refused without a token, answered with a granted one."""
    url = f"{gateway}/v1/catalogs/default/calls"
    call = {"type": "tool_use", "id": "toolu_1", "name": "score_anomalies",
            "input": {"records": [{"amount": 12}, {"amount": 11}, {"amount": 950}]}}
    refused = httpx.post(url, params={"format": "anthropic"}, json=call, timeout=30)
    print(f"    without a token: {refused.status_code} "
          f"{refused.json()['error']['message']}")
    print(f"    kubectl create serviceaccount router -n {ns}; a ClusterRole with verb call "
          "on toolcatalogs/default, bound to it")
    if not kubectl.succeeds("get", "serviceaccount", "router", "-n", ns):
        kubectl("create", "serviceaccount", "router", "-n", ns)
    kubectl("apply", "-f", "-", input=demo_rbac_role(ns))
    subject = f"system:serviceaccount:{ns}:router"
    allowed = subprocess.run([kubectl.binary, "auth", "can-i", "call", "toolcatalogs/default",
                              "-A", "--as", subject], env=kubectl.env, capture_output=True,
                             text=True).stdout.strip()
    print(f"    kubectl auth can-i call toolcatalogs/default -A --as {subject}: {allowed}")
    token = kubectl("create", "token", "router", "-n", ns).strip()
    answered = httpx.post(url, params={"format": "anthropic"}, json=call, timeout=60,
                          headers={"Authorization": f"Bearer {token}"})
    block = answered.json()
    print(f"    with its token: {answered.status_code} type={block.get('type')} "
          f"tool_use_id={block.get('tool_use_id')} is_error={block.get('is_error', False)}")


def wait_for_ctrl_c(port: int, gateway_port: int, secured_port: int, ns: str) -> None:
    """Keeps everything running until SIGINT or SIGTERM."""
    say("The operator, the gateway and both services keep running; press Ctrl-C to stop "
        "them (the cluster stays up: `make cluster-down` stops it)")
    print(f"    export KUBECONFIG={KUBECONFIG}")
    print(f"    curl 'http://127.0.0.1:{port}/v1/catalogs/default?format=mcp'"
          "   (the operator's endpoint: open here, TOOLFLEET_CATALOG_AUTH is off)")
    print(f"    curl -X POST 'http://127.0.0.1:{gateway_port}/v1/catalogs/default/calls"
          "?format=anthropic' -d '{\"type\": \"tool_use\", \"id\": \"toolu_1\", "
          "\"name\": \"score_anomalies\", \"input\": {\"records\": [{\"amount\": 1}, "
          "{\"amount\": 2}, {\"amount\": 90}]}}'")
    print(f"    the gateway with auth on: http://127.0.0.1:{secured_port} (a token: "
          f"kubectl create token router -n {ns})")
    print(f"    the demo's operator watches namespace {ns} only: ToolServices and "
          "ToolCatalogs elsewhere are not served")
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
    port, gateway_port = free_port(), free_port()
    operator = start_operator(kubectl, ns, port, f"http://127.0.0.1:{gateway_port}")
    processes: dict[str, LocalService] = {}
    gateways: list[subprocess.Popen[bytes]] = []
    images = real_node_images()
    try:
        if images is not None:
            say("The real node is up: the specialist services run as real pods on it")
        else:
            say("Starting the specialist services as local processes")
            for name, module in SERVICES.items():
                processes[name] = LocalService(module,
                                               env={"TOOLFLEET_VERSION": "1.0.0"}).start()
                print(f"    {name}: {processes[name].url}")

        apply_samples(kubectl, ns, real_node=images is not None)
        catalog_url = f"http://127.0.0.1:{port}/v1/catalogs/default"
        show_catalog(catalog_url)
        if images is not None:
            image = images["toolfleet_cluster-analyzer"]
            call_segment_customers(catalog_url, None, lambda url, body: call_from_a_pod(
                kubectl, ns, image, url, body))
        else:
            call_segment_customers(catalog_url, processes["cluster-analyzer"].url)

        from toolfleet.resources.tracks import service_url
        # Real pods: the gateway calls them at their EndpointSlices' addresses, as in a
        # cluster. Local processes: it maps each in-cluster URL to its process.
        services = {service_url(name, ns, 8080, "cluster.local"): process.url
                    for name, process in processes.items()}
        say(f"Starting the tool gateway with auth off, for local use "
            f"(http://127.0.0.1:{gateway_port})")
        gateways.append(start_gateway(kubectl, ns, gateway_port, services, "--no-auth"))
        call_through_gateway(catalog_url)

        secured = free_port()
        say(f"A second gateway with auth on, as the chart runs it (http://127.0.0.1:{secured}): "
            "Kubernetes RBAC decides who may call which catalog")
        gateways.append(start_gateway(kubectl, ns, secured, services))
        call_with_rbac(kubectl, ns, f"http://127.0.0.1:{secured}")

        if not args.no_wait:
            wait_for_ctrl_c(port, gateway_port, secured, ns)
        return 0
    finally:
        kubectl("delete", "--ignore-not-found", "-f", "-", input=demo_rbac_role(ns))
        for gateway in gateways:
            gateway.terminate()
        for service in processes.values():
            service.terminate()
        operator.terminate()
        try:
            operator.wait(timeout=20)
        except subprocess.TimeoutExpired:
            operator.kill()


if __name__ == "__main__":
    raise SystemExit(main())
