"""The Service in front of every revision of a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import TRACK_LABEL, Owner, child_metadata, selector_labels


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


def track_service_name(owner: Owner, track: str) -> str:
    """`<name>-stable` or `<name>-canary`."""
    return f"{owner.name}-{track}"


def build_track_service(owner: Owner, track: str) -> dict[str, Any]:
    """A Service for one track only: the canary's endpoint in the catalog, and the
    HTTPRoute's backends, which need stable and canary apart to weight them."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": child_metadata(owner, track_service_name(owner, track), "service",
                                   {TRACK_LABEL: track}),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(owner, track),
            "ports": [{"name": "http", "port": owner.spec.port, "targetPort": "http",
                       "protocol": "TCP", "appProtocol": "http"}],
        },
    }


def service_url(owner: Owner, cluster_domain: str) -> str:
    """The in-cluster URL of the Service."""
    return f"http://{owner.name}.{owner.namespace}.svc.{cluster_domain}:{owner.spec.port}"
