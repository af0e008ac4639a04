"""The chart's gateway: what it renders, what it may do, and the values it refuses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import toolfleet.gateway.settings
from toolfleet.gateway.settings import GatewaySettings
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

DEFAULT_CALLER = f"{FULLNAME}-catalog-default-caller"
EXAMPLE = f"{FULLNAME}-example-consumer"
RESTRICTED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
              "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def gateway_pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = one(objects, "Deployment", GATEWAY)["spec"]["template"]["spec"]
    return found


def rules(role: dict[str, Any]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(group, resource, name or "", verbs) for every rule of a Role or ClusterRole."""
    return {(group, resource, name, tuple(sorted(rule["verbs"])))
            for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for name in rule.get("resourceNames", [""])}


def test_the_gateway_runs_from_the_operators_image_as_toolfleet_gateway() -> None:
    objects = template("image.tag=9.9.9", "gateway.settings.verbose=true")
    assert container(objects, GATEWAY)["image"] == container(objects)["image"]
    assert container(objects, GATEWAY)["args"] == ["gateway", "--verbose"]
    assert container(template(), GATEWAY)["args"] == ["gateway"]


def test_the_gateway_pods_run_restricted_probed_and_spread() -> None:
    objects = template()
    pod, main = gateway_pod(objects), container(objects, GATEWAY)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert main["securityContext"] == RESTRICTED
    assert {"name": "tmp", "mountPath": "/tmp"} in main["volumeMounts"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["resources"] == {"requests": {"cpu": "200m", "memory": "128Mi"},
                                 "limits": {"memory": "512Mi"}}
    # Longer than the 30 s the gateway drains calls in flight after SIGTERM.
    assert pod["terminationGracePeriodSeconds"] > 30
    term = pod["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == \
        one(objects, "Deployment", GATEWAY)["spec"]["selector"]["matchLabels"]


def test_the_gateway_has_its_own_service_account_and_pods_apart_from_the_operators() -> None:
    objects = template()
    assert gateway_pod(objects)["serviceAccountName"] == GATEWAY
    assert one(objects, "ServiceAccount", GATEWAY)["metadata"]["namespace"] == NAMESPACE
    gateway_labels = one(objects, "Deployment", GATEWAY)["spec"]["template"]["metadata"]["labels"]
    operator_selector = one(objects, "Service", FULLNAME)["spec"]["selector"]
    # The catalog Service (and the operator's PDB) must not pick gateway pods up.
    assert not operator_selector.items() <= gateway_labels.items()
    assert gateway_labels["app.kubernetes.io/component"] == "gateway"


def test_the_hpa_owns_the_replicas_while_it_is_on() -> None:
    objects = template()
    assert "replicas" not in one(objects, "Deployment", GATEWAY)["spec"]
    hpa = one(objects, "HorizontalPodAutoscaler", GATEWAY)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": GATEWAY}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]


def test_without_the_hpa_the_deployment_sets_the_replicas() -> None:
    objects = template("gateway.autoscaling.enabled=false", "gateway.replicas=3")
    assert one(objects, "Deployment", GATEWAY)["spec"]["replicas"] == 3
    assert by_kind(objects, "HorizontalPodAutoscaler") == []


@pytest.mark.parametrize(("sets", "budget"), [
    ((), True),
    (("gateway.autoscaling.minReplicas=1",), False),
    (("gateway.autoscaling.enabled=false", "gateway.replicas=1"), False),
    (("gateway.autoscaling.enabled=false", "gateway.replicas=2"), True),
    (("gateway.podDisruptionBudget.enabled=false",), False),
])
def test_a_disruption_budget_only_where_one_replica_may_go(sets: tuple[str, ...],
                                                           budget: bool) -> None:
    budgets = [p for p in by_kind(template(*sets), "PodDisruptionBudget")
               if p["metadata"]["name"] == GATEWAY]
    assert bool(budgets) == budget
    if budget:
        assert budgets[0]["spec"]["minAvailable"] == 1
        assert budgets[0]["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] \
            == "gateway"


def test_the_max_below_the_min_is_refused_with_both_numbers() -> None:
    result = helm("template", RELEASE, str(CHART), "--set", "gateway.autoscaling.maxReplicas=1")
    assert result.returncode != 0
    assert "gateway.autoscaling.maxReplicas (1) is below minReplicas (2)" in result.stderr


def test_the_service_forwards_port_80_to_the_gateways_http_port() -> None:
    objects = template()
    service = one(objects, "Service", GATEWAY)
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http",
                                         "protocol": "TCP", "appProtocol": "http"}]
    assert service["spec"]["selector"] == \
        one(objects, "Deployment", GATEWAY)["spec"]["selector"]["matchLabels"]
    # MCP sessions live in one replica; without them every request may go anywhere.
    assert service["spec"]["sessionAffinity"] == "ClientIP"
    stateless = one(template("gateway.settings.mcpSessions=false"), "Service", GATEWAY)
    assert "sessionAffinity" not in stateless["spec"]


def test_the_chart_defaults_are_the_gateways_own() -> None:
    settings = GatewaySettings.from_env(env(template(), GATEWAY))
    assert settings == GatewaySettings(operator_namespace=NAMESPACE)


def test_every_gateway_value_reaches_its_setting() -> None:
    objects = template("gateway.auth=false", "gateway.authCacheSeconds=2.5",
                       "gateway.settings.port=9090", "gateway.settings.maxRequestBytes=1048576",
                       "gateway.settings.maxInFlightPerBackend=8",
                       "gateway.settings.maxAttempts=1", "gateway.settings.ejectionFailures=2",
                       "gateway.settings.ejectionSeconds=0.5",
                       "gateway.settings.toolsListTtlSeconds=60",
                       "gateway.settings.mcpSessions=false")
    assert GatewaySettings.from_env(env(objects, GATEWAY)) == GatewaySettings(
        port=9090, max_request_bytes=1048576, max_in_flight_per_backend=8, max_attempts=1,
        ejection_failures=2, ejection_seconds=0.5, tools_list_ttl_seconds=60.0,
        mcp_sessions=False, operator_namespace=NAMESPACE, auth=False, auth_cache_seconds=2.5)
    assert container(objects, GATEWAY)["ports"][0]["containerPort"] == 9090


def test_the_chart_sets_every_variable_the_gateway_reads_and_no_other() -> None:
    source = Path(toolfleet.gateway.settings.__file__).read_text()
    read = set(re.findall(r'"(TOOLFLEET_GATEWAY_[A-Z_]+)"', source))
    assert set(env(template(), GATEWAY)) == read


def test_the_operator_names_the_gateway_in_its_catalogs() -> None:
    assert env(template())["TOOLFLEET_GATEWAY_URL"] == \
        f"http://{GATEWAY}.{NAMESPACE}.svc.cluster.local"
    elsewhere = env(template("gateway.service.port=8081", "settings.clusterDomain=corp.local"))
    assert elsewhere["TOOLFLEET_GATEWAY_URL"] == f"http://{GATEWAY}.{NAMESPACE}.svc.corp.local:8081"
    assert "TOOLFLEET_GATEWAY_URL" not in env(template("gateway.enabled=false"))


@pytest.mark.parametrize("sets", [(), ("gateway.service.port=8081",)])
def test_the_operator_takes_the_gateway_url_the_chart_gives_it(sets: tuple[str, ...]) -> None:
    url = env(template(*sets))["TOOLFLEET_GATEWAY_URL"]
    assert Settings.from_env({"TOOLFLEET_GATEWAY_URL": url}).gateway_url == url


def test_catalog_auth_reaches_the_operator() -> None:
    assert env(template())["TOOLFLEET_CATALOG_AUTH"] == "false"
    assert env(template("settings.catalogAuth=true"))["TOOLFLEET_CATALOG_AUTH"] == "true"


def test_the_gateway_may_read_catalogs_and_review_callers_and_nothing_else() -> None:
    objects = template()
    assert rules(one(objects, "ClusterRole", GATEWAY)) == {
        ("", "configmaps", "", ("get", "list", "watch")),
        ("discovery.k8s.io", "endpointslices", "", ("get", "list", "watch")),
        ("authentication.k8s.io", "tokenreviews", "", ("create",)),
        ("authorization.k8s.io", "subjectaccessreviews", "", ("create",)),
    }
    binding = one(objects, "ClusterRoleBinding", GATEWAY)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": GATEWAY}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": GATEWAY,
                                    "namespace": NAMESPACE}]


def test_without_auth_the_gateway_reviews_nothing() -> None:
    assert rules(one(template("gateway.auth=false"), "ClusterRole", GATEWAY)) == {
        ("", "configmaps", "", ("get", "list", "watch")),
        ("discovery.k8s.io", "endpointslices", "", ("get", "list", "watch"))}


def test_an_existing_gateway_service_account_can_be_used() -> None:
    objects = template("gateway.serviceAccount.create=false",
                       "gateway.serviceAccount.name=edge")
    assert [a["metadata"]["name"] for a in by_kind(objects, "ServiceAccount")] == [FULLNAME]
    assert gateway_pod(objects)["serviceAccountName"] == "edge"
    assert one(objects, "ClusterRoleBinding", GATEWAY)["subjects"][0]["name"] == "edge"
    result = helm("template", RELEASE, str(CHART), "--set", "gateway.serviceAccount.create=false")
    assert result.returncode != 0
    assert "gateway.serviceAccount.name is required when gateway.serviceAccount.create is " \
        "false" in result.stderr


def test_the_gateway_can_be_left_out() -> None:
    objects = template("gateway.enabled=false")
    assert [o for o in objects if o["metadata"]["name"].startswith(GATEWAY)] == []
    # The grant stays: the catalog endpoint with catalogAuth asks the same question.
    assert one(objects, "ClusterRole", DEFAULT_CALLER)


def test_a_cluster_role_grants_calls_on_the_default_catalog() -> None:
    caller = one(template(), "ClusterRole", DEFAULT_CALLER)
    assert rules(caller) == {("toolfleet.io", "toolcatalogs", "default", ("call",))}
    assert by_kind(template("rbac.create=false"), "ClusterRole") == []


def example(catalog: str) -> list[dict[str, Any]]:
    return template("gateway.exampleConsumer.enabled=true",
                    f"gateway.exampleConsumer.catalog={catalog}",
                    "gateway.exampleConsumer.namespace=routers",
                    "gateway.exampleConsumer.serviceAccount=router")


ROUTER = {"kind": "ServiceAccount", "name": "router", "namespace": "routers"}


def test_the_example_consumer_may_call_its_one_catalog() -> None:
    objects = example("team-a.tools.v2")
    role = one(objects, "Role", EXAMPLE)
    # The grant lives in the catalog's namespace, whatever the consumer's.
    assert role["metadata"]["namespace"] == "team-a"
    assert rules(role) == {("toolfleet.io", "toolcatalogs", "tools.v2", ("call",))}
    binding = one(objects, "RoleBinding", EXAMPLE)
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": EXAMPLE}
    assert binding["subjects"] == [ROUTER]
    assert [b["metadata"]["name"] for b in by_kind(objects, "ClusterRoleBinding")] == \
        [FULLNAME, GATEWAY]


def test_the_example_consumer_of_the_default_catalog_is_bound_cluster_wide() -> None:
    objects = example("default")
    binding = one(objects, "ClusterRoleBinding", EXAMPLE)
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": DEFAULT_CALLER}
    assert binding["subjects"] == [ROUTER]
    assert by_kind(objects, "Role") == by_kind(objects, "RoleBinding") == []


def test_no_consumer_is_granted_anything_by_default() -> None:
    objects = template()
    assert by_kind(objects, "Role") == by_kind(objects, "RoleBinding") == []
    assert [b["metadata"]["name"] for b in by_kind(objects, "ClusterRoleBinding")] == \
        [FULLNAME, GATEWAY]


def test_prometheus_scrapes_the_gateway_too() -> None:
    objects = template("serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom")
    monitor = one(objects, "ServiceMonitor", GATEWAY)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        one(objects, "Service", GATEWAY)["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert [m["metadata"]["name"] for m in by_kind(
        template("serviceMonitor.enabled=true", "gateway.enabled=false"), "ServiceMonitor")] \
        == [FULLNAME]


def test_the_notes_tell_where_to_call_the_tools() -> None:
    notes = (CHART / "templates" / "NOTES.txt").read_text()
    assert '{{ $gateway }}/mcp/CATALOG' in notes
    assert '{{ $gateway }}/v1/catalogs/CATALOG/calls?format=openai' in notes
    assert "kubectl auth can-i call toolcatalogs/default" in notes


# Gateway values a platform team might get wrong, and what the schema says about each.
BAD_VALUES: list[tuple[list[str], str]] = [
    (["gateway.replicas=0"], "at '/gateway/replicas': minimum: got 0, want 1"),
    (["gateway.enabled=yes"], "at '/gateway/enabled': got string, want boolean"),
    (["gateway.auth=maybe"], "at '/gateway/auth': got string, want boolean"),
    (["gateway.authCacheSeconds=-1"], "at '/gateway/authCacheSeconds': minimum: got -1, want 0"),
    (["gateway.autoscaling.minReplicas=0"],
     "at '/gateway/autoscaling/minReplicas': minimum: got 0, want 1"),
    (["gateway.autoscaling.targetCPUUtilizationPercentage=150"],
     "at '/gateway/autoscaling/targetCPUUtilizationPercentage': maximum: got 150, want 100"),
    (["gateway.settings.port=80"], "at '/gateway/settings/port': minimum: got 80, want 1,024"),
    (["gateway.settings.maxAttempts=11"],
     "at '/gateway/settings/maxAttempts': maximum: got 11, want 10"),
    (["gateway.settings.maxRequestBytes=10"],
     "at '/gateway/settings/maxRequestBytes': minimum: got 10, want 1,024"),
    (["gateway.settings.ejectionSeconds=soon"], "at '/gateway/settings/ejectionSeconds'"),
    (["gateway.settings.retries=3"], "at '/gateway/settings': additional properties 'retries'"),
    (["gateway.hpa.enabled=false"], "at '/gateway': additional properties 'hpa' not allowed"),
    (["gateway.service.type=ExternalName"], "at '/gateway/service/type'"),
    (["gateway.podDisruptionBudget.minAvailable=-1"],
     "at '/gateway/podDisruptionBudget/minAvailable'"),
    (["gateway.resources.requests.cpu=lots"], "at '/gateway/resources/requests/cpu'"),
    (["gateway.exampleConsumer.enabled=true"],
     "at '/gateway/exampleConsumer/catalog': minLength: got 0, want 1"),
    (["gateway.exampleConsumer.enabled=true", "gateway.exampleConsumer.catalog=tools",
      "gateway.exampleConsumer.namespace=routers", "gateway.exampleConsumer.serviceAccount=r"],
     "at '/gateway/exampleConsumer/catalog': 'tools' does not match pattern"),
]


@pytest.mark.parametrize(("sets", "expected"), BAD_VALUES, ids=[b[0][0] for b in BAD_VALUES])
def test_bad_gateway_values_fail_before_anything_is_installed(sets: list[str],
                                                              expected: str) -> None:
    refusal = schema_refusal(sets)
    assert expected in refusal, refusal


def test_the_readme_documents_every_gateway_variable() -> None:
    readme = (CHART.parents[1] / "README.md").read_text()
    settings_table = readme.split("## Gateway settings", 1)[1].split("\n## ", 1)[0]
    assert [name for name in env(template(), GATEWAY) if f"`{name}`" not in settings_table] == []
