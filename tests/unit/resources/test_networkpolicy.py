"""The NetworkPolicy per exposure (operator/toolfleet/resources/networkpolicy.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.networkpolicy import build_network_policy
from toolfleet.resources.tracks import Track
from toolfleet.settings import Settings

from .fixtures import accesses, owner, owner_of, pod_template_labels, selects, wire

PROPERTIES = settings(max_examples=50, deadline=None)
SETTINGS = Settings()
OPERATOR_PEER = {"namespaceSelector": {}, "podSelector": {"matchLabels": {
    "app.kubernetes.io/name": "toolfleet", "app.kubernetes.io/component": "operator"}}}
GATEWAY_PEER = {"namespaceSelector": {}, "podSelector": {"matchLabels": {
    "app.kubernetes.io/name": "toolfleet", "app.kubernetes.io/component": "gateway"}}}
SCRAPER_PEER = {"namespaceSelector": {}, "podSelector": {"matchLabels": {
    "app.kubernetes.io/name": "prometheus"}}}


@dataclass(frozen=True)
class Caller:
    """A pod that wants to call the service, in a namespace with labels."""

    namespace: str
    namespace_labels: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


SAME_NAMESPACE = Caller("team-a", {"kubernetes.io/metadata.name": "team-a"}, {"app": "batch"})
OTHER_NAMESPACE = Caller("team-b", {"kubernetes.io/metadata.name": "team-b"}, {"app": "batch"})
ROUTER = Caller("routing", {"kubernetes.io/metadata.name": "routing", "team": "router"},
                {"app": "router"})
OPERATOR = Caller("toolfleet-system", {"kubernetes.io/metadata.name": "toolfleet-system"},
                  dict(SETTINGS.operator_pod_labels))
GATEWAY = Caller("toolfleet-system", {"kubernetes.io/metadata.name": "toolfleet-system"},
                 dict(SETTINGS.gateway_pod_labels))
PROMETHEUS = Caller("monitoring", {"kubernetes.io/metadata.name": "monitoring"},
                    dict(SETTINGS.scraper_pod_labels))


def admits(policy: dict[str, Any], caller: Caller, port: int) -> bool:
    """Whether the policy lets `caller` reach `port` (Kubernetes NetworkPolicy semantics)."""
    own_namespace = policy["metadata"]["namespace"]
    for rule in policy["spec"]["ingress"]:
        if port not in [p["port"] for p in rule.get("ports", [])]:
            continue
        if "from" not in rule:
            return True
        for peer in rule["from"]:
            if "namespaceSelector" in peer:
                in_namespace = selects(peer["namespaceSelector"], caller.namespace_labels)
            else:
                in_namespace = caller.namespace == own_namespace
            if in_namespace and selects(peer.get("podSelector", {}), caller.labels):
                return True
    return False


def policy(exposure: str, callers: list[dict[str, Any]] | None = None,
           port: int = 8080) -> dict[str, Any]:
    svc = owner(port=port, access={"exposure": exposure, "allowedCallers": callers or []})
    return build_network_policy(svc, SETTINGS)


ROUTER_CALLER = {"namespaceSelector": {"matchLabels": {"team": "router"}},
                 "podSelector": {"matchLabels": {"app": "router"}}}


def test_public_lets_every_pod_in_through_a_rule_without_from() -> None:
    rules = policy("public")["spec"]["ingress"]
    assert {"ports": [{"protocol": "TCP", "port": 8080}]} in rules
    for caller in (SAME_NAMESPACE, OTHER_NAMESPACE, ROUTER, OPERATOR, PROMETHEUS):
        assert admits(policy("public"), caller, 8080)


def test_internal_lets_in_its_own_namespace_and_callers() -> None:
    rules = policy("internal", [ROUTER_CALLER])["spec"]["ingress"]
    assert all("from" in rule for rule in rules)
    assert {"podSelector": {}} in rules[0]["from"]
    found = policy("internal", [ROUTER_CALLER])
    assert admits(found, SAME_NAMESPACE, 8080)
    assert admits(found, ROUTER, 8080)
    assert not admits(found, OTHER_NAMESPACE, 8080)


def test_private_lets_in_only_callers_operator_and_scraper() -> None:
    found = policy("private", [ROUTER_CALLER])
    (rule,) = found["spec"]["ingress"]
    assert rule["from"] == [OPERATOR_PEER, GATEWAY_PEER, SCRAPER_PEER, ROUTER_CALLER]
    assert admits(found, ROUTER, 8080)
    assert not admits(found, SAME_NAMESPACE, 8080)
    assert not admits(found, OTHER_NAMESPACE, 8080)
    # The router's namespace alone is not enough: both selectors must match.
    assert not admits(found, Caller("routing", ROUTER.namespace_labels, {"app": "other"}), 8080)


def test_private_without_callers_is_closed_to_all_but_operator_and_scraper() -> None:
    (rule,) = policy("private")["spec"]["ingress"]
    assert rule["from"] == [OPERATOR_PEER, GATEWAY_PEER, SCRAPER_PEER]


@pytest.mark.parametrize("exposure", ["public", "internal", "private"])
def test_the_operator_the_gateway_and_prometheus_always_get_in(exposure: str) -> None:
    found = policy(exposure)
    assert admits(found, OPERATOR, 8080)
    assert admits(found, GATEWAY, 8080)
    assert admits(found, PROMETHEUS, 8080)


def test_a_caller_without_namespace_selector_means_the_services_namespace() -> None:
    found = policy("private", [{"podSelector": {"matchLabels": {"app": "batch"}}}])
    assert found["spec"]["ingress"][0]["from"][-1] == {
        "podSelector": {"matchLabels": {"app": "batch"}}}
    assert admits(found, SAME_NAMESPACE, 8080)
    assert not admits(found, OTHER_NAMESPACE, 8080)


def test_a_caller_namespace_selector_alone_admits_every_pod_there() -> None:
    found = policy("private", [{"namespaceSelector": {"matchLabels": {"team": "router"}}}])
    assert admits(found, Caller("routing", ROUTER.namespace_labels, {"app": "anything"}), 8080)


def test_caller_expressions_pass_through() -> None:
    caller = {"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["router", "planner"]}]}}
    peer = policy("private", [caller])["spec"]["ingress"][0]["from"][-1]
    assert peer == {"podSelector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["router", "planner"]}]}}


def test_only_the_service_port_is_opened() -> None:
    found = policy("public", port=9000)
    assert admits(found, OTHER_NAMESPACE, 9000)
    assert not admits(found, OTHER_NAMESPACE, 8080)


def test_the_policy_covers_the_pods_of_every_track_and_only_ingress() -> None:
    svc = owner()
    found = build_network_policy(svc, SETTINGS)
    assert found["spec"]["policyTypes"] == ["Ingress"]
    for track in (Track.stable, Track.canary):
        dep = build_deployment(svc, svc.spec, "0123456789", track)
        assert selects(found["spec"]["podSelector"], pod_template_labels(dep))
    other = owner(name="other")
    dep = build_deployment(other, other.spec, "0123456789", Track.stable)
    assert not selects(found["spec"]["podSelector"], pod_template_labels(dep))


def test_the_policy_is_owned_and_labelled() -> None:
    meta = policy("internal")["metadata"]
    assert meta["ownerReferences"][0]["controller"] is True
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "toolfleet"


@PROPERTIES
@given(access=accesses)
def test_operator_and_scraper_in_and_strangers_out_unless_public(
        access: dict[str, Any]) -> None:
    found = build_network_policy(
        owner_of(ToolServiceSpec.model_validate(wire(access=access))), SETTINGS)
    assert admits(found, OPERATOR, 8080) and admits(found, PROMETHEUS, 8080)
    stranger = Caller("elsewhere", {"kubernetes.io/metadata.name": "elsewhere"}, {"x": "y"})
    assert admits(found, stranger, 8080) == (access["exposure"] == "public")
    assert admits(found, SAME_NAMESPACE, 8080) == (access["exposure"] != "private")
