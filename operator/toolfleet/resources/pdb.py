"""The PodDisruptionBudget of a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import Owner, child_metadata, selector_labels


def build_pdb(owner: Owner) -> dict[str, Any]:
    """Voluntary evictions (node drains) take at most one pod of the service at a time.

    maxUnavailable rather than minAvailable, so a one-replica service can still be
    drained, and the budget keeps working whatever the autoscaler chooses.
    """
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": child_metadata(owner, owner.name, "disruption-budget"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(owner)}},
    }
