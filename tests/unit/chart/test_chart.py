"""The chart lints clean, renders what a platform team expects, and refuses bad values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import toolfleet
from toolfleet.settings import Settings

from .helm import (
    CHART,
    FULLNAME,
    GATEWAY,
    NAMESPACE,
    RELEASE,
    by_kind,
    container,
    env,
    helm,
    one,
    schema_refusal,
    template,
)

CHART_META: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
VALUES: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())


def test_helm_lint_is_clean() -> None:
    result = helm("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_chart_app_and_package_share_one_version() -> None:
    assert CHART_META["version"] == CHART_META["appVersion"] == toolfleet.__version__


def test_the_default_image_is_the_app_version() -> None:
    assert container(template())["image"] == f"toolfleet/operator:{CHART_META['appVersion']}"


def test_the_defaults_render_the_operator_and_its_surroundings() -> None:
    objects = template()
    assert sorted(o["kind"] for o in objects) == sorted([
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "PodDisruptionBudget", "ClusterKopfPeering",
        # The gateway, and the ClusterRole that grants calls on the default catalog.
        "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "PodDisruptionBudget", "HorizontalPodAutoscaler", "ClusterRole"])
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "toolfleet"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"):
            assert obj["metadata"]["namespace"] == NAMESPACE


def test_two_peering_replicas_one_reconciling() -> None:
    objects = template()
    deployment = one(objects, "Deployment", FULLNAME)
    assert deployment["spec"]["replicas"] == 2
    assert container(objects)["args"] == ["run", "--peering", f"--peering-name={FULLNAME}"]
    assert one(objects, "ClusterKopfPeering")["metadata"]["name"] == FULLNAME
    assert one(objects, "ClusterKopfPeering")["apiVersion"] == "kopf.dev/v1"
    variables = env(objects)
    assert variables["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert variables["TOOLFLEET_PEERING_LIFETIME_SECONDS"] == "60"


def test_the_pods_run_restricted_and_probed() -> None:
    objects = template()
    pod = one(objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    main = container(objects)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert main["securityContext"] == {
        "runAsNonRoot": True, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}
    spread = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert spread[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert spread[0]["podAffinityTerm"]["labelSelector"]["matchLabels"] == \
        one(objects, "Deployment", FULLNAME)["spec"]["selector"]["matchLabels"]


def test_the_operator_pods_carry_the_labels_service_network_policies_admit() -> None:
    deployment = one(template(), "Deployment", FULLNAME)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert Settings().operator_pod_labels.items() <= pod_labels.items()


def test_the_gateway_pods_carry_the_labels_service_network_policies_admit() -> None:
    deployment = one(template(), "Deployment", GATEWAY)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert Settings().gateway_pod_labels.items() <= pod_labels.items()
    # and not the operator's: a policy admitting the operator must not admit the gateway
    assert not Settings().operator_pod_labels.items() <= pod_labels.items()


def test_the_settings_reach_the_operator_as_environment() -> None:
    variables = env(template())
    assert variables["TOOLFLEET_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert {k: v for k, v in variables.items() if isinstance(v, str)} == {
        "TOOLFLEET_HTTP_HOST": "0.0.0.0", "TOOLFLEET_HTTP_PORT": "8080",
        "TOOLFLEET_RESYNC_SECONDS": "300", "TOOLFLEET_RECONCILE_WORKERS": "16",
        "TOOLFLEET_API_QPS": "50", "TOOLFLEET_API_BURST": "100",
        "TOOLFLEET_FIELD_MANAGER": "toolfleet",
        "TOOLFLEET_CLUSTER_DOMAIN": "cluster.local",
        "TOOLFLEET_DEFAULT_COLLISION_STRATEGY": "prefix",
        "TOOLFLEET_CATALOG_AUTH": "false",
        "TOOLFLEET_GATEWAY_URL": f"http://{GATEWAY}.{NAMESPACE}.svc.cluster.local",
        "TOOLFLEET_PEERING_LIFETIME_SECONDS": "60"}


@pytest.mark.parametrize("sets", [(), ("webhook.enabled=true", "webhook.certSecretName=x"),
                                  ("settings.catalogAuth=true",)])
def test_every_variable_set_is_one_the_operator_reads(sets: tuple[str, ...]) -> None:
    # A misspelt variable would be ignored silently, leaving the default in force.
    package = Path(toolfleet.__file__).parent
    source = "".join(path.read_text() for path in
                     [package / "settings.py", *sorted((package / "cli").glob("*.py"))])
    unread = {name for name in env(template(*sets))
              if name.startswith("TOOLFLEET_") and f'"{name}"' not in source}
    assert unread == set()


def test_the_catalog_service_forwards_port_80_to_http() -> None:
    service = one(template(), "Service", FULLNAME)
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http",
                                         "protocol": "TCP", "appProtocol": "http"}]
    assert service["spec"]["selector"] == \
        one(template(), "Deployment", FULLNAME)["spec"]["selector"]["matchLabels"]


def test_a_pod_disruption_budget_keeps_one_serving() -> None:
    pdb = one(template(), "PodDisruptionBudget", FULLNAME)
    assert pdb["spec"]["minAvailable"] == 1
    assert [p for p in by_kind(template("replicaCount=1"), "PodDisruptionBudget")
            if p["metadata"]["name"] == FULLNAME] == []


# Every documented option, each set away from its default (value paths as --set takes them).
TOGGLES: list[tuple[str, list[str]]] = [
    ("replicaCount", ["replicaCount=3"]),
    ("image", ["image.repository=registry.example/tf", "image.tag=9.9.9",
               "image.pullPolicy=Always"]),
    ("image.digest", ["image.digest=sha256:" + "a" * 64]),
    ("imagePullSecrets", ["imagePullSecrets[0].name=pull"]),
    ("fullnameOverride", ["fullnameOverride=fleet-op"]),
    ("serviceAccount", ["serviceAccount.create=false", "serviceAccount.name=existing",
                        "serviceAccount.annotations.team=ml"]),
    ("serviceAccount.annotations", ["serviceAccount.annotations.team=ml",
                                    "serviceAccount.name=named"]),
    ("rbac", ["rbac.create=false"]),
    ("peering off", ["peering.enabled=false", "replicaCount=1"]),
    ("peering", ["peering.name=fleet", "peering.lifetimeSeconds=15"]),
    ("watchNamespaces", ["watchNamespaces={team-a,team-b}"]),
    ("settings", ["settings.resyncSeconds=60", "settings.reconcileWorkers=8",
                  "settings.apiQps=20", "settings.apiBurst=25",
                  "settings.fieldManager=fleet",
                  "settings.clusterDomain=corp.local", "settings.httpPort=9090",
                  "settings.defaultCollisionStrategy=reject", "settings.verbose=true",
                  "settings.catalogAuth=true"]),
    ("extraEnv", ["extraEnv[0].name=TOOLFLEET_EXTRA", "extraEnv[0].value=fast"]),
    ("webhook", ["webhook.enabled=true", "webhook.port=9444",
                 "webhook.certSecretName=webhook-tls"]),
    ("webhook, one replica", ["webhook.enabled=true", "replicaCount=1"]),
    ("service", ["service.type=LoadBalancer", "service.port=8081",
                 "service.annotations.lb=internal"]),
    ("serviceMonitor", ["serviceMonitor.enabled=true", "serviceMonitor.interval=15s",
                        "serviceMonitor.scrapeTimeout=5s",
                        "serviceMonitor.labels.release=prometheus"]),
    ("podDisruptionBudget", ["podDisruptionBudget.minAvailable=50%"]),
    ("podDisruptionBudget off", ["podDisruptionBudget.enabled=false"]),
    ("resources", ["resources.requests.cpu=1", "resources.limits.memory=1Gi"]),
    ("pod placement", ["podAnnotations.a=b", "podLabels.team=ml", "nodeSelector.pool=system",
                       "tolerations[0].key=dedicated", "tolerations[0].operator=Exists",
                       "priorityClassName=system-cluster-critical"]),
    ("affinity", ["affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                  ".nodeSelectorTerms[0].matchExpressions[0].key=pool",
                  "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
                  ".nodeSelectorTerms[0].matchExpressions[0].operator=Exists"]),
    ("gateway off", ["gateway.enabled=false"]),
    ("gateway without autoscaling", ["gateway.autoscaling.enabled=false", "gateway.replicas=3"]),
    ("gateway auth off", ["gateway.auth=false", "gateway.authCacheSeconds=0"]),
    ("gateway settings", ["gateway.settings.port=9090", "gateway.settings.maxRequestBytes=1048576",
                          "gateway.settings.maxInFlightPerBackend=8",
                          "gateway.settings.maxAttempts=1", "gateway.settings.ejectionFailures=2",
                          "gateway.settings.ejectionSeconds=0.5",
                          "gateway.settings.toolsListTtlSeconds=60",
                          "gateway.settings.mcpSessions=false", "gateway.settings.verbose=true"]),
    ("gateway serviceAccount", ["gateway.serviceAccount.create=false",
                                "gateway.serviceAccount.name=existing-gateway",
                                "gateway.serviceAccount.annotations.team=ml"]),
    ("gateway service", ["gateway.service.type=NodePort", "gateway.service.port=8081",
                         "gateway.service.annotations.lb=internal"]),
    ("gateway autoscaling", ["gateway.autoscaling.minReplicas=3",
                             "gateway.autoscaling.maxReplicas=20",
                             "gateway.autoscaling.targetCPUUtilizationPercentage=50"]),
    ("gateway podDisruptionBudget", ["gateway.podDisruptionBudget.minAvailable=50%"]),
    ("gateway podDisruptionBudget off", ["gateway.podDisruptionBudget.enabled=false"]),
    ("gateway resources", ["gateway.resources.requests.cpu=1",
                           "gateway.resources.limits.memory=1Gi"]),
    ("gateway pod placement", ["gateway.podAnnotations.a=b", "gateway.podLabels.team=ml",
                               "gateway.nodeSelector.pool=edge",
                               "gateway.tolerations[0].key=dedicated",
                               "gateway.tolerations[0].operator=Exists",
                               "gateway.priorityClassName=high"]),
    ("gateway affinity", ["gateway.affinity.nodeAffinity.requiredDuringSchedulingIgnored"
                          "DuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
                          "gateway.affinity.nodeAffinity.requiredDuringSchedulingIgnored"
                          "DuringExecution.nodeSelectorTerms[0].matchExpressions[0]"
                          ".operator=Exists"]),
    ("gateway exampleConsumer", ["gateway.exampleConsumer.enabled=true",
                                 "gateway.exampleConsumer.catalog=team-a.tools",
                                 "gateway.exampleConsumer.namespace=routers",
                                 "gateway.exampleConsumer.serviceAccount=router"]),
]


# Blocks documented value by value like the top level (gateway.resources.requests is one).
SUBCHARTS = ("gateway",)


def value_paths(values: dict[str, Any], prefix: str = "", depth: int = 2) -> list[str]:
    """Documented value paths: leaves, down to `depth` levels (resources.requests is one)."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if not prefix and key in SUBCHARTS:
            paths += value_paths(value, f"{path}.", depth)
        elif isinstance(value, dict) and value and depth > 1:
            paths += value_paths(value, f"{path}.", depth - 1)
        else:
            paths.append(path)
    return paths


def test_every_documented_value_is_toggled_by_some_case() -> None:
    toggled = {s.split("=", 1)[0].split("[", 1)[0] for _, sets in TOGGLES for s in sets}
    untoggled = [p for p in value_paths(VALUES)
                 if not any(t == p or t.startswith(p + ".") for t in toggled)]
    assert untoggled == []


@pytest.mark.parametrize(("case", "sets"), TOGGLES, ids=[t[0] for t in TOGGLES])
def test_every_option_renders(case: str, sets: list[str]) -> None:
    assert template(*sets)


def test_options_reach_the_objects() -> None:
    objects = template(*(s for _, sets in TOGGLES[:3] for s in sets),
                       "settings.httpPort=9090", "settings.verbose=true",
                       "watchNamespaces={team-a,team-b}", "service.port=8081",
                       "extraEnv[0].name=TOOLFLEET_EXTRA", "extraEnv[0].value=fast")
    main = container(objects)
    assert main["image"] == "registry.example/tf@sha256:" + "a" * 64
    assert main["imagePullPolicy"] == "Always"
    assert one(objects, "Deployment", FULLNAME)["spec"]["replicas"] == 3
    assert main["args"] == ["run", "--peering", f"--peering-name={FULLNAME}",
                            "--namespace=team-a", "--namespace=team-b", "--verbose"]
    assert main["ports"][0]["containerPort"] == 9090
    assert env(objects)["TOOLFLEET_HTTP_PORT"] == "9090"
    assert env(objects)["TOOLFLEET_EXTRA"] == "fast"
    assert one(objects, "Service", FULLNAME)["spec"]["ports"][0]["port"] == 8081
    peerings = by_kind(objects, "KopfPeering")
    assert {p["metadata"]["namespace"] for p in peerings} == {"team-a", "team-b"}
    assert by_kind(objects, "ClusterKopfPeering") == []


def test_without_peering_the_operator_runs_standalone() -> None:
    objects = template("peering.enabled=false", "replicaCount=1")
    assert container(objects)["args"] == ["run"]
    assert by_kind(objects, "ClusterKopfPeering") == []
    assert "TOOLFLEET_PEERING_LIFETIME_SECONDS" not in env(objects)


def test_an_existing_service_account_can_be_used() -> None:
    objects = template("serviceAccount.create=false", "serviceAccount.name=existing")
    assert [a["metadata"]["name"] for a in by_kind(objects, "ServiceAccount")] == [GATEWAY]
    assert one(objects, "ClusterRoleBinding", FULLNAME)["subjects"][0]["name"] == "existing"
    result = helm("template", RELEASE, str(CHART), "--set", "serviceAccount.create=false")
    assert result.returncode != 0
    assert "serviceAccount.name is required when serviceAccount.create is false" \
        in result.stderr


def test_the_webhook_gets_a_service_a_port_and_its_certificate() -> None:
    objects = template("webhook.enabled=true", "webhook.certSecretName=webhook-tls")
    webhook = next(s for s in by_kind(objects, "Service")
                   if s["metadata"]["name"] == f"{FULLNAME}-webhook")
    assert webhook["spec"]["ports"][0]["targetPort"] == "webhook"
    variables = env(objects)
    assert variables["TOOLFLEET_WEBHOOK_HOST"] == f"{FULLNAME}-webhook.{NAMESPACE}.svc"
    assert variables["TOOLFLEET_WEBHOOK_CERT_DIR"] == "/etc/toolfleet/webhook"
    volumes = one(objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-tls", "secret": {"secretName": "webhook-tls"}} in volumes


def test_a_service_monitor_scrapes_metrics() -> None:
    objects = template("serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
    monitor = one(objects, "ServiceMonitor", FULLNAME)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


# Values a platform team might get wrong, and what the schema says about each.
BAD_VALUES: list[tuple[list[str], str]] = [
    (["replicaCount=-1"], "at '/replicaCount': minimum: got -1, want 1"),
    (["replicaCount=0"], "at '/replicaCount': minimum: got 0, want 1"),
    (["replicaCunt=3"], "additional properties 'replicaCunt' not allowed"),
    (["image.pullPolicy=Sometimes"], "at '/image/pullPolicy'"),
    (["image.digest=latest"], "at '/image/digest'"),
    (["peering.lifetimeSeconds=1"], "at '/peering/lifetimeSeconds': minimum: got 1, want 5"),
    (["settings.httpPort=80"], "at '/settings/httpPort': minimum: got 80, want 1,024"),
    (["settings.httpPort=http"], "at '/settings/httpPort'"),
    (["settings.defaultCollisionStrategy=merge"], "at '/settings/defaultCollisionStrategy'"),
    (["settings.apiQps=-1"], "at '/settings/apiQps': minimum: got -1, want 0"),
    (["settings.apiBurst=0"], "at '/settings/apiBurst': minimum: got 0, want 1"),
    (["service.type=ExternalName"], "at '/service/type'"),
    (["serviceMonitor.interval=often"], "at '/serviceMonitor/interval'"),
    (["watchNamespaces={Team_A}"], "at '/watchNamespaces/0'"),
    (["webhook.enabled=true"], "at '/webhook/certSecretName': minLength: got 0, want 1"),
    (["resources.requests.cpu=lots"], "at '/resources/requests/cpu'"),
    (["extraEnv[0].name=N", "extraEnv[0].value=1"], "at '/extraEnv/0/value'"),
]


@pytest.mark.parametrize(("sets", "expected"), BAD_VALUES, ids=[b[0][0] for b in BAD_VALUES])
def test_bad_values_fail_before_anything_is_installed(sets: list[str], expected: str) -> None:
    refusal = schema_refusal(sets)
    assert expected in refusal, refusal


def test_the_schema_describes_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())

    def described(path: str) -> bool:
        node = schema
        for key in path.split("."):
            node = node.get("properties", {}).get(key)
            if node is None:
                return False
        return True

    assert [p for p in value_paths(VALUES) if not described(p)] == []


def test_values_yaml_comments_every_value() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = [
        line for index, line in enumerate(lines)
        if re.match(r"^( {0,2})[A-Za-z]\w*:", line)
        and not lines[index - 1].strip().startswith("#")
    ]
    assert undocumented == []


def test_the_readme_documents_every_value_and_that_crds_stay() -> None:
    readme = (CHART / "README.md").read_text()
    assert [p for p in value_paths(VALUES) if f"| `{p}` |" not in readme] == []
    assert "It keeps the CRDs" in readme
    assert "port-forward service/toolfleet 8080:80" in readme
    assert "/v1/catalogs/default?format=openai" in readme


def test_the_notes_tell_how_to_read_the_catalog() -> None:
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert "port-forward service/{{ include \"toolfleet.fullname\" . }}" in notes
    assert "curl 'http://127.0.0.1:8080/v1/catalogs/default?format=openai'" in notes


def test_the_peering_crds_ship_beside_the_generated_ones() -> None:
    documents = list(yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()))
    assert {(d["metadata"]["name"], d["spec"]["scope"]) for d in documents} == {
        ("clusterkopfpeerings.kopf.dev", "Cluster"), ("kopfpeerings.kopf.dev", "Namespaced")}
    for document in documents:
        version = document["spec"]["versions"][0]
        assert version["name"] == "v1" and version["served"] and version["storage"]
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True
