"""The ServiceAccount each ToolService's pods run as."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import Owner, child_metadata


def build_service_account(owner: Owner) -> dict[str, Any]:
    """A ServiceAccount of its own, so RBAC can be granted per service, with no token."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": child_metadata(owner, owner.name, "service-account"),
        "automountServiceAccountToken": False,
    }
