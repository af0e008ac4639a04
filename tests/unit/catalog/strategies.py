"""Hypothesis strategies: tool input schemas, each with the argument documents it accepts.

A generated node carries its schema and a strategy of document pairs
(original, strict): `original` is valid for the schema as written; `strict` is
the same arguments as OpenAI strict mode would send them, every optional
property present and null where it was left out.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

Docs = SearchStrategy[tuple[Any, Any]]

PROPERTY_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
TOOL_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,20}", fullmatch=True)
DESCRIPTIONS = st.text(alphabet=string.ascii_letters + " .,", min_size=1, max_size=40)


@dataclass(frozen=True)
class Node:
    """A generated schema and the documents it accepts."""

    schema: dict[str, Any]
    docs: Docs


def _same(values: SearchStrategy[Any]) -> Docs:
    return values.map(lambda v: (v, v))


def _string_node() -> SearchStrategy[Node]:
    words = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=4,
                     unique=True)
    return st.one_of(
        st.just(Node({"type": "string"}, _same(st.text(max_size=8)))),
        words.map(lambda ws: Node({"type": "string", "enum": ws}, _same(st.sampled_from(ws)))),
        st.just(Node({"type": "string", "pattern": "^[a-z]{1,5}$"},
                     _same(st.from_regex(r"[a-z]{1,5}", fullmatch=True)))),
        st.just(Node({"type": "string", "format": "date"},
                     _same(st.dates().map(lambda d: d.isoformat())))),
        st.just(Node({"type": "string", "format": "date-time"}, _same(
            st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)))),
        # Not expressible in strict mode: exercises the refusal path.
        st.just(Node({"type": "string", "minLength": 2, "maxLength": 6},
                     _same(st.text(alphabet="abc", min_size=2, max_size=6)))),
        st.just(Node({"type": ["string", "null"]}, _same(st.none() | st.text(max_size=4)))),
    )


def _number_node() -> SearchStrategy[Node]:
    @st.composite
    def bounded(draw: Any) -> Node:
        low = draw(st.integers(-1000, 1000))
        high = low + draw(st.integers(0, 1000))
        if draw(st.booleans()):
            return Node({"type": "integer", "minimum": low, "maximum": high},
                        _same(st.integers(low, high)))
        return Node({"type": "number", "minimum": low, "exclusiveMaximum": high + 1},
                    _same(st.floats(low, high, allow_nan=False, allow_infinity=False)))

    return st.one_of(
        bounded(),
        st.just(Node({"type": "integer"}, _same(st.integers(-10**6, 10**6)))),
        st.just(Node({"type": "boolean"}, _same(st.booleans()))),
    )


def _leaf(defs: list[tuple[str, Node]]) -> SearchStrategy[Node]:
    leaves = [_string_node(), _number_node()]
    if defs:
        leaves.append(st.sampled_from(defs).map(
            lambda d: Node({"$ref": f"#/$defs/{d[0]}"}, d[1].docs)))
    return st.one_of(*leaves)


@st.composite
def _object(draw: Any, children: SearchStrategy[Node], root: bool = False) -> Node:
    names = draw(st.lists(PROPERTY_NAMES, min_size=0 if root else 1, max_size=4, unique=True))
    kids = {name: draw(children) for name in names}
    required = [name for name in names if draw(st.booleans())]
    schema: dict[str, Any] = {"type": "object", "properties": {n: k.schema for n, k in
                                                               kids.items()}}
    if required:
        schema["required"] = required
    closing = draw(st.sampled_from(["closed", "open", "map"]))
    if closing == "closed":
        schema["additionalProperties"] = False
    elif closing == "map":
        # An open map: valid JSON Schema that strict mode cannot express.
        schema["additionalProperties"] = {"type": "integer"}
    if draw(st.booleans()):
        schema["description"] = draw(DESCRIPTIONS)

    @st.composite
    def docs(draw_doc: Any) -> tuple[Any, Any]:
        original: dict[str, Any] = {}
        strict: dict[str, Any] = {}
        for name, kid in kids.items():
            if name in required or draw_doc(st.booleans()):
                original[name], strict[name] = draw_doc(kid.docs)
            else:
                strict[name] = None
        return original, strict

    return Node(schema, docs())


def _array(children: SearchStrategy[Node]) -> SearchStrategy[Node]:
    def build(kid: Node) -> Node:
        schema = {"type": "array", "items": kid.schema, "maxItems": 3}
        pairs = st.lists(kid.docs, max_size=3).map(
            lambda items: ([o for o, _ in items], [s for _, s in items]))
        return Node(schema, pairs)

    return children.map(build)


def _any_of(children: SearchStrategy[Node]) -> SearchStrategy[Node]:
    def build(kids: list[Node]) -> Node:
        return Node({"anyOf": [k.schema for k in kids]},
                    st.one_of(*[k.docs for k in kids]))

    return st.lists(children, min_size=2, max_size=3).map(build)


def _node(depth: int, defs: list[tuple[str, Node]]) -> SearchStrategy[Node]:
    if depth <= 0:
        return _leaf(defs)
    children = st.deferred(lambda: _node(depth - 1, defs))
    return st.one_of(
        _leaf(defs), _leaf(defs),
        _object(children), _array(children), _any_of(children),
        st.just(Node({"type": "object", "description": "free-form"}, _same(st.just({})))),
    )


@st.composite
def object_schemas(draw: Any, max_depth: int = 3) -> Node:
    """A valid tool input schema (root type object), sometimes with $defs and $ref."""
    defs: list[tuple[str, Node]] = []
    for index in range(draw(st.integers(0, 2))):
        defs.append((f"Def{index}", draw(_node(1, []))))
    root = draw(_object(_node(max_depth - 1, defs), root=True))
    if defs:
        root = Node({**root.schema, "$defs": {name: node.schema for name, node in defs}},
                    root.docs)
    return root


def reorder_keys(value: Any, reverse: bool) -> Any:
    """The same JSON value with every object's keys in another order."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0], reverse=reverse)
        return {k: reorder_keys(v, reverse) for k, v in items}
    if isinstance(value, list):
        return [reorder_keys(item, reverse) for item in value]
    return value
