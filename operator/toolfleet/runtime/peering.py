"""This replica's part in kopf peering, and whether kopf lets it work now."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from toolfleet.runtime import kube

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peering:
    """How this replica takes part in kopf peering (set by `toolfleet run --peering`)."""

    name: str
    namespace: str | None  # None: the ClusterKopfPeering
    identity: str
    priority: int


def is_active(peering: Peering) -> bool:
    """Whether kopf lets this replica work: no live peer has an equal or higher priority.

    kopf pauses the watches of a replica that steps back, but not our own work
    queue and resync, which must then stand aside too. Raises `kube.ApiError`.
    """
    kind = "KopfPeering" if peering.namespace else "ClusterKopfPeering"
    body = kube.get(kind, peering.namespace, peering.name)
    now = datetime.now(UTC)
    for identity, peer in ((body or {}).get("status") or {}).items():
        if identity == peering.identity or not isinstance(peer, dict):
            continue
        try:
            deadline = (datetime.fromisoformat(str(peer["lastseen"]))
                        + timedelta(seconds=int(peer.get("lifetime", 60))))
        except (KeyError, ValueError):
            continue
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
        if deadline > now and int(peer.get("priority", 0)) >= peering.priority:
            return False
    return True


def may_work(peering: Peering) -> bool:
    """`is_active`, False (with a warning) when the peering object cannot be read."""
    try:
        return is_active(peering)
    except kube.ApiError as err:
        log.warning("standing aside: reading the peering object: %s", err)
        return False
