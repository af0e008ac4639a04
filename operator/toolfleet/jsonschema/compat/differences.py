"""What the checker records: the direction of a check and each difference found."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from toolfleet.jsonschema.paths import Path


class Direction(Enum):
    """Which revision's schema plays the sub, whose values must all fit the sup."""

    input = "input"
    """sub = old, sup = new: the new schema must accept all the old one accepted."""
    output = "output"
    """sub = new, sup = old: old readers must accept all the new schema produces."""


@dataclass(frozen=True)
class Difference:
    """A place where some value of the sub may be invalid under the sup."""

    path: Path
    """Where in the schema the deciding keyword sits."""
    subject: Path
    """The node the message is about (a property, an element, the schema)."""
    detail: str
    """What changed, worded for the direction."""
    proven: bool
    """False when the place could not be proven compatible rather than proven breaking."""
