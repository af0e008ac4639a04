"""Checks on tools and specs, and their messages (operator/toolfleet/catalog/validate.py)."""

from __future__ import annotations

from typing import Any

import pytest

from toolfleet.catalog.validate import (
    MAX_DESCRIPTION_CHARS,
    MAX_SCHEMA_BYTES,
    MAX_SCHEMA_NESTING,
    Problem,
    Severity,
    errors,
    validate_catalog_spec,
    validate_tool,
    validate_toolservice_spec,
)

from .fixtures import body, corpus, tool

CORPUS = corpus()


def messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def error_messages(problems: list[Problem]) -> list[str]:
    return messages(errors(problems))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_tool_is_valid(name: str) -> None:
    assert errors(validate_tool(CORPUS[name], f"tools[{name}]")) == []


def test_the_root_must_be_an_object() -> None:
    problems = validate_tool(tool(schema={"type": "array", "items": {"type": "string"}}),
                             "tools[2]")
    assert error_messages(problems) == [
        "tools[2].inputSchema: 'type' must be 'object' at the root (got 'array'); every vendor "
        "passes arguments as one JSON object"]


def test_a_missing_root_type_is_named() -> None:
    problems = validate_tool(tool(schema={"properties": {}}), "tools[0]")
    assert error_messages(problems) == [
        "tools[0].inputSchema: 'type' must be 'object' at the root (got none); every vendor "
        "passes arguments as one JSON object"]


def test_a_schema_must_be_json_schema_2020_12() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"},
                                               "s": {"type": "strin"}},
              "required": "n"}
    assert error_messages(validate_tool(tool(schema=schema), "tools[1]")) == [
        "tools[1].inputSchema.properties.n.minimum: is not valid JSON Schema 2020-12: 'zero' "
        "is not of type 'number'",
        "tools[1].inputSchema.properties.s.type: 'strin' is not a JSON Schema type; use one of "
        "string, number, integer, boolean, object, array, null (or a list of them)",
        "tools[1].inputSchema.required: must be a list of distinct property names",
    ]


def test_combinators_at_the_root_are_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
              "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert error_messages(validate_tool(tool(schema=schema), "tools[0]")) == [
        "tools[0].inputSchema.anyOf: 'anyOf' at the root is refused by Anthropic; move the "
        "alternatives into a property, or state the rule in the description"]


def test_references_must_be_local_and_resolve() -> None:
    schema = {"type": "object", "properties": {
        "a": {"$ref": "#/$defs/Missing"},
        "b": {"$ref": "https://example.com/schemas/b.json"}}}
    assert error_messages(validate_tool(tool(schema=schema), "tools[0]")) == [
        "tools[0].inputSchema.properties.a.$ref: '#/$defs/Missing' does not resolve; define "
        "it under $defs or fix the pointer",
        "tools[0].inputSchema.properties.b.$ref: 'https://example.com/schemas/b.json' is not a "
        "local reference; routers and vendors cannot fetch schemas, so put the definition under "
        "$defs and refer to '#/$defs/<name>'",
    ]


@pytest.mark.parametrize(("name", "message"), [
    ("get weather", "tools[0].name: 'get weather' is not a valid tool name; use letters, "
                    "digits, _ and -, starting with a letter or _ (every vendor accepts these)"),
    ("1st", "tools[0].name: '1st' is not a valid tool name; use letters, digits, _ and -, "
            "starting with a letter or _ (every vendor accepts these)"),
    ("n" * 65, f"tools[0].name: {'n' * 65!r} is 65 characters, over the limit of 64; "
               "shorten it"),
    ("", "tools[0].name: is required; use letters, digits, _ and -, starting with a letter "
         "or _"),
])
def test_names_must_suit_every_vendor(name: str, message: str) -> None:
    assert error_messages(validate_tool(tool(name), "tools[0]")) == [message]


def test_size_limits_are_named_with_their_numbers() -> None:
    long_description = tool(description="d" * (MAX_DESCRIPTION_CHARS + 1))
    assert error_messages(validate_tool(long_description, "tools[0]")) == [
        f"tools[0].description: {MAX_DESCRIPTION_CHARS + 1} characters is over the limit of "
        f"{MAX_DESCRIPTION_CHARS}; shorten it"]
    big = {"type": "object", "properties": {
        f"p{i}": {"type": "string", "description": "x" * 100} for i in range(700)}}
    (problem,) = errors(validate_tool(tool(schema=big), "tools[0]"))
    assert problem.path == "tools[0].inputSchema"
    assert problem.message.endswith(f"over the limit of {MAX_SCHEMA_BYTES}; move repeated "
                                    "parts into $defs or simplify it")


@pytest.mark.parametrize("levels", [MAX_SCHEMA_NESTING + 1, 5000])
def test_deep_nesting_is_refused_without_crashing(levels: int) -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    schema = {"type": "object", "properties": {"deep": schema}}
    (problem,) = errors(validate_tool(tool(schema=schema), "tools[0]"))
    assert problem.path == "tools[0].inputSchema"
    assert f"over the limit of {MAX_SCHEMA_NESTING}" in problem.message


def test_a_missing_description_says_what_to_write() -> None:
    assert error_messages(validate_tool(tool(description=""), "tools[0]")) == [
        "tools[0].description: is required; say what the tool does and when to use it"]


def test_output_schemas_are_checked_too() -> None:
    broken = tool(outputSchema={"type": "object", "properties": {"a": {"type": 3}}})
    assert error_messages(validate_tool(broken, "tools[0]")) == [
        "tools[0].outputSchema.properties.a.type: 3 is not a JSON Schema type; use one of "
        "string, number, integer, boolean, object, array, null (or a list of them)"]


def test_target_incompatibilities_are_warnings_for_that_target() -> None:
    problems = validate_tool(CORPUS["set_thermostat"], "tools[0]")
    assert errors(problems) == []
    assert problems == [Problem(
        "tools[0].inputSchema.properties.schedule.additionalProperties",
        "OpenAI strict mode is not possible: an object that allows arbitrary keys cannot be "
        "strict; strict mode needs additionalProperties false; the tool is published without "
        "strict", Severity.warning, "openai")]


def test_gemini_and_mcp_warnings_name_their_target() -> None:
    scale = validate_tool(CORPUS["run_python"], "tools[0]")
    assert {(p.path, p.target) for p in scale} == {
        ("tools[0].inputSchema.properties.packages.uniqueItems", "openai"),
        ("tools[0].inputSchema.properties.packages.uniqueItems", "gemini"),
        ("tools[0].inputSchema.properties.timeout_seconds.exclusiveMinimum", "gemini"),
    }
    assert all(p.severity == Severity.warning for p in scale)
    clock = validate_tool(CORPUS["get_current_time"], "tools[0]")
    assert messages(clock) == [
        "tools[0].outputSchema: MCP needs structured results to be objects, so the MCP catalog "
        "leaves this outputSchema out; wrap the result in an object to keep it"]
    assert clock[0].target == "mcp"


def test_another_dialect_is_a_warning() -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    (problem,) = validate_tool(tool(schema=schema), "tools[0]")
    assert problem.severity == Severity.warning
    assert problem.path == "tools[0].inputSchema.$schema"


def spec_of(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = body()["spec"]
    spec.update(changes)
    return spec


def test_a_valid_toolservice_spec_has_no_problems() -> None:
    assert validate_toolservice_spec(spec_of()) == []


def test_toolservice_spec_problems_carry_spec_paths() -> None:
    spec = spec_of(port=0, tools=[
        tool("fine"),
        tool("bad", schema={"type": "array"}),
        tool("fine", description="Twice."),
    ])
    assert error_messages(validate_toolservice_spec(spec)) == [
        "spec.port: Input should be greater than or equal to 1 (got 0)",
        "spec.tools[1].inputSchema: 'type' must be 'object' at the root (got 'array'); every "
        "vendor passes arguments as one JSON object",
        "spec.tools[2].name: 'fine' is already the name of tools[0]; tool names must be unique "
        "within a ToolService",
    ]


def test_toolservice_spec_reports_missing_and_unknown_fields() -> None:
    spec = spec_of(imagePullPolicy="Always")
    del spec["version"]
    assert error_messages(validate_toolservice_spec(spec)) == [
        "spec.version: is required",
        "spec.imagePullPolicy: is not a known field; check its spelling (kubectl explain shows "
        "the fields)",
    ]


def test_toolservice_spec_warnings_come_after_errors() -> None:
    spec = spec_of(tools=[CORPUS["web_search"], tool("bad", schema={"type": "string"})])
    severities = [p.severity for p in validate_toolservice_spec(spec)]
    assert severities == sorted(severities, key=lambda s: s != Severity.error)
    assert severities[0] == Severity.error and severities[-1] == Severity.warning


def test_catalog_spec_selector_expressions_are_checked() -> None:
    spec = {"selector": {"matchExpressions": [
        {"key": "team", "operator": "In", "values": []},
        {"key": "tier", "operator": "Exists", "values": ["gold"]}]}}
    assert error_messages(validate_catalog_spec(spec)) == [
        "spec.selector.matchExpressions[0].values: operator In needs at least one value",
        "spec.selector.matchExpressions[1].values: operator Exists takes no values; remove them",
    ]


def test_catalog_spec_fields_are_checked() -> None:
    assert error_messages(validate_catalog_spec({"collisionStrategy": "merge",
                                                 "formats": []})) == [
        "spec.collisionStrategy: Input should be 'reject' or 'prefix' (got 'merge')",
        "spec.formats: List should have at least 1 item after validation, not 0",
    ]
    assert validate_catalog_spec({}) == []
