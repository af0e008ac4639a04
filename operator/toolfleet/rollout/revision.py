"""Revisions: the identity of a ToolService's pod-affecting spec."""

from __future__ import annotations

from typing import Any

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
    return canonical_hash(_as_stored(relevant), length=REVISION_LENGTH, ensure_ascii=True)


def _as_stored(value: Any) -> Any:
    """`value` as the API server stores a custom resource: it prunes null values of
    objects (a tool schema's `default: null`, for one), so a manifest hashed offline
    (`toolfleet render`) and its stored copy get one revision."""
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    return value
