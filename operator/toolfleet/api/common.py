"""Shared pieces of the toolfleet API: the model base class, conditions, selectors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "toolfleet.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Tool names are sent to every vendor; this pattern is the intersection of what
# OpenAI, Anthropic, Gemini and MCP accept.
TOOL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class ApiModel(BaseModel):
    """Base of every API model: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=True,
        serialize_by_alias=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the API server stores it: camelCase, unset fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Condition(ApiModel):
    """A status condition, following the Kubernetes API conventions."""

    type: str = Field(description="Type of condition in CamelCase, e.g. Ready.", max_length=316)
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="A CamelCase reason for the condition's last transition.", max_length=1024
    )
    message: str = Field(
        default="", description="A human-readable explanation of the transition.",
        max_length=32768,
    )
    last_transition_time: str = Field(
        description="When the status last changed, RFC 3339.",
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation this condition was set from."
    )


class LabelSelectorRequirement(ApiModel):
    """One expression of a label selector."""

    key: str = Field(description="The label key the selector applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key relates to the values."
    )
    values: list[str] = Field(
        default_factory=list, description="Values for In and NotIn; empty for the others."
    )


class LabelSelector(ApiModel):
    """A Kubernetes label selector; an empty selector matches everything."""

    match_labels: dict[str, str] = Field(
        default_factory=dict, description="Labels that must all be present with these values."
    )
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Expressions that must all hold."
    )


def rfc3339(moment: datetime) -> str:
    """A time as Kubernetes writes it (second precision, Z suffix); `moment` in UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_rfc3339() -> str:
    """The current time as Kubernetes writes it (second precision, Z suffix)."""
    return rfc3339(datetime.now(UTC))
