"""Local `$ref`s: the one resolver of references inside a schema document.

A `$ref` (JSON Schema 2020-12 Core §8.2.3.1) is a URI reference. The ones
followed here point into the same document: `#` (the root) or `#` and a JSON
Pointer (RFC 6901) in its URI fragment form (RFC 6901 §6). The fragment is
percent-decoded (RFC 3986 §2.1) before it is split at `/`, then `~1` reads as
`/` and `~0` as `~` (RFC 6901 §4). The validator library (`referencing`) reads
pointers the same way, so a schema's references point at the same places for
the checks here as for validation; only array indexes are read more strictly,
as RFC 6901 §4 writes them (`0` or digits without a leading zero, never `-1`).

Not followed: references into other documents (routers and vendors cannot fetch
them), plain-name anchors (`#name`, Core §8.2.2) and `$dynamicRef`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from typing import Any
from urllib.parse import unquote

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")


class RefProblem(Enum):
    """Why a reference could not be followed; the value completes "$ref '...' ..."."""

    not_local = "is not a local reference"
    anchor = "names an anchor; only '#' and JSON Pointers ('#/...') are followed"
    missing = "points nowhere"


class UnresolvableRef(ValueError):
    """A `$ref` that cannot be followed inside its document."""

    def __init__(self, ref: object, problem: RefProblem) -> None:
        super().__init__(f"$ref {ref!r} {problem.value}")
        self.ref = ref
        self.problem = problem


def lookup_local_ref(root: Any, ref: object) -> Any:
    """The value a local reference points to in the document `root`.

    `lookup_local_ref(schema, "#/$defs/a%20b/items")` is
    `schema["$defs"]["a b"]["items"]`; `"#"` is `root` itself. The value is
    returned as stored (not copied), whatever its type.

    Raises UnresolvableRef, saying which RefProblem, when `ref` is not a string
    starting with `#`, names an anchor, or points at a key or index that is not there.
    """
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise UnresolvableRef(ref, RefProblem.not_local)
    pointer = unquote(ref[1:])
    if pointer == "":
        return root
    if not pointer.startswith("/"):
        raise UnresolvableRef(ref, RefProblem.anchor)
    node = root
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and token in node:
            node = node[token]
        elif isinstance(node, list) and _ARRAY_INDEX.fullmatch(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise UnresolvableRef(ref, RefProblem.missing)
    return node


def resolve_local_ref(root: Any, ref: object) -> Any | None:
    """Like `lookup_local_ref`, but None where that raises: for callers that only
    need to know whether a reference resolves, or that treat a dangling one as absent.

    A target that is itself JSON null also gives None; call `lookup_local_ref`
    where that difference matters.
    """
    try:
        return lookup_local_ref(root, ref)
    except UnresolvableRef:
        return None


def inline_ref(node: Mapping[str, Any], root: Any) -> dict[str, Any]:
    """A copy of `node` with its `$ref` replaced by the target's keywords, and the
    target's own `$ref` likewise, until none is left.

    Keywords written beside a `$ref` win over the target's. 2020-12 applies both
    (Core §8.2.3.1: `$ref` is an applicator like `allOf`), so the result is exact
    only when they share no keyword; the OpenAI strict rendering and CRD
    generation rely on that (pydantic writes only annotations beside its refs).
    A checker that must be exact wraps the two in `allOf` instead.

    Stops, leaving the `$ref` in place, at a reference already followed (a
    recursive schema) or one that does not resolve to an object.
    """
    out = dict(node)
    followed: set[str] = set()
    while isinstance(out.get("$ref"), str):
        ref = out["$ref"]
        target = resolve_local_ref(root, ref)
        if ref in followed or not isinstance(target, Mapping):
            break
        followed.add(ref)
        out = {**target, **{key: value for key, value in out.items() if key != "$ref"}}
    return out


def recursive_refs(root: Mapping[str, Any]) -> set[str]:
    """Of the references `#` and `#/$defs/<name>`, those whose target can reach
    itself again by following references: the recursive definitions.

    References are matched as written (`#/$defs/<name>` with the name unescaped),
    the spelling pydantic and OpenAI's strict mode use; any other reference is
    an edge to nowhere.
    """
    defs = root.get("$defs")
    targets: dict[str, Any] = {"#": root}
    if isinstance(defs, Mapping):
        targets.update({f"#/$defs/{name}": sub for name, sub in defs.items()})
    # The root's own $defs are targets of their own, not part of the root's body.
    edges = {ref: _refs_in(sub, skip_defs=ref == "#") for ref, sub in targets.items()}
    recursive = set()
    for start in targets:
        stack, seen = list(edges[start]), set()
        while stack:
            ref = stack.pop()
            if ref == start:
                recursive.add(start)
                break
            if ref in seen or ref not in edges:
                continue
            seen.add(ref)
            stack.extend(edges[ref])
    return recursive


def _refs_in(node: Any, skip_defs: bool) -> set[str]:
    found: set[str] = set()
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            elif not (skip_defs and key == "$defs"):
                found |= _refs_in(value, skip_defs=False)
    elif isinstance(node, list):
        for item in node:
            found |= _refs_in(item, skip_defs=False)
    return found
