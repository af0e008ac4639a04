"""The NetworkPolicy that limits who may call a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.api.common import LabelSelector
from toolfleet.api.toolservice import Exposure
from toolfleet.resources.meta import Owner, child_metadata, selector_labels
from toolfleet.settings import Settings


def build_network_policy(owner: Owner, settings: Settings) -> dict[str, Any]:
    """Default-deny ingress to the service's pods, except its allowed callers.

    Always allowed: the operator (it probes the services it lists in the catalog),
    the gateway (it carries the calls of whoever RBAC lets call a catalog listing
    the service) and Prometheus (metrics scraping; the canary analysis reads
    them). Then by
    exposure: public lets any pod in, internal lets the service's own namespace in,
    private lets in only `access.allowedCallers`.
    """
    access = owner.spec.access
    port = [{"protocol": "TCP", "port": owner.spec.port}]
    peers: list[dict[str, Any]] = [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": settings.operator_pod_labels}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": settings.gateway_pod_labels}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": settings.scraper_pod_labels}},
    ]
    rules: list[dict[str, Any]] = []
    if access.exposure == Exposure.public:
        rules.append({"ports": port})  # no `from`: every source
    else:
        if access.exposure == Exposure.internal:
            peers.append({"podSelector": {}})
        for caller in access.allowed_callers:
            peer: dict[str, Any] = {}
            if caller.namespace_selector is not None:
                peer["namespaceSelector"] = _selector(caller.namespace_selector)
            peer["podSelector"] = (_selector(caller.pod_selector)
                                   if caller.pod_selector is not None else {})
            peers.append(peer)
    rules.append({"from": peers, "ports": port})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": child_metadata(owner, owner.name, "network-policy"),
        "spec": {
            "podSelector": {"matchLabels": selector_labels(owner)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def _selector(selector: LabelSelector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if selector.match_labels:
        out["matchLabels"] = dict(selector.match_labels)
    if selector.match_expressions:
        out["matchExpressions"] = [e.to_wire() for e in selector.match_expressions]
    return out
