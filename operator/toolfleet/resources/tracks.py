"""Tracks: the one place that names a track's objects and builds service URLs.

A ToolService runs one or two tracks: `stable`, and `canary` while a rollout
runs. Every name a track's objects carry, and every URL a catalog or a status
gives for them, comes from here, so the operator, the catalog and the CLI can
never disagree about where a revision answers.

Names: the stable Deployment is `<name>`, the canary's `<name>-canary`; the
Service in front of every track is `<name>`, each track's own `<name>-<track>`.
URLs: `http://<service>.<namespace>.svc.<cluster domain>:<port>`, the cluster
domain being the operator's `TOOLFLEET_CLUSTER_DOMAIN` (Kubernetes DNS spec:
https://github.com/kubernetes/dns/blob/master/docs/specification.md).
"""

from __future__ import annotations

from enum import StrEnum


class Track(StrEnum):
    """Which revision of a service an object or endpoint belongs to."""

    stable = "stable"
    canary = "canary"


def deployment_name(service: str, track: Track) -> str:
    """`<name>` for stable (so `kubectl get deploy <name>` finds it), `<name>-canary`."""
    return service if track == Track.stable else f"{service}-{track}"


def track_service_name(service: str, track: Track) -> str:
    """`<name>-stable` or `<name>-canary`: the Service selecting one track's pods."""
    return f"{service}-{track}"


def service_host(service: str, namespace: str, cluster_domain: str,
                 track: Track | None = None) -> str:
    """The cluster DNS name of the Service of every track (None) or of one track."""
    name = service if track is None else track_service_name(service, track)
    return f"{name}.{namespace}.svc.{cluster_domain}"


def service_url(service: str, namespace: str, port: int, cluster_domain: str,
                track: Track | None = None) -> str:
    """The in-cluster URL of the Service of every track (None) or of one track."""
    return f"http://{service_host(service, namespace, cluster_domain, track)}:{port}"
