"""What the catalog is built from: one entry per observed ToolService.

The shell lists ToolService objects and namespaces; `entry_from_body` turns each
object into a `ServiceEntry` without any API call, so the builder stays pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from toolfleet.api.toolservice import (
    RolloutPhase,
    ToolServiceSpec,
    ToolServiceStatus,
    TrafficRouting,
)
from toolfleet.catalog.model import Endpoint
from toolfleet.resources.tracks import Track, service_url
from toolfleet.rollout.revision import revision_of

# Phases in which the canary Deployment runs and takes a share of traffic.
CANARY_SERVING_PHASES = frozenset({RolloutPhase.progressing.value, RolloutPhase.paused.value})
# Shown for the stable endpoint of a canary when status has not recorded it.
UNKNOWN_VERSION = "unknown"


# A ToolService by (namespace, name).
ServiceKey = tuple[str, str]


class EntryError(ValueError):
    """A ToolService object that cannot be read into a catalog entry."""


@dataclass(frozen=True)
class ServiceEntry:
    """A ToolService as the catalog sees it: identity, labels, spec, endpoints, readiness."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]
    spec: ToolServiceSpec
    endpoints: list[Endpoint]
    ready: bool

    @property
    def key(self) -> str:
        """namespace/name, the way status and conflicts name a service."""
        return f"{self.namespace}/{self.name}"


def entry_from_body(body: Mapping[str, Any], namespace_labels: Mapping[str, str], *,
                    cluster_domain: str) -> ServiceEntry:
    """Read a ToolService object (metadata, spec, status) into a catalog entry.

    The stable endpoint is status.endpoint (the operator's), else the Service of
    every track; the canary's is its track Service. Both are built by
    `resources.tracks` in `cluster_domain` (the operator's TOOLFLEET_CLUSTER_DOMAIN).
    While a canary runs (rollout phase Progressing or Paused) a canary endpoint
    is added with the rollout's weight, and the stable endpoint keeps the rest;
    with trafficRouting replicas, each also carries its effective weight, its
    share of the pods (status.rollout.capacity.effectiveWeight).
    Both endpoints share the service's Ready condition: status has no separate
    readiness per revision.
    """
    metadata = body.get("metadata") or {}
    name = str(metadata.get("name") or "")
    namespace = str(metadata.get("namespace") or "")
    if not name or not namespace:
        raise EntryError("ToolService object lacks metadata.name or metadata.namespace")
    where = f"toolservice {namespace}/{name}"
    try:
        spec = ToolServiceSpec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise EntryError(f"{where}: spec is invalid; fix it and re-apply: {error}") from error
    try:
        status = ToolServiceStatus.model_validate(body.get("status") or {})
    except ValidationError as error:
        raise EntryError(f"{where}: status is unreadable: {error}") from error

    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
    stable_url = status.endpoint or service_url(name, namespace, spec.port, cluster_domain)
    rollout = status.rollout
    canary_weight = rollout.weight if rollout and rollout.phase in CANARY_SERVING_PHASES else None
    # While a canary runs, the spec describes the canary; the stable revision is
    # known only from status.
    if canary_weight is None:
        stable_version = status.stable_version or spec.version
        stable_revision: str | None = status.stable_revision or revision_of(spec)
    else:
        stable_version = status.stable_version or UNKNOWN_VERSION
        stable_revision = status.stable_revision

    effective = None
    if (canary_weight is not None and rollout is not None and rollout.capacity is not None
            and spec.rollout.traffic_routing == TrafficRouting.replicas):
        effective = rollout.capacity.effective_weight
    endpoints = [Endpoint(
        url=stable_url, track=Track.stable, version=stable_version, revision=stable_revision,
        weight=100 - (canary_weight or 0), ready=ready,
        effective_weight=None if effective is None else 100 - effective,
    )]
    if rollout is not None and canary_weight is not None:
        endpoints.append(Endpoint(
            url=service_url(name, namespace, spec.port, cluster_domain, Track.canary),
            track=Track.canary,
            version=rollout.version, revision=rollout.revision, weight=canary_weight,
            ready=ready, effective_weight=effective,
        ))
    return ServiceEntry(
        namespace=namespace, name=name, spec=spec, endpoints=endpoints, ready=ready,
        labels=dict(metadata.get("labels") or {}), namespace_labels=dict(namespace_labels),
    )


def settled_toolservices(observed: Iterable[Mapping[str, Any]],
                         previous: Mapping[ServiceKey, Mapping[str, Any]]
                         ) -> dict[ServiceKey, Mapping[str, Any]]:
    """Each observed ToolService as last reconciled: a spec change counts once its status follows.

    Between a spec change and the status written for it, the object mixes the
    new spec with the old revision; publishing that would change the catalog
    twice for one edit. So where status.observedGeneration lags
    metadata.generation, the body settled `previous`ly stands, if there is one
    (a ToolService seen for the first time counts as it is). A ToolService no
    longer observed is left out.
    """
    settled: dict[ServiceKey, Mapping[str, Any]] = {}
    for body in observed:
        meta = body["metadata"]
        key = (str(meta["namespace"]), str(meta["name"]))
        observed_generation = (body.get("status") or {}).get("observedGeneration")
        if observed_generation == meta.get("generation") or key not in previous:
            settled[key] = body
        else:
            settled[key] = previous[key]
    return settled
