"""Where a ToolService's pods may run: the PodSpec's own nodeSelector and tolerations.

Part of toolfleet.io/v1alpha1 (see `api.toolservice`). The shapes and names are
the core/v1 PodSpec's (`nodeSelector`, `tolerations[]`), so a user copies them
from any pod; they are carried into every revision's pod template as they are,
beside what `spec.gpu` adds (placement/scheduling.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, JsonValue

from toolfleet.api.common import ApiModel

# A label key: an optional DNS-subdomain prefix and a name of at most 63 characters
# (apimachinery's IsQualifiedName).
# [.] rather than a backslash escape: the pattern is also a CEL string literal, which
# refuses unknown escapes.
LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
MAX_NODE_SELECTOR_LABELS = 32
MAX_TOLERATIONS = 32


LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE_PATTERN)]


class TolerationOperator(StrEnum):
    """How a toleration's key relates to a taint's value (core/v1 TolerationOperator)."""

    exists = "Exists"
    equal = "Equal"


class TaintEffect(StrEnum):
    """The effect of a taint a toleration matches (core/v1 TaintEffect)."""

    no_schedule = "NoSchedule"
    prefer_no_schedule = "PreferNoSchedule"
    no_execute = "NoExecute"


class Toleration(ApiModel):
    """A core/v1 Toleration: lets the pods onto nodes with a matching taint."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "!has(self.operator) || self.operator != 'Exists' || !has(self.value)",
         "message": "with operator Exists, value must be unset",
         "fieldPath": ".value", "reason": "FieldValueInvalid"},
        {"rule": "has(self.key) || (has(self.operator) && self.operator == 'Exists')",
         "message": "an empty key (every taint) needs operator Exists",
         "fieldPath": ".operator", "reason": "FieldValueInvalid"},
        {"rule": "!has(self.tolerationSeconds) || (has(self.effect) && "
                 "self.effect == 'NoExecute')",
         "message": "tolerationSeconds applies to effect NoExecute only",
         "fieldPath": ".tolerationSeconds", "reason": "FieldValueInvalid"},
    ]})

    key: str | None = Field(
        default=None, pattern=LABEL_KEY_PATTERN, max_length=316,
        description="Taint key to tolerate; unset (with operator Exists) tolerates every taint.",
    )
    operator: TolerationOperator | None = Field(
        default=None, description="Exists (any value) or Equal (the value below); "
        "unset means Equal.",
    )
    value: str | None = Field(default=None, max_length=63,
                              description="Taint value, with operator Equal.")
    effect: TaintEffect | None = Field(
        default=None, description="NoSchedule, PreferNoSchedule or NoExecute; unset matches all.",
    )
    toleration_seconds: int | None = Field(
        default=None, ge=0,
        description="With effect NoExecute: how long the pod stays bound after the taint "
        "appears; unset means forever.",
    )


# On ToolServiceSpec (a rule on the map itself would not be walked by api/rules.py):
# a structural schema cannot constrain map keys otherwise. Values are checked by
# the schema (LABEL_VALUE_PATTERN).
NODE_SELECTOR_KEYS_CEL = (f"!has(self.nodeSelector) || "
                          f"self.nodeSelector.all(k, k.matches('{LABEL_KEY_PATTERN}'))")
NODE_SELECTOR_KEYS_RULE: dict[str, JsonValue] = {
    "rule": NODE_SELECTOR_KEYS_CEL,
    "message": "nodeSelector keys must be label keys: [prefix/]name, the name at most 63 "
               "letters, digits, -, _ or ., e.g. toolfleet.io/real-node",
    "fieldPath": ".nodeSelector", "reason": "FieldValueInvalid",
}
