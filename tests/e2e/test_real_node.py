"""Real pods on the real node (hack/realnode.sh): real images, probes, Services, host cleanup.

These need the real node (`TOOLFLEET_REAL_NODE=1 hack/cluster.sh up`) and the
images (`make images`); where either is missing they are skipped, saying which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.support import REPO, Cluster, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.realnode]

REALNODE_SH = REPO / "hack" / "realnode.sh"
CHART = REPO / "charts" / "toolfleet"
HOSTSTATE = REPO / "hack" / "realnode" / "hoststate.py"
SERVICE = "cluster-analyzer"
# The label and taint the real node carries: only pods that ask for it land there.
ON_THE_REAL_NODE = {
    "nodeSelector": {"toolfleet.io/real-node": "true"},
    "tolerations": [{"key": "toolfleet.io/real-node", "operator": "Exists",
                     "effect": "NoSchedule"}],
}
# How long a client retries a refused call: kube-proxy programs a new Service's
# endpoints, and kube-router a new pod's address, a moment after the pod is Ready.
SERVICE_PROGRAMMED_SECONDS = 20
# The restricted Pod Security profile, with a read-only root filesystem on top.
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def realnode(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run hack/realnode.sh against this checkout's cluster."""
    return subprocess.run([str(REALNODE_SH), *args], capture_output=True, text=True,
                          timeout=timeout)


def service_image() -> str:
    """The image the service's ToolService manifest names (and `make images` imports)."""
    manifest = yaml.safe_load((REPO / "services" / SERVICE / "deploy" / "toolservice.yaml")
                              .read_text())
    return str(manifest["spec"]["image"])


@pytest.fixture(scope="module")
def real_node(cluster: Cluster) -> Cluster:
    """The cluster, once its real node is up and has the images; a skip saying why otherwise.

    With TOOLFLEET_REAL_NODE=1 (`make test` sets it once `hack/realnode.sh check`
    passed and the images are built) a missing node or image is a failure, not a skip.
    """
    missing = pytest.fail if os.environ.get("TOOLFLEET_REAL_NODE") == "1" else pytest.skip
    # Only `status`: `check` would install the node's packages just to explain a skip.
    if realnode("status").returncode != 0:
        missing("the real node is not up: start the cluster with TOOLFLEET_REAL_NODE=1 "
                "hack/cluster.sh up (hack/realnode.sh check says whether this machine can)")
    archive = REPO / "build" / "images" / (service_image().rsplit(":", 1)[0].replace("/", "_")
                                           + ".oci.tar")
    if not archive.exists():
        missing(f"{service_image()} is not built: run make images")
    return cluster


def apply(cluster: Cluster, namespace: str, *objects: dict[str, Any]) -> None:
    """kubectl apply the objects in the namespace."""
    manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))


def service_deployment(image: str) -> dict[str, Any]:
    """The service as a restricted Deployment on the real node, with its real probes."""
    labels = {"app.kubernetes.io/name": SERVICE}
    probe = {"httpGet": {"port": 8080}, "periodSeconds": 1, "timeoutSeconds": 2}
    container = {
        "name": SERVICE, "image": image,
        # No registry: the image must already be in the node's containerd.
        "imagePullPolicy": "Never",
        "ports": [{"containerPort": 8080}],
        "env": [{"name": "TOOLFLEET_VERSION", "value": image.rsplit(":", 1)[1]}],
        "readinessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/readyz"}},
        "livenessProbe": {**probe, "httpGet": {**probe["httpGet"], "path": "/healthz"},
                          "initialDelaySeconds": 10, "periodSeconds": 5},
        "securityContext": RESTRICTED,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                      "limits": {"memory": "512Mi"}},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": SERVICE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                **ON_THE_REAL_NODE,
                "securityContext": {"runAsNonRoot": True,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            }},
        },
    }


def client_pod(name: str, labels: dict[str, str], image: str, url: str,
               body: dict[str, Any] | None = None, retry_seconds: float = 0,
               service_account: str | None = None) -> dict[str, Any]:
    """A pod that calls URL (POST BODY, or GET) and prints the outcome as JSON.

    With retry_seconds, a refused call is tried again until then (see
    SERVICE_PROGRAMMED_SECONDS). With service_account, the pod runs as it and
    sends its token as `Authorization: Bearer`.
    """
    script = (
        "import json, os, sys, time, urllib.request\n"
        "url, retry, data = sys.argv[1], float(sys.argv[2]), sys.argv[3:]\n"
        "headers = {'Content-Type': 'application/json'}\n"
        "token = '/var/run/secrets/kubernetes.io/serviceaccount/token'\n"
        "if os.environ.get('SEND_TOKEN'):\n"
        "    headers['Authorization'] = 'Bearer ' + open(token).read().strip()\n"
        "request = urllib.request.Request(url, data=data[0].encode() if data else None,\n"
        "    headers=headers)\n"
        "deadline = time.monotonic() + retry\n"
        "while True:\n"
        "    try:\n"
        "        with urllib.request.urlopen(request, timeout=5) as response:\n"
        "            outcome = {'status': response.status, 'body': json.load(response)}\n"
        "        break\n"
        "    except urllib.error.HTTPError as error:\n"
        "        outcome = {'status': error.code, 'error': str(error)}\n"
        "        if error.code not in (404, 503) or time.monotonic() > deadline:\n"
        "            break\n"
        "        time.sleep(0.5)\n"
        "    except OSError as error:\n"
        "        outcome = {'error': str(error)}\n"
        "        if time.monotonic() > deadline:\n"
        "            break\n"
        "        time.sleep(0.5)\n"
        "print(json.dumps(outcome))\n"
    )
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            **ON_THE_REAL_NODE,
            **({"serviceAccountName": service_account} if service_account else {}),
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "client", "image": image, "imagePullPolicy": "Never",
                "command": ["python3", "-c", script, url, str(retry_seconds),
                            *([json.dumps(body)] if body is not None else [])],
                "env": [{"name": "SEND_TOKEN", "value": "1"}] if service_account else [],
                "securityContext": RESTRICTED,
            }],
        },
    }


def call_from_a_pod(cluster: Cluster, namespace: str, name: str, url: str,
                    body: dict[str, Any] | None = None, labels: dict[str, str] | None = None,
                    retry_seconds: float = 0,
                    service_account: str | None = None) -> dict[str, Any]:
    """Run a client pod on the real node that calls URL; its outcome: status and body, or error."""
    apply(cluster, namespace, client_pod(name, labels or {"role": "client"}, service_image(),
                                         url, body, retry_seconds, service_account))
    wait_until(lambda: cluster.get("pod", name, "-n", namespace)["status"].get("phase")
               in ("Succeeded", "Failed"), 90, f"the client pod {name} to finish")
    logs = cluster.kubectl("logs", name, "-n", namespace).stdout
    assert cluster.get("pod", name, "-n", namespace)["status"]["phase"] == "Succeeded", logs
    outcome: dict[str, Any] = json.loads(logs.strip().splitlines()[-1])
    return outcome


def run_the_service(cluster: Cluster, namespace: str) -> str:
    """The service's Deployment and ClusterIP Service, once Ready; the Service's address."""
    apply(cluster, namespace, service_deployment(service_image()), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": SERVICE},
        "spec": {"selector": {"app.kubernetes.io/name": SERVICE},
                 "ports": [{"port": 80, "targetPort": 8080}]},
    })
    # Ready through its real readiness probe, which passes once a warm-up call succeeded.
    cluster.kubectl("rollout", "status", f"deployment/{SERVICE}", "-n", namespace,
                    "--timeout=120s", timeout=130)
    # By its ClusterIP: this checks kube-proxy alone (test_real_pods.py checks the DNS names).
    return str(cluster.get("service", SERVICE, "-n", namespace)["spec"]["clusterIP"])


def three_groups_of_customers() -> list[dict[str, Any]]:
    """Thirty customers in three groups far apart: the right answer is three segments of ten."""
    records = []
    for group, (spend, channel) in enumerate([(100.0, "store"), (1000.0, "online"),
                                              (10000.0, "phone")]):
        for i in range(10):
            records.append({"customer_id": f"c{group}{i}", "annual_spend": spend + i,
                            "visits": 2 + group * 10 + i % 3, "channel": channel})
    return records


@pytest.fixture
def restricted_namespace(real_node: Cluster, namespace: str) -> str:
    """The test's namespace, enforcing the restricted Pod Security profile."""
    real_node.kubectl("label", "namespace", namespace,
                      "pod-security.kubernetes.io/enforce=restricted")
    return namespace


def test_a_service_image_runs_on_the_real_node_and_answers_through_its_service(
        real_node: Cluster, restricted_namespace: str) -> None:
    cluster, ns = real_node, restricted_namespace
    cluster_ip = run_the_service(cluster, ns)

    [pod] = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/name={SERVICE}")["items"]
    assert pod["spec"]["nodeName"] == "realnode"
    assert pod["status"]["podIP"].startswith("10.88.")
    answer = call_from_a_pod(cluster, ns, "client", f"http://{cluster_ip}/tools/segment_customers",
                             {"records": three_groups_of_customers(), "id_field": "customer_id"},
                             retry_seconds=SERVICE_PROGRAMMED_SECONDS)
    assert answer.get("status") == 200, answer
    assert answer["body"]["k"] == 3
    assert sorted(segment["size"] for segment in answer["body"]["segments"]) == [10, 10, 10]


def test_network_policy_lets_in_only_the_callers_it_names(real_node: Cluster,
                                                          restricted_namespace: str) -> None:
    cluster, ns = real_node, restricted_namespace
    url = f"http://{run_the_service(cluster, ns)}/readyz"

    def call_as(role: str, name: str, retry_seconds: float = 0) -> dict[str, Any]:
        return call_from_a_pod(cluster, ns, name, url, labels={"role": role},
                               retry_seconds=retry_seconds)

    # Without a policy, any pod gets in: what follows is the policy's doing.
    before = call_as("other", "before", retry_seconds=SERVICE_PROGRAMMED_SECONDS)
    assert before.get("status") == 200, before

    service_pods = {"matchLabels": {"app.kubernetes.io/name": SERVICE}}
    apply(cluster, ns, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "only-callers"},
        "spec": {"podSelector": service_pods, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "caller"}}}]}]},
    })
    attempts = iter(range(1, 100))
    # kube-router programs the policy within about a second; until then a call may pass.
    refused = wait_until(
        lambda: "error" in (outcome := call_as("other", f"other-{next(attempts)}")) and outcome,
        60, "a pod outside the policy to be refused")
    assert "refused" in refused["error"] or "timed out" in refused["error"], refused
    caller = call_as("caller", "caller", retry_seconds=SERVICE_PROGRAMMED_SECONDS)
    assert caller.get("status") == 200, caller
    # Still refused once the allowed caller got in: the policy tells callers apart.
    assert "error" in call_as("other", "after")


@pytest.fixture
def operator_namespace(real_node: Cluster) -> Iterator[str]:
    """A namespace for a release of the chart: ro-*, which the session's operator leaves alone."""
    name = f"ro-{uuid.uuid4().hex[:6]}"
    real_node.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        real_node.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_the_charts_operator_and_gateway_run_as_real_pods_and_serve_catalog_and_calls(
        real_node: Cluster, crds: None, operator_namespace: str) -> None:
    cluster, ns, release = real_node, operator_namespace, f"tf{uuid.uuid4().hex[:4]}"

    def helm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cluster.bin_dir / "helm"), *args, "-n", ns],
                              env=cluster.env(), capture_output=True, text=True, timeout=240)

    try:
        # The chart as a user installs it, with the image `make images` built, on the real node.
        on_the_real_node = [f"{key}={json.dumps(value)}" for key, value in ON_THE_REAL_NODE.items()]
        # The gateway too, and the chart's example grant: ServiceAccount `router` of this
        # namespace may call the default catalog.
        cluster.kubectl("create", "serviceaccount", "router", "-n", ns)
        installed = helm("install", release, str(CHART), "--wait", "--timeout", "180s",
                         "--set", f"watchNamespaces={{{ns}}}",
                         "--set-json", on_the_real_node[0], "--set-json", on_the_real_node[1],
                         "--set-json", f"gateway.{on_the_real_node[0]}",
                         "--set-json", f"gateway.{on_the_real_node[1]}",
                         "--set", "gateway.exampleConsumer.enabled=true",
                         "--set", "gateway.exampleConsumer.catalog=default",
                         "--set", f"gateway.exampleConsumer.namespace={ns}",
                         "--set", "gateway.exampleConsumer.serviceAccount=router")
        assert installed.returncode == 0, installed.stderr
        # The operator's pods; the gateway's have placement values of their own.
        pods = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={release},"
                           "app.kubernetes.io/component=operator")["items"]
        assert pods and all(pod["spec"]["nodeName"] == "realnode" for pod in pods)
        assert all(pod["spec"]["serviceAccountName"] == f"{release}-toolfleet" for pod in pods)

        # A ToolService in the watched namespace: the operator pods reconcile it with the
        # chart's RBAC (its own pods land on kwok nodes) and serve its tools in the catalog.
        manifest = yaml.safe_load((REPO / "services" / SERVICE / "deploy" / "toolservice.yaml")
                                  .read_text())
        manifest["metadata"]["namespace"] = ns
        # On the real node too, so that the gateway's pods can call its pods.
        manifest["spec"].update(ON_THE_REAL_NODE)
        manifest["spec"]["resources"] = {"cpu": "250m", "memory": "512Mi"}
        cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        service_ip = cluster.get("service", f"{release}-toolfleet", "-n", ns)["spec"]["clusterIP"]
        url = f"http://{service_ip}/v1/catalogs/default?format=openai"
        attempts = iter(range(1, 100))
        listed = wait_until(
            lambda: "segment_customers" in json.dumps(
                outcome := call_from_a_pod(cluster, ns, f"catalog-{next(attempts)}", url))
            and outcome, 90, "the catalog served by the operator's Service to list the tool")
        assert listed["status"] == 200

        # The gateway's pods: Ready through their probes, under their own ServiceAccount.
        gateways = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={release},"
                               "app.kubernetes.io/component=gateway")["items"]
        assert len(gateways) == 2
        assert all(pod["spec"]["nodeName"] == "realnode" for pod in gateways)
        assert all(pod["spec"]["serviceAccountName"] == f"{release}-toolfleet-gateway"
                   for pod in gateways)
        cluster.kubectl("wait", "-n", ns, "--for=condition=Ready", "--timeout=120s",
                        f"toolservice/{SERVICE}", timeout=130)
        gateway_ip = cluster.get("service", f"{release}-toolfleet-gateway", "-n",
                                 ns)["spec"]["clusterIP"]
        calls = f"http://{gateway_ip}/v1/catalogs/default/calls?format=openai"
        call = {"id": "call_1", "type": "function", "function": {
            "name": "segment_customers", "arguments": json.dumps(
                {"records": three_groups_of_customers(), "id_field": "customer_id"})}}
        # The granted ServiceAccount's call reaches the service's pod through the gateway.
        answered = call_from_a_pod(cluster, ns, "router-call", calls, call,
                                   retry_seconds=90, service_account="router")
        assert answered.get("status") == 200, answered
        assert answered["body"]["tool_call_id"] == "call_1"
        assert json.loads(answered["body"]["content"])["k"] == 3
        # Any other ServiceAccount is refused, as `kubectl auth can-i` says.
        refused = call_from_a_pod(cluster, ns, "default-call", calls, call,
                                  service_account="default")
        assert refused.get("status") == 403, refused
        assert cluster.kubectl("auth", "can-i", "call", "toolcatalogs/default", "-A", "--as",
                               f"system:serviceaccount:{ns}:default",
                               check=False).stdout.strip() == "no"
    finally:
        helm("uninstall", release, "--ignore-not-found", "--wait")


def test_down_leaves_the_host_as_it_was_before_up(real_node: Cluster, tmp_path: Path) -> None:
    state = Path(real_node.kubeconfig).parent / "realnode"
    baseline = tmp_path / "host-baseline.json"
    shutil.copy(state / "host-baseline.json", baseline)
    try:
        down = realnode("down")
        assert down.returncode == 0, down.stderr

        left = subprocess.run(["python3", str(HOSTSTATE), "diff", str(baseline), str(state)],
                              capture_output=True, text=True)
        assert left.returncode == 0, f"left behind by down:\n{left.stdout}"
        assert not Path("/sys/class/net/rn0").exists()
        assert not any(line.split()[4].startswith(f"{state}/")
                       for line in Path("/proc/self/mountinfo").read_text().splitlines())
    finally:
        # Back up for whatever runs next; the images come back from build/images.
        up = realnode("up")
        assert up.returncode == 0, up.stderr
