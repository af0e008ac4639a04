"""ToolServices as real pods on the real node, reconciled by the operator.

The specialist services run from their own images, Ready through their real
probes under the restricted profile; a client pod calls a tool through the
Service; the NetworkPolicy toolfleet writes is enforced (kube-router); a canary
rolls out on real pods with no failed call around promotion.

These need the real node and `make images` (see tests/e2e/test_real_node.py);
they are skipped, saying which is missing, elsewhere.
"""

from __future__ import annotations

import copy
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml
from tests.e2e.support import REPO, Cluster, Operator, wait_until
from tests.e2e.test_real_node import ON_THE_REAL_NODE, RESTRICTED, real_node, service_image

pytestmark = [pytest.mark.e2e, pytest.mark.realnode]
__all__ = ["real_node"]  # the fixture, shared with test_real_node.py

SERVICES = ("cluster-analyzer", "anomaly-detector")
# How long a client waits for the outcome it expects: kube-proxy programs a new
# Service's endpoints, and kube-router a new pod's address, a moment after the pod
# is Ready; a call that still fails (or still gets in) after this is the answer.
SETTLE_SECONDS = 25
# Small: the real node has 2 CPUs, and a canary runs four pods of one service.
SMALL = {"cpu": "50m", "memory": "384Mi"}

# A client: calls each (url, body, expect) until the call's outcome is the one
# expected or SETTLE_SECONDS pass, and prints one JSON outcome per call.
CALLS_SCRIPT = """
import json, sys, time, urllib.request
for url, body, expect in json.loads(sys.argv[1]):
    deadline = time.monotonic() + float(sys.argv[2])
    while True:
        request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                         headers={'Content-Type': 'application/json'})
        try:
            with urllib.request.urlopen(request, timeout=3) as response:
                raw = response.read()
                kind = response.headers.get('Content-Type', '')
                outcome = {'url': url, 'status': response.status,
                           'body': json.loads(raw) if 'json' in kind else raw.decode()[:200]}
        except OSError as error:
            outcome = {'url': url, 'error': str(error)}
        got = 'ok' if outcome.get('status') == 200 else 'refused'
        if got == expect or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(json.dumps(outcome), flush=True)
"""

# A client that calls one tool in a loop until it is deleted, one JSON line per call:
# the status or the error, and the version that answered.
LOOP_SCRIPT = """
import json, signal, sys, time, urllib.request
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
url, body = sys.argv[1], sys.argv[2].encode()
while True:
    request = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})
    started = time.time()
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
            line = {'status': response.status,
                    'version': response.headers.get('X-Toolfleet-Version')}
    except Exception as error:
        line = {'error': repr(error)}
    line['at'] = round(started, 3)
    print(json.dumps(line), flush=True)
    time.sleep(0.05)
"""


def toolservice(service: str, namespace: str, name: str | None = None,
                **spec: Any) -> dict[str, Any]:
    """The service's own manifest (services/*/deploy), on the real node, small, in NAMESPACE."""
    manifest: dict[str, Any] = yaml.safe_load(
        (REPO / "services" / service / "deploy" / "toolservice.yaml").read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["metadata"]["name"] = name or service
    manifest["spec"].update(copy.deepcopy(ON_THE_REAL_NODE))
    manifest["spec"]["resources"] = SMALL
    manifest["spec"].update(spec)
    return manifest


def apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    """kubectl apply the objects (each names its namespace)."""
    cluster.kubectl("apply", "-f", "-",
                    input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def wait_ready(cluster: Cluster, namespace: str, name: str, timeout: float = 180) -> dict[str, Any]:
    """The ToolService once its Ready condition is True (its pods passed their probes)."""
    def ready() -> dict[str, Any] | None:
        ts: dict[str, Any] = cluster.get("toolservice", name, "-n", namespace)
        conditions = ts.get("status", {}).get("conditions", [])
        return ts if any(c["type"] == "Ready" and c["status"] == "True"
                         for c in conditions) else None

    found: dict[str, Any] = wait_until(ready, timeout, f"ToolService {namespace}/{name} Ready",
                                       interval=1)
    return found


def cluster_ip(cluster: Cluster, namespace: str, name: str) -> str:
    """The Service's ClusterIP."""
    return str(cluster.get("service", name, "-n", namespace)["spec"]["clusterIP"])


def client_pod(name: str, namespace: str, labels: dict[str, str],
               command: list[str]) -> dict[str, Any]:
    """A restricted pod on the real node running COMMAND in the service image's Python."""
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            **copy.deepcopy(ON_THE_REAL_NODE),
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "client", "image": service_image(),
                            "imagePullPolicy": "Never", "command": command,
                            "securityContext": RESTRICTED}],
        },
    }


def calls_from_a_pod(cluster: Cluster, namespace: str, labels: dict[str, str],
                     calls: list[tuple[str, dict[str, Any] | None, str]]) -> list[dict[str, Any]]:
    """Run a client pod making CALLS ((url, body or None, 'ok' or 'refused') each)."""
    name = f"client-{uuid.uuid4().hex[:6]}"
    apply(cluster, client_pod(name, namespace, labels,
                              ["python3", "-c", CALLS_SCRIPT, json.dumps(calls),
                               str(SETTLE_SECONDS)]))
    wait_until(lambda: cluster.get("pod", name, "-n", namespace)["status"].get("phase")
               in ("Succeeded", "Failed"), 60 + SETTLE_SECONDS * len(calls),
               f"the client pod {namespace}/{name} to finish")
    logs = cluster.kubectl("logs", name, "-n", namespace).stdout
    assert cluster.get("pod", name, "-n", namespace)["status"]["phase"] == "Succeeded", logs
    return [json.loads(line) for line in logs.strip().splitlines()]


def three_groups_of_customers() -> dict[str, Any]:
    """segment_customers' arguments: thirty customers in three groups far apart."""
    records = [{"customer_id": f"c{group}{i}", "annual_spend": spend + i,
                "visits": 2 + group * 10 + i % 3, "channel": channel}
               for group, (spend, channel) in enumerate([(100.0, "store"), (1000.0, "online"),
                                                         (10000.0, "phone")])
               for i in range(10)]
    return {"records": records, "id_field": "customer_id", "k": 3}


@pytest.fixture
def restricted(real_node: Cluster, operator: Operator) -> Iterator[Callable[[], str]]:
    """Makes namespaces enforcing the restricted Pod Security profile; deleted afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"t-rp-{uuid.uuid4().hex[:6]}"
        real_node.kubectl("create", "namespace", name)
        real_node.kubectl("label", "namespace", name,
                          "pod-security.kubernetes.io/enforce=restricted")
        made.append(name)
        return name

    yield make
    for name in made:
        real_node.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_both_specialist_services_run_as_real_pods_and_answer_through_their_service(
        real_node: Cluster, restricted: Callable[[], str]) -> None:
    cluster, ns = real_node, restricted()
    apply(cluster, *(toolservice(service, ns) for service in SERVICES))

    for service in SERVICES:
        wait_ready(cluster, ns, service)
        [pod] = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={service}",
                            "--field-selector=status.phase=Running")["items"]
        assert pod["spec"]["nodeName"] == "realnode"
        [container] = pod["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert all(s["ready"] for s in pod["status"]["containerStatuses"])

    [answer] = calls_from_a_pod(cluster, ns, {"role": "client"}, [(
        f"http://{cluster_ip(cluster, ns, 'cluster-analyzer')}:8080/tools/segment_customers",
        three_groups_of_customers(), "ok")])
    assert answer.get("status") == 200, answer
    assert sorted(segment["size"] for segment in answer["body"]["segments"]) == [10, 10, 10]


def test_toolfleets_network_policy_lets_in_only_the_callers_the_access_names(
        real_node: Cluster, restricted: Callable[[], str]) -> None:
    cluster = real_node
    home, allowed, outside = restricted(), restricted(), restricted()
    apply(cluster,
          toolservice("cluster-analyzer", home, "private-svc", access={
              "exposure": "private", "allowedCallers": [{"namespaceSelector": {
                  "matchLabels": {"kubernetes.io/metadata.name": allowed}}}]}),
          toolservice("cluster-analyzer", home, "internal-svc",
                      access={"exposure": "internal"}))
    wait_ready(cluster, home, "private-svc")
    wait_ready(cluster, home, "internal-svc")
    private = f"http://{cluster_ip(cluster, home, 'private-svc')}:8080/readyz"
    internal = f"http://{cluster_ip(cluster, home, 'internal-svc')}:8080/readyz"

    def outcomes(namespace: str, labels: dict[str, str],
                 calls: list[tuple[str, str]]) -> dict[str, str]:
        found = calls_from_a_pod(cluster, namespace, labels,
                                 [(url, None, expect) for url, expect in calls])
        return {o["url"]: "ok" if o.get("status") == 200 else "refused" for o in found}

    # Outside allowedCallers and the service's namespace: neither lets it in.
    assert outcomes(outside, {"role": "client"},
                    [(private, "refused"), (internal, "refused")]) == {
        private: "refused", internal: "refused"}
    # The namespace allowedCallers names gets into the private service only.
    assert outcomes(allowed, {"role": "client"},
                    [(private, "ok"), (internal, "refused")]) == {
        private: "ok", internal: "refused"}
    # The service's own namespace gets into the internal one, not the private one.
    assert outcomes(home, {"role": "client"}, [(internal, "ok"), (private, "refused")]) == {
        internal: "ok", private: "refused"}
    # The operator (catalog probes), the gateway (calls) and Prometheus (scrapes)
    # get into both, from any namespace, by their pod labels.
    for labels in ({"app.kubernetes.io/name": "toolfleet",
                    "app.kubernetes.io/component": "operator"},
                   {"app.kubernetes.io/name": "toolfleet",
                    "app.kubernetes.io/component": "gateway"},
                   {"app.kubernetes.io/name": "prometheus"}):
        metrics = private.replace("/readyz", "/metrics")
        assert outcomes(outside, labels, [(private, "ok"), (internal, "ok"),
                                          (metrics, "ok")]) == {
            private: "ok", internal: "ok", metrics: "ok"}, labels


@contextmanager
def calling_in_a_loop(cluster: Cluster, namespace: str, url: str,
                      body: dict[str, Any]) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """A client pod calling URL in a loop; yields a reader of its calls so far."""
    name = f"loop-{uuid.uuid4().hex[:6]}"
    apply(cluster, client_pod(name, namespace, {"role": "client"},
                              ["python3", "-c", LOOP_SCRIPT, url, json.dumps(body)]))

    def calls() -> list[dict[str, Any]]:
        logs = cluster.kubectl("logs", name, "-n", namespace, check=False).stdout
        return [json.loads(line) for line in logs.strip().splitlines() if line.startswith("{")]

    try:
        yield calls
    finally:
        cluster.kubectl("delete", "pod", name, "-n", namespace, "--wait=false", check=False)


def test_a_canary_on_real_pods_reaches_both_versions_and_no_call_fails_around_promotion(
        real_node: Cluster, restricted: Callable[[], str]) -> None:
    cluster, ns, name = real_node, restricted(), "canary-svc"

    def release(version: str) -> None:
        apply(cluster, toolservice(
            "cluster-analyzer", ns, name, version=version, env=[],
            autoscaling={"minReplicas": 2, "maxReplicas": 2},
            rollout={"strategy": "canary", "trafficRouting": "replicas",
                     "steps": [{"weight": 50, "pauseSeconds": 15}]}))

    release("1.0.0")
    wait_ready(cluster, ns, name)
    url = f"http://{cluster_ip(cluster, ns, name)}:8080/tools/segment_customers"
    with calling_in_a_loop(cluster, ns, url, three_groups_of_customers()) as calls:
        wait_until(lambda: any(c.get("version") == "1.0.0" for c in calls()), 60,
                   "the looping client to get answers from 1.0.0")
        release("1.1.0")  # the same image: only the version (and so the revision) changes

        def promoted() -> bool:
            status = cluster.get("toolservice", name, "-n", ns).get("status", {})
            return bool(status.get("stableVersion") == "1.1.0"
                        and not status.get("canaryVersion"))

        wait_until(promoted, 180, "the canary to be promoted", interval=1)
        # Promotion ends when no pod of 1.0.0 is left and the new stable pods are Ready.
        def settled() -> bool:
            pods = cluster.get("pods", "-n", ns, "-l", f"app.kubernetes.io/instance={name}")
            return all(p["metadata"]["labels"].get("app.kubernetes.io/version") == "1.1.0"
                       and any(c["type"] == "Ready" and c["status"] == "True"
                               for c in p["status"].get("conditions", []))
                       for p in pods["items"])

        wait_until(settled, 120, "only Ready pods of 1.1.0 to be left", interval=1)
        done = len(calls())
        wait_until(lambda: len(calls()) > done + 20, 60, "twenty more calls after promotion")
        seen = calls()

    failed = [c for c in seen if c.get("status") != 200]
    assert not failed, f"{len(failed)} of {len(seen)} calls failed, the first: {failed[:3]}"
    versions = [c["version"] for c in seen]
    # While the canary ran, the Service spread calls over both revisions.
    first_new = versions.index("1.1.0")
    assert "1.0.0" in versions[first_new:], "no call reached 1.0.0 once 1.1.0 answered"
    assert set(versions[done:]) == {"1.1.0"}


def test_a_client_pod_calls_the_tool_at_the_url_the_catalog_names(
        real_node: Cluster, operator: Operator, restricted: Callable[[], str]) -> None:
    cluster, ns = real_node, restricted()
    apply(cluster, toolservice("cluster-analyzer", ns))
    wait_ready(cluster, ns, "cluster-analyzer")

    def listed() -> dict[str, Any] | None:
        with urllib.request.urlopen(f"{operator.url}/v1/catalogs/default", timeout=10) as r:
            tools = json.load(r)["tools"]
        return next((t for t in tools if t["namespace"] == ns and t["ready"]), None)

    tool = wait_until(listed, 60, "the default catalog to list the service's tool as ready")
    # A cluster DNS name (<service>.<namespace>.svc.cluster.local): CoreDNS answers it.
    url = tool["endpoints"][0]["url"] + tool["path"]
    assert f".{ns}.svc.cluster.local" in url
    [answer] = calls_from_a_pod(cluster, ns, {"role": "client"},
                                [(url, three_groups_of_customers(), "ok")])
    assert answer.get("status") == 200, answer
    assert sorted(segment["size"] for segment in answer["body"]["segments"]) == [10, 10, 10]
