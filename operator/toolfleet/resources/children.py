"""Every child object a ToolService should have, in the order they are applied."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.deployment import STABLE, build_deployment
from toolfleet.resources.hpa import build_hpa
from toolfleet.resources.meta import Owner
from toolfleet.resources.networkpolicy import build_network_policy
from toolfleet.resources.pdb import build_pdb
from toolfleet.resources.service import build_service
from toolfleet.resources.serviceaccount import build_service_account
from toolfleet.rollout.revision import revision_of
from toolfleet.settings import Settings


def build_children(owner: Owner, settings: Settings) -> list[dict[str, Any]]:
    """The desired children: ServiceAccount first (pods need it), then the rest."""
    revision = revision_of(owner.spec)
    return [
        build_service_account(owner),
        build_deployment(owner, owner.spec, revision, STABLE),
        build_service(owner),
        build_hpa(owner),
        build_pdb(owner),
        build_network_policy(owner, settings),
    ]
