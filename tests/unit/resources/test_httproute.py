"""The HTTPRoute that weights stable and canary (operator/toolfleet/resources/httproute.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.httproute import build_httproute
from toolfleet.resources.meta import Owner
from toolfleet.resources.service import build_track_service
from toolfleet.resources.tracks import Track

from .fixtures import UID, owner, pod_template_labels, selects

PROPERTIES = settings(max_examples=50, deadline=None)


def routed(gateway: dict[str, Any] | None = None, **sections: Any) -> Owner:
    """A canary ToolService whose traffic is split by a Gateway API HTTPRoute."""
    return owner(rollout={"strategy": "canary", "trafficRouting": "gatewayAPI",
                          "gatewayRef": gateway or {"name": "edge", "namespace": "gateways"}},
                 **sections)


def backends(route: dict[str, Any]) -> list[dict[str, Any]]:
    (rule,) = route["spec"]["rules"]
    found: list[dict[str, Any]] = rule["backendRefs"]
    return found


@PROPERTIES
@given(weight=st.integers(1, 100), port=st.sampled_from([8080, 9000]))
def test_the_canary_gets_its_weight_and_stable_the_rest(weight: int, port: int) -> None:
    route = build_httproute(routed(port=port), weight)
    assert [(b["name"], b["weight"], b["port"]) for b in backends(route)] == [
        ("forecaster-stable", 100 - weight, port), ("forecaster-canary", weight, port)]
    assert all((b["group"], b["kind"]) == ("", "Service") for b in backends(route))


def test_without_canary_weight_only_stable_is_a_backend() -> None:
    route = build_httproute(routed(), 0)
    assert [(b["name"], b["weight"]) for b in backends(route)] == [("forecaster-stable", 100)]


def test_the_route_attaches_to_the_gateway_named_in_gateway_ref() -> None:
    (parent,) = build_httproute(routed({"name": "edge", "namespace": "gateways"}), 20)[
        "spec"]["parentRefs"]
    assert parent == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge",
                      "namespace": "gateways"}


def test_a_gateway_without_namespace_is_looked_up_in_the_services_namespace() -> None:
    (parent,) = build_httproute(routed({"name": "edge"}), 20)["spec"]["parentRefs"]
    assert parent["name"] == "edge"
    assert "namespace" not in parent


def test_the_route_matches_every_path_and_is_owned_by_the_service() -> None:
    route = build_httproute(routed(), 20)
    assert (route["apiVersion"], route["kind"]) == ("gateway.networking.k8s.io/v1",
                                                    "HTTPRoute")
    assert (route["metadata"]["name"], route["metadata"]["namespace"]) == ("forecaster",
                                                                           "team-a")
    assert route["metadata"]["ownerReferences"][0]["uid"] == UID
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]


def test_each_backend_reaches_the_pods_of_its_own_track_only() -> None:
    svc = routed()
    services = {s["metadata"]["name"]: s for s in
                (build_track_service(svc, Track.stable), build_track_service(svc, Track.canary))}
    pods = {track: pod_template_labels(build_deployment(svc, svc.spec, "0123456789", track))
            for track in (Track.stable, Track.canary)}
    for backend, track in zip(backends(build_httproute(svc, 30)), (Track.stable, Track.canary),
                              strict=True):
        service = services[backend["name"]]
        assert service["spec"]["ports"][0]["port"] == backend["port"]
        selector = {"matchLabels": service["spec"]["selector"]}
        assert {t for t, labels in pods.items() if selects(selector, labels)} == {track}
