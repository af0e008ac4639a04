"""How compatibility findings read: the subject (`property 'filters[].op'`),
the change (`maximum lowered from 10 to 5`), and short renderings of values.

Messages land in status conditions and events, so they stay one line: values
and schemas longer than SUMMARY_LENGTH are cut.
"""

from __future__ import annotations

import json
from typing import Any

from toolfleet.jsonschema.compat.values import Bound, are_numbers, as_types
from toolfleet.jsonschema.paths import Path

# Longest rendering of a value or schema inside a message.
SUMMARY_LENGTH = 80


def type_text(types: tuple[str, ...] | None) -> str:
    """`string or null` for a type list; None reads as any type."""
    if types is None:
        return "any type"
    return " or ".join(types) if types else "no type"


def bound_change(side: str, old: Bound | None, new: Bound | None) -> str:
    """How a numeric bound moved: `gained minimum 1`, `maximum lowered from 10 to 5`."""
    def text(limit: Bound) -> str:
        keyword = side if not limit[1] else (
            "exclusiveMinimum" if side == "minimum" else "exclusiveMaximum")
        return f"{keyword} {number_text(limit[0])}"

    if old is None and new is not None:
        return f"gained {text(new)}"
    if new is None and old is not None:
        return f"lost {text(old)}"
    assert old is not None and new is not None
    if old[1] == new[1]:
        verb = "raised" if new[0] > old[0] else "lowered"
        return (f"{text(old).split(' ')[0]} {verb} from {number_text(old[0])} to "
                f"{number_text(new[0])}")
    return f"{text(old)} became {text(new)}"


def keyword_change(keyword: str, old: Any, new: Any) -> str:
    """How a keyword's value changed: gained, lost, raised, lowered or changed."""
    if old is None:
        return f"gained {keyword} {summary(new)}"
    if new is None:
        return f"lost {keyword} {summary(old)}"
    if are_numbers(old, new):
        verb = "raised" if new > old else "lowered"
        return f"{keyword} {verb} from {summary(old)} to {summary(new)}"
    return f"{keyword} changed from {summary(old)} to {summary(new)}"


def number_text(value: float) -> str:
    """A bound as written: `5` rather than `5.0`."""
    return str(int(value)) if value.is_integer() else repr(value)


def summary(value: Any) -> str:
    """A value or schema in at most SUMMARY_LENGTH characters; `{"type": "x"}` reads as x."""
    if is_type_only(value):
        return type_text(as_types(value["type"]))
    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 3] + "..."


def values_shown(part: Any) -> str:
    """What a union message says a sub-schema's values are."""
    return summary(part) if is_type_only(part) else f"values matching {summary(part)}"


def is_type_only(schema: Any) -> bool:
    """Whether a schema says nothing but its `type`."""
    return isinstance(schema, dict) and set(schema) == {"type"}


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or its class name when it has none."""
    return str(err).splitlines()[0] if str(err) else type(err).__name__


def subject(path: Path) -> str:
    """A reader's name for the node at `path`: `property 'filters[].op'` for a nested
    property, `element '[0]'` for a tuple item, `schema` for the root."""
    out = ""
    index = 0
    while index < len(path):
        segment = path[index]
        following = path[index + 1] if index + 1 < len(path) else None
        if segment == "properties" and following is not None:
            out += ("." if out else "") + str(following)
            index += 2
            continue
        if segment == "prefixItems" and following is not None:
            out += f"[{following}]"
            index += 2
            continue
        if segment in ("anyOf", "oneOf", "allOf", "patternProperties") and following is not None:
            index += 2
            continue
        if segment == "items":
            out += "[]"
        elif segment == "additionalProperties":
            out += ("." if out else "") + "*"
        index += 1
    if not out:
        return "schema"
    return f"element '{out}'" if out.startswith("[") else f"property '{out}'"
