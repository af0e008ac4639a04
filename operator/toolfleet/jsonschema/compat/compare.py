"""The public API of schema compatibility, and the rules at the level of tools.

A tool removed from the new revision breaks its callers; an added tool does
not. Within a tool, the input schema is checked in the input direction and the
output schema in the output direction (see the package docstring); a removed
output schema breaks callers that read structured results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from toolfleet.api.toolservice import Tool
from toolfleet.jsonschema.compat.checker import Checker
from toolfleet.jsonschema.compat.differences import Direction
from toolfleet.jsonschema.compat.messages import subject
from toolfleet.jsonschema.compat.values import Schema
from toolfleet.jsonschema.paths import format_path

SchemaKind = Literal["input", "output", "tool"]


@dataclass(frozen=True)
class Incompatibility:
    """One way a new revision may break callers of the stable one."""

    tool: str
    """The tool's name ("" from the schema-level functions, which know no tool)."""
    schema: SchemaKind
    """input, output, or tool (the tool itself was removed)."""
    path: str
    """JSON path of the keyword in the schema, e.g. `$.properties.filters.items.enum`."""
    message: str
    """A sentence for status conditions and events."""
    proven: bool = True
    """False when the change could not be proven compatible rather than proven breaking."""


def compare_tool_schemas(old_tools: Sequence[Tool], new_tools: Sequence[Tool],
                         ) -> list[Incompatibility]:
    """Every way `new_tools` may break callers of `old_tools`; empty when compatible.

    Tools are matched by name. A removed tool is breaking; an added tool is not.
    Each record names its tool, and its message starts with "tool '<name>': ".
    """
    new_by_name = {tool.name: tool for tool in new_tools}
    found: list[Incompatibility] = []
    for old in old_tools:
        new = new_by_name.get(old.name)
        if new is None:
            found.append(Incompatibility(
                tool=old.name, schema="tool", path="$",
                message=f"tool '{old.name}' was removed; callers of it would fail",
            ))
            continue
        changes = [
            *compare_input_schema(_input_schema(old), _input_schema(new)),
            *compare_output_schema(old.output_schema, new.output_schema),
        ]
        found.extend(
            replace(change, tool=old.name, message=f"tool '{old.name}': {change.message}")
            for change in changes
        )
    return found


def is_compatible(old_tools: Sequence[Tool], new_tools: Sequence[Tool]) -> bool:
    """Whether `new_tools` serves every caller of `old_tools`: no incompatibility, even unproven."""
    return not compare_tool_schemas(old_tools, new_tools)


def compare_input_schema(old: Schema, new: Schema, path: str = "$") -> list[Incompatibility]:
    """Ways the `new` input schema rejects values the `old` one accepted.

    `path` prefixes the JSON paths in the result, for a schema nested in a larger document.
    """
    checker = Checker(Direction.input, sub_root=old, sup_root=new)
    checker.check(old, new, ())
    return _incompatibilities(checker, path)


def compare_output_schema(old: Schema | None, new: Schema | None, path: str = "$",
                          ) -> list[Incompatibility]:
    """Ways the `new` output schema may give callers less, or other, than the `old` one.

    No old schema promised nothing, so anything new is compatible; dropping the
    schema is breaking, since callers lose the structure they read.
    """
    if old is None:
        return []
    if new is None:
        return [Incompatibility(
            tool="", schema="output", path=path,
            message="output schema was removed; callers reading structured results would lose "
                    "them",
        )]
    checker = Checker(Direction.output, sub_root=new, sup_root=old)
    checker.check(new, old, ())
    return _incompatibilities(checker, path)


def _input_schema(tool: Tool) -> dict[str, Any]:
    # InputSchema keeps the user's keywords as extra fields, spelled as written.
    return tool.input_schema.model_dump(mode="json", by_alias=True)


def _incompatibilities(checker: Checker, prefix: str) -> list[Incompatibility]:
    """The checker's differences as Incompatibility records, duplicates dropped, in order."""
    seen: set[tuple[str, str]] = set()
    result: list[Incompatibility] = []
    kind = checker.direction.value
    for difference in checker.differences:
        path = format_path(prefix, difference.path)
        message = f"{kind} {subject(difference.subject)} {difference.detail}"
        if (path, message) in seen:
            continue
        seen.add((path, message))
        result.append(Incompatibility(tool="", schema=checker.direction.value, path=path,
                                      message=message, proven=difference.proven))
    return result
