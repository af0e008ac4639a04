"""The ClusterRole grants exactly what the operator needs, and nothing on Secrets."""

from __future__ import annotations

from typing import Any

import pytest

from .helm import CHART, FULLNAME, NAMESPACE, by_kind, one, template

ALL_CHILD_VERBS = ("get", "list", "watch", "create", "patch", "delete")

# (API group, resource, verbs): the operator's needs, one row per resource.
EXPECTED: set[tuple[str, str, tuple[str, ...]]] = {
    ("toolfleet.io", "toolservices", ("get", "list", "watch", "patch")),
    ("toolfleet.io", "toolcatalogs", ("get", "list", "watch", "patch")),
    ("toolfleet.io", "toolservices/status", ("get", "patch")),
    ("toolfleet.io", "toolcatalogs/status", ("get", "patch")),
    ("", "serviceaccounts", ALL_CHILD_VERBS),
    ("", "services", ALL_CHILD_VERBS),
    ("", "configmaps", ALL_CHILD_VERBS),
    ("apps", "deployments", ALL_CHILD_VERBS),
    ("autoscaling", "horizontalpodautoscalers", ALL_CHILD_VERBS),
    ("policy", "poddisruptionbudgets", ALL_CHILD_VERBS),
    ("networking.k8s.io", "networkpolicies", ALL_CHILD_VERBS),
    ("gateway.networking.k8s.io", "httproutes", ALL_CHILD_VERBS),
    ("", "events", ("create", "patch")),
    ("events.k8s.io", "events", ("create", "patch")),
    ("", "nodes", ("get", "list", "watch")),
    ("", "pods", ("list", "watch")),
    ("", "namespaces", ("get", "list", "watch")),
    # A change to what refuses children retries the failed applies at once.
    ("", "resourcequotas", ("list", "watch")),
    ("", "limitranges", ("list", "watch")),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", ("list", "watch")),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ("list", "watch")),
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    ("kopf.dev", "clusterkopfpeerings", ("get", "list", "watch", "patch")),
    ("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch")),
}
WEBHOOK = {
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations",
     ("list", "watch", "create", "patch")),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations",
     ("list", "watch", "create", "patch")),
}
WATCHED_WEBHOOKS = {row for row in EXPECTED if row[0] == "admissionregistration.k8s.io"}
PEERING = {row for row in EXPECTED if row[0] == "kopf.dev"}
# The catalog endpoint with settings.catalogAuth asks who a caller is and what it may call.
CATALOG_AUTH = {
    ("authentication.k8s.io", "tokenreviews", ("create",)),
    ("authorization.k8s.io", "subjectaccessreviews", ("create",)),
}


def granted(objects: list[dict[str, Any]]) -> set[tuple[str, str, tuple[str, ...]]]:
    """The ClusterRole's rules, one row per (group, resource), verbs sorted like EXPECTED."""
    rows: dict[tuple[str, str], set[str]] = {}
    for rule in one(objects, "ClusterRole", FULLNAME)["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                rows.setdefault((group, resource), set()).update(rule["verbs"])
    order = {verb: i for i, verb in enumerate(ALL_CHILD_VERBS)}
    return {(group, resource, tuple(sorted(verbs, key=order.__getitem__)))
            for (group, resource), verbs in rows.items()}


def test_the_cluster_role_grants_exactly_the_operators_needs() -> None:
    assert granted(template()) == EXPECTED


def test_the_webhook_configurations_only_with_the_webhook() -> None:
    objects = template("webhook.enabled=true", "webhook.certSecretName=toolfleet-webhook-tls")
    assert granted(objects) == (EXPECTED - WATCHED_WEBHOOKS) | WEBHOOK


def test_token_and_access_reviews_only_with_catalog_auth() -> None:
    assert granted(template("settings.catalogAuth=true")) == EXPECTED | CATALOG_AUTH


def test_peering_objects_only_with_peering() -> None:
    assert granted(template("peering.enabled=false", "replicaCount=1")) == EXPECTED - PEERING


@pytest.mark.parametrize("sets", [(), ("webhook.enabled=true", "webhook.certSecretName=x"),
                                  ("settings.catalogAuth=true",)])
def test_nothing_on_secrets_no_wildcards_no_rbac(sets: tuple[str, ...]) -> None:
    # Every role the chart ships: the operator's, the gateway's, the catalog callers'.
    roles = by_kind(template(*sets), "ClusterRole") + by_kind(template(*sets), "Role")
    for rule in (rule for role in roles for rule in role["rules"]):
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "secrets" not in rule["resources"], rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule


@pytest.mark.parametrize("name", ["clusterrole.yaml", "gateway-rbac.yaml",
                                  "catalog-callers.yaml"])
def test_every_rule_says_what_it_is_for(name: str) -> None:
    lines = (CHART / "templates" / name).read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("- apiGroups:"):
            assert lines[index - 1].strip().startswith("#"), f"no comment above {line}"


def test_the_binding_grants_the_role_to_the_chart_service_account() -> None:
    objects = template()
    binding = one(objects, "ClusterRoleBinding", FULLNAME)
    account = one(objects, "ServiceAccount", FULLNAME)["metadata"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": FULLNAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                    "namespace": NAMESPACE}]
    deployment = one(objects, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert deployment["serviceAccountName"] == account["name"]


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    objects = template("rbac.create=false")
    assert by_kind(objects, "ClusterRole") == by_kind(objects, "ClusterRoleBinding") == []
