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
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    ("kopf.dev", "clusterkopfpeerings", ("get", "list", "watch", "patch")),
    ("kopf.dev", "kopfpeerings", ("get", "list", "watch", "patch")),
}
WEBHOOK = {
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", ("create", "patch")),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ("create", "patch")),
}
PEERING = {row for row in EXPECTED if row[0] == "kopf.dev"}


def granted(objects: list[dict[str, Any]]) -> set[tuple[str, str, tuple[str, ...]]]:
    """The ClusterRole's rules, one row per (group, resource), verbs sorted like EXPECTED."""
    rows: dict[tuple[str, str], set[str]] = {}
    for rule in one(objects, "ClusterRole")["rules"]:
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
    assert granted(objects) == EXPECTED | WEBHOOK


def test_peering_objects_only_with_peering() -> None:
    assert granted(template("peering.enabled=false", "replicaCount=1")) == EXPECTED - PEERING


@pytest.mark.parametrize("sets", [(), ("webhook.enabled=true", "webhook.certSecretName=x")])
def test_nothing_on_secrets_no_wildcards_no_rbac(sets: tuple[str, ...]) -> None:
    for rule in one(template(*sets), "ClusterRole")["rules"]:
        for key in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[key], rule
        assert "secrets" not in rule["resources"], rule
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"], rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule


def test_every_rule_says_what_it_is_for() -> None:
    lines = (CHART / "templates" / "clusterrole.yaml").read_text().splitlines()
    for index, line in enumerate(lines):
        if line.strip().startswith("- apiGroups:"):
            assert lines[index - 1].strip().startswith("#"), f"no comment above {line}"


def test_the_binding_grants_the_role_to_the_chart_service_account() -> None:
    objects = template()
    binding = one(objects, "ClusterRoleBinding")
    account = one(objects, "ServiceAccount")["metadata"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": FULLNAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["name"],
                                    "namespace": NAMESPACE}]
    deployment = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert deployment["serviceAccountName"] == account["name"]


def test_rbac_can_be_left_to_the_cluster_admin() -> None:
    objects = template("rbac.create=false")
    assert by_kind(objects, "ClusterRole") == by_kind(objects, "ClusterRoleBinding") == []
