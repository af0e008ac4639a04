"""The Service in front of every revision of a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import TRACK_LABEL, Owner, child_metadata, selector_labels
from toolfleet.resources.tracks import Track, track_service_name


def build_service(owner: Owner) -> dict[str, Any]:
    """A ClusterIP Service selecting the pods of every track (stable and canary)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, owner.name, "service"),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner),
            "ports": [{"name": "http", "port": owner.spec.port, "targetPort": "http",
                       "protocol": "TCP", "appProtocol": "http"}],
        },
    }


def build_track_service(owner: Owner, track: Track) -> dict[str, Any]:
    """A Service for one track only: the canary's endpoint in the catalog, and the
    HTTPRoute's backends, which need stable and canary apart to weight them."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, track_service_name(owner.name, track), "service",
                                   {TRACK_LABEL: track.value}),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner, track),
            "ports": [{"name": "http", "port": owner.spec.port, "targetPort": "http",
                       "protocol": "TCP", "appProtocol": "http"}],
        },
    }

