"""Revisions: the identity of a ToolService's pod-affecting spec."""

from __future__ import annotations

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.jsonschema.canonical import canonical_hash

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
    return canonical_hash(relevant, length=REVISION_LENGTH, ensure_ascii=True)
