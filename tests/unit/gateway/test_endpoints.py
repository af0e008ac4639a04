"""Pods behind catalog endpoints, from EndpointSlices (operator/toolfleet/gateway/endpoints.py)."""

from __future__ import annotations

from typing import Any

from toolfleet.catalog.model import Endpoint
from toolfleet.gateway.endpoints import EndpointSliceResolver

STABLE_URL = "http://search.team-a.svc.cluster.local:8080"
CANARY_URL = "http://search-canary.team-a.svc.cluster.local:8080"


def endpoint(url: str, track: str = "stable") -> Endpoint:
    return Endpoint(url=url, track=track, version="1", weight=100, ready=True)


def endpoint_slice(service: str, name: str, *pods: tuple[str, dict[str, bool]],
                   ports: list[dict[str, Any]] | None = None,
                   namespace: str = "team-a") -> dict[str, Any]:
    """An EndpointSlice as the controller writes it: one endpoint per (address, conditions)."""
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service}},
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}] if ports is None else ports,
        "endpoints": [{"addresses": [address], "conditions": conditions}
                      for address, conditions in pods],
    }


READY = {"ready": True, "serving": True, "terminating": False}


def test_each_ready_pod_is_an_address() -> None:
    resolver = EndpointSliceResolver()
    resolver.relist([endpoint_slice("search", "search-abc", ("10.0.0.2", READY),
                                    ("10.0.0.1", {}))])  # no `ready`: ready, says the API
    assert resolver.addresses(endpoint(STABLE_URL)) == [
        "http://10.0.0.1:8080", "http://10.0.0.2:8080"]


def test_pods_not_ready_or_terminating_are_left_out() -> None:
    resolver = EndpointSliceResolver()
    resolver.relist([endpoint_slice(
        "search", "search-abc", ("10.0.0.1", READY), ("10.0.0.2", {"ready": False}),
        ("10.0.0.3", {"ready": True, "terminating": True}))])
    assert resolver.addresses(endpoint(STABLE_URL)) == ["http://10.0.0.1:8080"]


def test_the_stable_endpoint_calls_only_stable_pods_when_a_stable_service_exists() -> None:
    # The stable endpoint names the Service of every track; the canary's pods are in it too.
    resolver = EndpointSliceResolver()
    resolver.relist([
        endpoint_slice("search", "search-1", ("10.0.0.1", READY), ("10.0.0.9", READY)),
        endpoint_slice("search-stable", "search-stable-1", ("10.0.0.1", READY)),
        endpoint_slice("search-canary", "search-canary-1", ("10.0.0.9", READY)),
    ])
    assert resolver.addresses(endpoint(STABLE_URL)) == ["http://10.0.0.1:8080"]
    assert resolver.addresses(endpoint(CANARY_URL, "canary")) == ["http://10.0.0.9:8080"]


def test_slices_of_one_service_add_up_and_follow_watch_events() -> None:
    resolver = EndpointSliceResolver()
    first = endpoint_slice("search", "search-1", ("10.0.0.1", READY))
    resolver.relist([first])
    resolver.handle("ADDED", endpoint_slice("search", "search-2", ("10.0.0.2", READY)))
    assert len(resolver.addresses(endpoint(STABLE_URL))) == 2

    resolver.handle("DELETED", first)
    assert resolver.addresses(endpoint(STABLE_URL)) == ["http://10.0.0.2:8080"]
    resolver.handle("MODIFIED", endpoint_slice("search", "search-2", ("10.0.0.2",
                                                                     {"ready": False})))
    # No ready pod known: through the Service, which may know better.
    assert resolver.addresses(endpoint(STABLE_URL)) == [STABLE_URL]


def test_the_port_is_the_one_named_http_and_ipv6_is_bracketed() -> None:
    resolver = EndpointSliceResolver()
    resolver.relist([endpoint_slice(
        "search", "search-1", ("fd00::5", READY),
        ports=[{"name": "metrics", "port": 9090}, {"name": "http", "port": 8080}])])
    assert resolver.addresses(endpoint(STABLE_URL)) == ["http://[fd00::5]:8080"]


def test_unknown_services_and_other_urls_are_called_as_they_are() -> None:
    resolver = EndpointSliceResolver()
    resolver.relist([endpoint_slice("search", "search-1", ("10.0.0.1", READY),
                                    namespace="team-b")])
    assert resolver.addresses(endpoint(STABLE_URL)) == [STABLE_URL]
    assert resolver.addresses(endpoint("http://127.0.0.1:9001")) == ["http://127.0.0.1:9001"]


def test_a_relist_forgets_slices_deleted_meanwhile() -> None:
    resolver = EndpointSliceResolver()
    resolver.relist([endpoint_slice("search", "search-1", ("10.0.0.1", READY))])
    resolver.relist([])
    assert resolver.addresses(endpoint(STABLE_URL)) == [STABLE_URL]
