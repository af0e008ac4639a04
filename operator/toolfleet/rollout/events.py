"""The Kubernetes Events a rollout emits: one per transition, for `kubectl describe`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from toolfleet.api.conditions import Reason


@dataclass(frozen=True)
class RolloutEvent:
    """A Kubernetes Event to emit on the ToolService.

    `type` is Warning for what a user should look at (a failed analysis, a
    rollback, an abort, a breaking schema change), Normal otherwise.
    """

    type: Literal["Normal", "Warning"]
    reason: Reason
    message: str
