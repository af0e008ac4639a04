"""Names, labels and metadata shared by every child of a ToolService."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from toolfleet.api.common import API_VERSION
from toolfleet.api.toolservice import KIND, ToolServiceSpec
from toolfleet.resources.tracks import Track

MANAGED_BY = "toolfleet"
SERVICE_LABEL = "toolfleet.io/toolservice"
REVISION_LABEL = "toolfleet.io/revision"
TRACK_LABEL = "toolfleet.io/track"
APPLIED_HASH_ANNOTATION = "toolfleet.io/applied-hash"


@dataclass(frozen=True)
class Owner:
    """The ToolService a child belongs to, as its metadata says."""

    name: str
    namespace: str
    uid: str
    spec: ToolServiceSpec

    def reference(self) -> dict[str, Any]:
        """The ownerReference that lets the garbage collector delete the child with it."""
        return {"apiVersion": API_VERSION, "kind": KIND, "name": self.name, "uid": self.uid,
                "controller": True, "blockOwnerDeletion": True}


def version_label(version: str) -> str:
    """A semantic version as a label value: at most 63 characters, alphanumeric at both ends.

    Semver allows `+` and identifiers that end in `-` (1.0.0-rc-), which a label may not.
    """
    return re.sub(r"[^-A-Za-z0-9_.]", "_", version)[:63].strip("-_.")


def selector_labels(owner: Owner, track: Track | None = None) -> dict[str, str]:
    """Labels that select this service's pods (of one track when given)."""
    labels = {SERVICE_LABEL: owner.name}
    if track is not None:
        labels[TRACK_LABEL] = track.value
    return labels


def common_labels(owner: Owner, component: str) -> dict[str, str]:
    """The app.kubernetes.io labels every child carries."""
    return {
        "app.kubernetes.io/name": owner.name,
        "app.kubernetes.io/instance": owner.name,
        "app.kubernetes.io/version": version_label(owner.spec.version),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "toolfleet",
        SERVICE_LABEL: owner.name,
    }


def child_metadata(owner: Owner, name: str, component: str,
                   extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
    """metadata for a child object: name, namespace, labels, owner."""
    return {
        "name": name,
        "namespace": owner.namespace,
        "labels": {**common_labels(owner, component), **(extra_labels or {})},
        "ownerReferences": [owner.reference()],
    }
