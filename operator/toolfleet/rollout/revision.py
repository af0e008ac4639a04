"""Revisions: the identity of a ToolService's pod-affecting spec."""

from __future__ import annotations

import hashlib
import json

from toolfleet.api.toolservice import ToolServiceSpec

# Fields whose change needs new pods. Autoscaling, rollout and access settings
# change how pods are run or reached, not what they are, so they are left out.
POD_AFFECTING_FIELDS = (
    "version", "image", "port", "args", "env", "resources", "model", "protocol",
    "health_path", "readiness_path", "tools", "gpu",
)
REVISION_LENGTH = 10


def revision_of(spec: ToolServiceSpec) -> str:
    """A short, stable hash of the pod-affecting spec; equal specs give equal revisions."""
    relevant = spec.model_dump(include=set(POD_AFFECTING_FIELDS), by_alias=True,
                               exclude_none=True, mode="json")
    canonical = json.dumps(relevant, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:REVISION_LENGTH]
