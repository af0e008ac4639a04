"""Places in a JSON document, and their names in messages.

A place is a tuple of object keys and array indexes from the document's root,
the same steps a JSON Pointer (RFC 6901) takes. People read them better written
like code: `tools[2].inputSchema.properties["a b"].items`, so that is how every
message of the operator names a place in a schema (`format_path`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PathPart = str | int
Path = tuple[PathPart, ...]

# Keys written after a dot; any other key is quoted in brackets.
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


@dataclass(frozen=True)
class Finding:
    """Something noticed at a place in a schema; `path` is relative to the schema root."""

    path: Path
    message: str


def format_path(base: str, path: Path) -> str:
    """The place `path` below `base`, written as a reader expects.

    Indexes go in brackets, plain keys after a dot (none after an empty base),
    other keys quoted in brackets with JSON string escapes:
    `format_path("tools[2].inputSchema", ("properties", "a b", "anyOf", 1))` is
    `'tools[2].inputSchema.properties["a b"].anyOf[1]'`.
    """
    text = base
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_SEGMENT.match(part):
            text += f".{part}" if text else part
        else:
            # JSON escapes keep a quote, a backslash or a newline in a key from
            # breaking the message; other characters are shown as written.
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text
