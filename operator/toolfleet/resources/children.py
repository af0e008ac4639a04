"""Every child object a ToolService should have, in the order they are applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolfleet.api.toolservice import RolloutStrategy, ToolServiceSpec, TrafficRouting
from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.hpa import build_hpa
from toolfleet.resources.httproute import build_httproute
from toolfleet.resources.meta import Owner
from toolfleet.resources.networkpolicy import build_network_policy
from toolfleet.resources.pdb import build_pdb
from toolfleet.resources.revisions import build_revisions
from toolfleet.resources.service import build_service, build_track_service
from toolfleet.resources.serviceaccount import build_service_account
from toolfleet.resources.tracks import Track, deployment_name, track_service_name
from toolfleet.rollout.revision import revision_of
from toolfleet.settings import Settings


@dataclass(frozen=True)
class Tracks:
    """Which spec each track runs: the stable one, and the canary (the current spec) if any."""

    # None when the stable revision's spec was lost: the live Deployment is left as it is.
    stable_spec: ToolServiceSpec | None
    stable_revision: str
    canary_revision: str | None = None
    canary_replicas: int = 0
    canary_weight: int = 0
    # Specs kept in the revisions ConfigMap though no track runs them: the
    # revision before an unfinished promotion, which abort restores.
    retained: Mapping[str, ToolServiceSpec] = field(default_factory=dict)


def steady(spec: ToolServiceSpec) -> Tracks:
    """No rollout under way: the current spec is stable."""
    return Tracks(stable_spec=spec, stable_revision=revision_of(spec))


def build_children(owner: Owner, settings: Settings,
                   tracks: Tracks | None = None) -> list[dict[str, Any]]:
    """The desired children: ServiceAccount first (pods need it), then the rest."""
    tracks = tracks or steady(owner.spec)
    rollout = owner.spec.rollout
    children = [build_service_account(owner)]
    if tracks.stable_spec is not None:
        children.append(build_deployment(owner, tracks.stable_spec, tracks.stable_revision,
                                         Track.stable))
    children += [
        build_service(owner),
        build_hpa(owner),
        build_pdb(owner),
        build_network_policy(owner, settings),
    ]
    if rollout.strategy == RolloutStrategy.canary:
        specs = dict(tracks.retained)
        if tracks.stable_spec is not None:
            specs[tracks.stable_revision] = tracks.stable_spec
        children.append(build_track_service(owner, Track.stable))
        if tracks.canary_revision is not None:
            specs[tracks.canary_revision] = owner.spec
            children.append(build_deployment(owner, owner.spec, tracks.canary_revision,
                                             Track.canary, replicas=tracks.canary_replicas))
            children.append(build_track_service(owner, Track.canary))
        children.insert(0, build_revisions(owner, specs))
        if rollout.traffic_routing == TrafficRouting.gateway_api:
            children.append(build_httproute(owner, tracks.canary_weight))
    return children


def retired_children(owner: Owner, tracks: Tracks) -> list[tuple[str, str]]:
    """(kind, name) of children that must go: the canary's, once no canary runs."""
    if tracks.canary_revision is not None:
        return []
    return [("Deployment", deployment_name(owner.name, Track.canary)),
            ("Service", track_service_name(owner.name, Track.canary))]

