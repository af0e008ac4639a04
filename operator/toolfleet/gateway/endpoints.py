"""Which pods serve a catalog endpoint: ready addresses from EndpointSlices.

A catalog endpoint is a Service URL. Calling the Service's virtual IP lets
kube-proxy pick a pod per connection, hidden from the gateway; calling pods
by address instead makes every decision of the gateway per pod: in-flight
limits, outlier ejection, and a retry that goes to another pod. And weights
stay exact: the stable endpoint names the Service of every track, so its
addresses come from the `<name>-stable` Service where a canary strategy made
one (resources/tracks.py).

The EndpointSlices of toolfleet's Services are followed with a reflector
(runtime/reflector.py); the request path only reads the index. An endpoint
whose Service has no ready address known here is called by its URL, so a
gateway without EndpointSlice access still works through the Service.

Sources: EndpointSlice conditions (discovery.k8s.io/v1): `ready` unset means
ready; a terminating endpoint is not ready. The port is the slice's port named
`http` (the name toolfleet's Services give it), or its only port.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from toolfleet.catalog.model import Endpoint
from toolfleet.resources.tracks import Track, track_service_name
from toolfleet.runtime.reflector import Reflector

# The labels toolfleet's Services carry, which the EndpointSlice controller copies
# onto their slices.
SELECTOR = "app.kubernetes.io/part-of=toolfleet,app.kubernetes.io/component=service"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

ServiceKey = tuple[str, str]  # (namespace, Service name)
SliceKey = tuple[str, str]  # (namespace, EndpointSlice name)
Addresses = tuple[str, ...]  # base URLs, sorted


class EndpointSliceResolver:
    """Ready pod addresses of Services, kept from their EndpointSlices; an AddressResolver."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (namespace, slice name) -> (Service, its ready base URLs)
        self._slices: dict[SliceKey, tuple[ServiceKey, Addresses]] = {}
        self._index: dict[ServiceKey, Addresses] = {}

    def relist(self, items: Iterable[dict[str, Any]]) -> None:
        """Start over from a full list of EndpointSlices."""
        slices = {}
        for item in items:
            key, entry = _read(item)
            if entry is not None:
                slices[key] = entry
        with self._lock:
            self._slices = slices
            self._index = _index(slices.values())

    def handle(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch event of an EndpointSlice."""
        key, entry = _read(obj)
        with self._lock:
            slices = dict(self._slices)
            if kind == "DELETED" or entry is None:
                slices.pop(key, None)
            else:
                slices[key] = entry
            self._slices = slices
            self._index = _index(slices.values())

    def addresses(self, endpoint: Endpoint) -> Sequence[str]:
        """The ready pods' base URLs behind `endpoint`, or `[endpoint.url]` when none is known."""
        parts = urlsplit(endpoint.url)
        labels = (parts.hostname or "").split(".")
        if len(labels) < 3 or labels[2] != "svc":
            return [endpoint.url]
        service, namespace = labels[0], labels[1]
        candidates = [service]
        if endpoint.track == Track.stable:
            candidates.insert(0, track_service_name(service, Track.stable))
        index = self._index
        for name in candidates:
            found = index.get((namespace, name))
            if found:
                return list(found)
        return [endpoint.url]

    def follow(self) -> threading.Event:
        """Follow the EndpointSlices of toolfleet's Services on a thread; set the event to stop."""
        return Reflector("EndpointSlice", SELECTOR, self).start("endpointslice-follower")


def _read(item: dict[str, Any]) -> tuple[SliceKey, tuple[ServiceKey, Addresses] | None]:
    meta = item.get("metadata") or {}
    key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    port = _port(item.get("ports") or [])
    if not service or port is None:
        return key, None
    urls = []
    for endpoint in item.get("endpoints") or []:
        conditions = endpoint.get("conditions") or {}
        if conditions.get("ready") is False or conditions.get("terminating") is True:
            continue
        for address in (endpoint.get("addresses") or [])[:1]:
            urls.append(_url(address, port))
    return key, ((key[0], str(service)), tuple(sorted(urls)))


def _port(ports: list[dict[str, Any]]) -> int | None:
    named = [p for p in ports if p.get("name") == "http"] or (ports if len(ports) == 1 else [])
    port = named[0].get("port") if named else None
    return port if isinstance(port, int) else None


def _url(address: str, port: int) -> str:
    try:
        host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        host = address
    return f"http://{host}:{port}"


def _index(entries: Iterable[tuple[ServiceKey, Addresses]]) -> dict[ServiceKey, Addresses]:
    index: dict[ServiceKey, list[str]] = {}
    for service, urls in entries:
        index.setdefault(service, []).extend(urls)
    return {service: tuple(sorted(set(urls))) for service, urls in index.items()}
