"""The Service in front of every revision (operator/toolfleet/resources/service.py)."""

from __future__ import annotations

from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.service import build_service, build_track_service
from toolfleet.resources.tracks import Track, service_url, track_service_name

from .fixtures import UID, owner, pod_template_labels, selects


def test_the_service_sends_traffic_to_stable_and_canary_pods() -> None:
    svc = owner()
    service = build_service(svc)
    for track in (Track.stable, Track.canary):
        dep = build_deployment(svc, svc.spec, "0123456789", track)
        assert selects({"matchLabels": service["spec"]["selector"]}, pod_template_labels(dep))


def test_the_service_does_not_select_another_services_pods() -> None:
    other = owner(name="other")
    dep = build_deployment(other, other.spec, "0123456789", Track.stable)
    selector = build_service(owner())["spec"]["selector"]
    assert not selects({"matchLabels": selector}, pod_template_labels(dep))


def test_the_port_reaches_the_containers_named_port() -> None:
    svc = owner(port=9000)
    (port,) = build_service(svc)["spec"]["ports"]
    assert port["port"] == 9000
    container = build_deployment(svc, svc.spec, "0123456789")["spec"]["template"]["spec"][
        "containers"][0]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == 9000
    assert (port["protocol"], port["appProtocol"]) == ("TCP", "http")


def test_it_is_an_owned_cluster_ip_service_named_after_the_toolservice() -> None:
    service = build_service(owner())
    assert service["spec"]["type"] == "ClusterIP"
    assert (service["metadata"]["name"], service["metadata"]["namespace"]) == (
        "forecaster", "team-a")
    assert service["metadata"]["ownerReferences"][0]["uid"] == UID
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "service"


def test_the_url_is_the_in_cluster_dns_name_and_port() -> None:
    assert service_url("forecaster", "team-a", 9000, "cluster.local") == (
        "http://forecaster.team-a.svc.cluster.local:9000")
    assert service_url("forecaster", "team-a", 8080, "corp.example") == (
        "http://forecaster.team-a.svc.corp.example:8080")


# -- track Services -------------------------------------------------------------------

def test_a_track_service_selects_only_the_pods_of_its_track() -> None:
    svc = owner()
    pods = {track: pod_template_labels(build_deployment(svc, svc.spec, "0123456789", track))
            for track in (Track.stable, Track.canary)}
    for track in (Track.stable, Track.canary):
        selector = {"matchLabels": build_track_service(svc, track)["spec"]["selector"]}
        assert {t for t, labels in pods.items() if selects(selector, labels)} == {track}


def test_a_track_service_does_not_select_another_services_pods() -> None:
    other = owner(name="other")
    for track in (Track.stable, Track.canary):
        dep = build_deployment(other, other.spec, "0123456789", track)
        selector = build_track_service(owner(), track)["spec"]["selector"]
        assert not selects({"matchLabels": selector}, pod_template_labels(dep))


def test_track_services_are_named_and_labelled_after_their_track() -> None:
    svc = owner(port=9000)
    for track in (Track.stable, Track.canary):
        service = build_track_service(svc, track)
        meta = service["metadata"]
        assert meta["name"] == track_service_name(svc.name, track) == f"forecaster-{track}"
        assert meta["namespace"] == "team-a"
        assert meta["labels"]["toolfleet.io/track"] == track
        assert meta["ownerReferences"][0]["uid"] == UID
        (port,) = service["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (9000, "http")
        assert service["spec"]["type"] == "ClusterIP"
