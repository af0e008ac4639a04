"""The Gateway API HTTPRoute that splits traffic between stable and canary by weight."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import Owner, child_metadata
from toolfleet.resources.tracks import Track, track_service_name


def build_httproute(owner: Owner, canary_weight: int) -> dict[str, Any]:
    """Route the service's traffic to the stable and canary Services, weighted exactly."""
    gateway = owner.spec.rollout.gateway_ref
    parent: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                              "name": gateway.name if gateway else owner.name}
    if gateway is not None and gateway.namespace:
        parent["namespace"] = gateway.namespace
    backends = [{"group": "", "kind": "Service",
                 "name": track_service_name(owner.name, Track.stable),
                 "port": owner.spec.port, "weight": 100 - canary_weight}]
    if canary_weight > 0:
        backends.append({"group": "", "kind": "Service",
                         "name": track_service_name(owner.name, Track.canary),
                         "port": owner.spec.port, "weight": canary_weight})
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": child_metadata(owner, owner.name, "route"),
        "spec": {
            "parentRefs": [parent],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": backends}],
        },
    }
