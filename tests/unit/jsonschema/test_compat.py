"""Tool schema compatibility: a labelled corpus of pairs, tool-level rules, and properties."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import InputSchema, Tool
from toolfleet.jsonschema.compat import (
    Incompatibility,
    compare_input_schema,
    compare_output_schema,
    compare_tool_schemas,
    is_compatible,
)

CORPUS = yaml.safe_load((Path(__file__).parent / "compat_corpus.yaml").read_text())
PROPERTIES = settings(max_examples=60, deadline=None)


def compare(case: dict[str, Any]) -> list[Incompatibility]:
    if case["kind"] == "input":
        return compare_input_schema(case["old"], case["new"])
    return compare_output_schema(case["old"], case["new"])


def test_corpus_is_large_and_labelled() -> None:
    assert len(CORPUS) >= 30
    assert len({case["name"] for case in CORPUS}) == len(CORPUS)
    assert {case["compatible"] for case in CORPUS} == {True, False}
    assert {case["kind"] for case in CORPUS} == {"input", "output"}


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_corpus_pair(case: dict[str, Any]) -> None:
    found = compare(case)
    if case["compatible"]:
        assert found == [], [f.message for f in found]
        return
    assert found, "expected a break"
    assert {f.path for f in found} == set(case["paths"]), [(f.path, f.message) for f in found]
    assert all(f.proven == case.get("proven", True) for f in found if f.path in case["paths"])
    if "message" in case:
        assert case["message"] in found[0].message
    assert all(f.schema == case["kind"] and f.tool == "" for f in found)


def tool(name: str, properties: dict[str, Any] | None = None, required: list[str] | None = None,
         output: dict[str, Any] | None = None) -> Tool:
    schema = InputSchema.model_validate({"type": "object", "properties": properties or {},
                                         "required": required or []})
    return Tool(name=name, description=f"The {name} tool.", input_schema=schema,
                output_schema=output)


def test_tool_level_messages_name_the_tool_and_schema() -> None:
    old = [tool("segment_customers", {"k": {"type": "integer"}})]
    new = [tool("segment_customers", {"k": {"type": "integer"}}, required=["k"])]
    [found] = compare_tool_schemas(old, new)
    assert found == Incompatibility(
        tool="segment_customers", schema="input", path="$.required",
        message="tool 'segment_customers': input property 'k' became required",
    )
    assert not is_compatible(old, new)


def test_removing_a_tool_breaks_and_adding_one_does_not() -> None:
    a, b = tool("a"), tool("b")
    [removed] = compare_tool_schemas([a, b], [a])
    assert (removed.tool, removed.schema, removed.path) == ("b", "tool", "$")
    assert "tool 'b' was removed" in removed.message
    assert compare_tool_schemas([a], [a, b]) == []
    assert is_compatible([a], [a, b])


def test_output_schema_checked_per_tool() -> None:
    old = [tool("score", output={"type": "object", "properties": {"p": {"type": "number"}},
                                 "required": ["p"]})]
    dropped = [tool("score")]
    optional = [tool("score", output={"type": "object", "properties": {"p": {"type": "number"}}})]
    [gone] = compare_tool_schemas(old, dropped)
    assert gone.schema == "output" and "output schema was removed" in gone.message
    [loose] = compare_tool_schemas(old, optional)
    assert loose.message == ("tool 'score': output property 'p' became optional; callers may "
                             "find it missing")
    assert compare_tool_schemas(dropped, old) == []


def test_path_prefix_for_nested_documents() -> None:
    found = compare_input_schema({"type": "object"}, {"type": "object", "required": ["x"]},
                                 path="$.tools[0].inputSchema")
    assert [f.path for f in found] == ["$.tools[0].inputSchema.required"]


def test_property_names_that_are_not_identifiers_are_quoted() -> None:
    old = {"type": "object", "properties": {"a.b": {"type": "string"}}}
    new = {"type": "object", "properties": {"a.b": {"type": "integer"}}}
    [found] = compare_input_schema(old, new)
    assert found.path == '$.properties["a.b"].type'


def test_self_referencing_root_terminates() -> None:
    schema: dict[str, Any] = {"type": "object",
                              "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}}
    tighter = copy.deepcopy(schema)
    tighter["properties"]["v"]["maximum"] = 3
    assert compare_input_schema(schema, copy.deepcopy(schema)) == []
    # Reported where it is met first, and once more through the recursion, no further.
    assert [f.path for f in compare_input_schema(schema, tighter)] == [
        "$.properties.next.properties.v.maximum", "$.properties.v.maximum",
    ]


@pytest.mark.parametrize(("ref", "says"), [
    ("other.json#/x", "uses $ref 'other.json#/x', which is not a local reference"),
    ("#anchor", "uses $ref '#anchor', an anchor the checker does not follow"),
    ("#/$defs/gone", "uses $ref '#/$defs/gone', which points nowhere"),
])
def test_a_reference_the_checker_cannot_follow_is_an_unproven_break(ref: str, says: str) -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {"type": "object", "properties": {"a": {"$ref": ref}}}
    [found] = compare_input_schema(old, new)
    assert (found.path, found.proven) == ("$.properties.a", False)
    assert found.message == f"input property 'a' {says}; it could not be proven compatible"


def test_a_percent_encoded_reference_is_followed() -> None:
    old = {"type": "object", "properties": {"a": {"type": "integer"}}}
    new = {"type": "object", "properties": {"a": {"$ref": "#/$defs/a%20b"}},
           "$defs": {"a b": {"type": "integer", "maximum": 3}}}
    [found] = compare_input_schema(old, new)
    assert (found.path, found.message) == ("$.properties.a.maximum",
                                           "input property 'a' gained maximum 3")


# -- properties ------------------------------------------------------------------

NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
LEAVES = st.one_of(
    st.builds(lambda lo, hi: {"type": "string", "minLength": lo, "maxLength": lo + hi},
              st.integers(0, 3), st.integers(0, 5)),
    st.builds(lambda lo: {"type": "integer", "minimum": lo}, st.integers(-5, 5)),
    st.builds(lambda hi: {"type": "number", "exclusiveMaximum": hi}, st.floats(-5, 5)),
    st.just({"type": "boolean"}),
    st.just({"type": ["string", "null"], "pattern": "^[a-z]*$"}),
    st.lists(st.sampled_from(["x", "y", "z", 1, None]), min_size=1, max_size=3, unique=True)
    .map(lambda values: {"enum": values}),
    st.just({"anyOf": [{"type": "string", "format": "date"}, {"type": "integer"}]}),
)


def is_required(name: str) -> bool:
    """The shape of the generated predicate that picks required properties."""
    return True


def objects(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda props, closed, pick: {
            "type": "object", "properties": props,
            "required": sorted(n for n in props if pick(n)),
            **({"additionalProperties": False} if closed else {}),
        },
        st.dictionaries(NAMES, children, max_size=4), st.booleans(),
        st.functions(like=is_required, returns=st.booleans(), pure=True),
    )


SCHEMAS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        objects(children),
        st.builds(lambda items, unique: {"type": "array", "items": items,
                                         "uniqueItems": unique}, children, st.booleans()),
    ),
    max_leaves=8,
)
ROOTS = objects(SCHEMAS)


def behind_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema with every root property moved into $defs and referenced."""
    moved = copy.deepcopy(schema)
    defs = {f"p_{name}": body for name, body in moved["properties"].items()}
    moved["properties"] = {name: {"$ref": f"#/$defs/p_{name}"} for name in moved["properties"]}
    moved["$defs"] = defs
    return moved


@PROPERTIES
@given(ROOTS)
def test_a_schema_is_compatible_with_itself(schema: dict[str, Any]) -> None:
    same = behind_refs(schema)
    assert compare_input_schema(schema, copy.deepcopy(schema)) == []
    assert compare_input_schema(schema, same) == []
    assert compare_input_schema(same, schema) == []
    assert compare_output_schema(schema, same) == []
    assert compare_output_schema(same, schema) == []


@PROPERTIES
@given(ROOTS, SCHEMAS)
def test_adding_an_optional_property_is_compatible(schema: dict[str, Any],
                                                   added: dict[str, Any]) -> None:
    new = copy.deepcopy(schema)
    new["properties"]["added_property"] = added
    assert compare_input_schema(schema, new) == []
    if "additionalProperties" not in schema:
        assert compare_output_schema(schema, new) == []


@PROPERTIES
@given(ROOTS, SCHEMAS)
def test_making_an_optional_property_required_is_breaking(schema: dict[str, Any],
                                                          body: dict[str, Any]) -> None:
    old = copy.deepcopy(schema)
    old["properties"]["optional_one"] = body
    new = copy.deepcopy(old)
    new["required"] = [*new["required"], "optional_one"]
    found = compare_input_schema(old, new)
    assert [(f.path, f.message) for f in found] == [
        ("$.required", "input property 'optional_one' became required"),
    ]
    assert compare_input_schema(new, old) == []
