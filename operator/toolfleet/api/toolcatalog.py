"""The ToolCatalog API (toolfleet.io/v1alpha1): which ToolServices one catalog publishes.

A ToolCatalog selects ToolServices by labels, namespaces and exposure, and the
operator publishes their tools as one catalog (ConfigMaps and a path on the
catalog endpoint) in each requested format. A `default` catalog of every public
tool exists without any ToolCatalog object.

These models are the single source of truth: `hack/gen-crds.py` turns them into
the CRD. The conflict and exclusion records below are also what the catalog
builder produces, so status and catalog document share one shape.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from toolfleet.api.common import ApiModel, Condition, LabelSelector
from toolfleet.api.toolservice import Exposure

KIND = "ToolCatalog"
PLURAL = "toolcatalogs"
SINGULAR = "toolcatalog"
SHORT_NAMES = ["tc"]
CATEGORIES = ["ai"]

# How many hex digits of the catalog hash `kubectl get` shows; enough to tell
# revisions apart by eye, as git's short hashes are.
SHORT_HASH_LENGTH = 12


class CollisionStrategy(StrEnum):
    """What happens when two selected services offer tools of the same name."""

    reject = "reject"
    prefix = "prefix"


class CatalogFormat(StrEnum):
    """A rendering of the catalog that routers can read."""

    canonical = "canonical"
    openai = "openai"
    anthropic = "anthropic"
    gemini = "gemini"
    mcp = "mcp"


class ConflictResolution(StrEnum):
    """What the catalog did with tools whose names collided."""

    rejected = "rejected"
    prefixed = "prefixed"


class Conflict(ApiModel):
    """Tools of one name offered by several services, and what was done about it."""

    tool: str = Field(description="The tool name the services share.")
    services: list[str] = Field(
        description="The services offering it, as namespace/name, sorted."
    )
    resolution: ConflictResolution = Field(
        description="rejected: none of these tools is in the catalog. prefixed: each is "
        "published under a name prefixed with its service's name (see publishedAs).",
    )
    published_as: list[str] = Field(
        default_factory=list,
        description="The names the tools were published under, in the order of services; "
        "empty when rejected.",
    )


class Exclusion(ApiModel):
    """A tool of a selected service that the catalog leaves out, and why."""

    tool: str = Field(description="The tool's name in its service.")
    service: str = Field(description="The service offering it, as namespace/name.")
    reason: str = Field(description="Why it is left out, and how to bring it in.")
    format: str | None = Field(
        default=None,
        description="The one format (openai, anthropic, gemini, mcp) the tool is left out "
        "of, because that vendor would refuse it and no exact rewrite or reversible rename "
        "exists; the other formats still publish it. Unset: left out of every format.")


class ToolCatalogSpec(ApiModel):
    """The desired state of a ToolCatalog: which tools it publishes, and how."""

    selector: LabelSelector | None = Field(
        default=None,
        description="Labels of the ToolServices to publish. Unset or {} selects every "
        "ToolService in the selected namespaces. matchExpressions follow Kubernetes "
        "semantics: In and NotIn need values, Exists and DoesNotExist take none.",
    )
    namespace_selector: LabelSelector | None = Field(
        default=None,
        description="Labels of the namespaces to look in. Unset: only the ToolCatalog's own "
        "namespace. {}: every namespace.",
    )
    exposures: list[Exposure] = Field(
        default=[Exposure.public], min_length=1, max_length=3,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Exposures of the services to publish: public, internal, private. "
        "A service's exposure is its spec.access.exposure.",
    )
    collision_strategy: CollisionStrategy = Field(
        default=CollisionStrategy.reject,
        description="When services offer tools of one name. reject: leave all of them out "
        "and report the conflict in status. prefix: publish each as <service>_<tool> "
        "(shortened with a hash to stay within 64 characters) and report the renaming.",
    )
    formats: list[CatalogFormat] = Field(
        default=[
            CatalogFormat.canonical, CatalogFormat.openai, CatalogFormat.anthropic,
            CatalogFormat.gemini, CatalogFormat.mcp,
        ],
        min_length=1, max_length=5,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="Renderings to publish: canonical (every detail, including endpoints "
        "and weights), openai (Chat Completions tools), anthropic (Messages tools), gemini "
        "(functionDeclarations), mcp (a tools/list result).",
    )
    include_unready: bool = Field(
        default=False,
        description="Publish the tools of services whose Ready condition is not True. Their "
        "entries carry ready: false so that routers can skip them.",
    )


class ToolCatalogStatus(ApiModel):
    """The observed state of a ToolCatalog: what was published last."""

    observed_generation: int | None = Field(
        default=None, description="The generation last reconciled."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready (the catalog is published as specified) and Degraded (some tools "
        "are left out or renamed; see conflicts and excluded).",
    )
    tool_count: int = Field(default=0, ge=0, description="Tools in the published catalog.")
    hash: str | None = Field(
        default=None,
        description="sha256 of the published tools; the catalog endpoint's ETag. Equal "
        "catalogs have equal hashes.",
    )
    short_hash: str | None = Field(
        default=None, description="The first characters of hash, for kubectl get."
    )
    config_maps: list[str] = Field(
        default_factory=list, description="Names of the ConfigMaps holding the catalog."
    )
    conflicts: list[Conflict] = Field(
        default_factory=list, description="Tool names offered by several selected services."
    )
    excluded: list[Exclusion] = Field(
        default_factory=list,
        description="Tools of selected services that are not published, with the reason.",
    )


PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Tools", "type": "integer", "jsonPath": ".status.toolCount",
     "description": "Tools in the published catalog."},
    {"name": "Hash", "type": "string", "jsonPath": ".status.shortHash",
     "description": "Short content hash of the published catalog."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


# RBAC matches resourceNames in every namespace, so a ClusterRoleBinding that grants
# `call` on the built-in catalog (`toolcatalogs`, name `default`, see
# runtime/access.py) would also grant a ToolCatalog named `default` anywhere.
NAME_RULES: list[dict[str, Any]] = [
    {"rule": "self.metadata.name != 'default'",
     "message": "metadata.name must not be default: that name is the built-in catalog's, "
                "and a grant to call it would also grant this one; choose another name"},
]
