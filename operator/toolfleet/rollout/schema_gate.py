"""The schema gate: a breaking tool schema change holds a new revision before its first step.

`jsonschema/compat.py` lists where the desired revision's tools reject input
the stable revision's accepted. Clients built against the stable tools would
break, so the rollout waits, with the tools and paths named, until the schemas
are compatible again or `spec.rollout.allowBreakingSchemaChange` is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolfleet.api.conditions import Reason
from toolfleet.jsonschema.compat import Incompatibility
from toolfleet.rollout.events import RolloutEvent

# How many incompatibilities a message lists before "and N more".
LISTED_INCOMPATIBILITIES = 3


@dataclass(frozen=True)
class SchemaGate:
    """The incompatibilities from the stable to the desired tools, and whether they may pass."""

    breaks: tuple[Incompatibility, ...] = ()
    """compare_tool_schemas(stable tools, desired tools)."""
    allowed: bool = False
    """spec.rollout.allowBreakingSchemaChange."""

    @property
    def closed(self) -> bool:
        """Whether the desired revision must wait: something breaks and that is not allowed."""
        return bool(self.breaks) and not self.allowed

    @property
    def message(self) -> str:
        """Why the gate is closed and how to open it (event, conditions and status message)."""
        return ("blocked by a breaking tool schema change: " + self._listing()
                + "; restore compatibility, or set spec.rollout.allowBreakingSchemaChange to "
                  "roll out anyway")

    def closed_event(self) -> RolloutEvent:
        """The Warning that a rollout is held."""
        return RolloutEvent("Warning", Reason.breaking_schema_change, self.message)

    def passed_event(self) -> RolloutEvent:
        """The Warning that a breaking change rolls out because it is allowed."""
        return RolloutEvent("Warning", Reason.breaking_schema_change,
                            "allowed by rollout.allowBreakingSchemaChange: " + self._listing())

    def _listing(self) -> str:
        shown = [f"{b.message} (at {b.path})" for b in self.breaks[:LISTED_INCOMPATIBILITIES]]
        more = len(self.breaks) - len(shown)
        return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
