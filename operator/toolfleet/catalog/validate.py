"""Checks on tools and their schemas, with messages that say where and how to fix.

Errors keep a tool out of every catalog: some vendor would refuse it, or it is
not valid JSON Schema. Warnings name one target (openai, gemini, mcp) where the
tool is published in a weaker form: without strict mode, with constraints the
model may ignore, without an output schema.

The admission webhook and the CLI call `validate_toolservice_spec` and
`validate_catalog_spec` on what the user wrote; the catalog builder calls
`validate_tool` on each tool it publishes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from toolfleet.api.common import TOOL_NAME_PATTERN, LabelSelector
from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.api.toolservice import Tool, ToolServiceSpec
from toolfleet.catalog.dialects.adapt import VENDOR_FORMATS, Verdict, adapt_input_schema
from toolfleet.catalog.formats import gemini, mcp, openai_strict
from toolfleet.jsonschema.paths import Finding, Path, format_path
from toolfleet.jsonschema.refs import resolve_local_ref
from toolfleet.jsonschema.walker import nesting_depth, walk

# Limits on what one tool may carry. Routers put every tool into the model's
# context, so a catalog stays useful only while each tool stays small.
MAX_NAME_CHARS = 64
MAX_TITLE_CHARS = 128
MAX_DESCRIPTION_CHARS = 4096
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_NESTING = 32
JSON_SCHEMA_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# Anthropic refuses input schemas that combine alternatives at the top level.
ROOT_COMBINATORS = ("allOf", "anyOf", "oneOf")

_NAME = re.compile(TOOL_NAME_PATTERN)
_METASCHEMA = Draft202012Validator(Draft202012Validator.META_SCHEMA)
_JSON_TYPES = "string, number, integer, boolean, object, array, null"
# Tool fields checked here in full; pydantic's messages about them are replaced.
_TOOL_FIELDS_CHECKED = frozenset({"name", "title", "description", "inputSchema",
                                  "outputSchema"})


class Severity(StrEnum):
    """How bad a problem is."""

    error = "error"
    warning = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem: where (path), what and how to fix it (message), how bad, for whom.

    `target` is the format a warning concerns (openai, gemini, mcp), or None
    when the problem concerns the tool everywhere.
    """

    path: str
    message: str
    severity: Severity = Severity.error
    target: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    """Only the problems of severity error."""
    return [p for p in problems if p.severity == Severity.error]


def validate_tool(tool: Tool | Mapping[str, Any], path: str = "tool", *,
                  warnings: bool = True) -> list[Problem]:
    """Every problem of one tool (a Tool model or the dict a user wrote), errors first.

    With warnings=False only errors are looked for, which is all the catalog
    builder needs to decide whether to publish the tool.
    """
    data = _tool_wire(tool) if isinstance(tool, Tool) else tool
    problems = _check_name(data.get("name"), f"{path}.name")
    problems += _check_text(data, "title", path, required=False, limit=MAX_TITLE_CHARS)
    problems += _check_text(data, "description", path, required=True,
                            limit=MAX_DESCRIPTION_CHARS)
    input_schema = data.get("inputSchema")
    input_path = f"{path}.inputSchema"
    if input_schema is None:
        problems.append(Problem(input_path, "is required; give a JSON Schema with "
                                "'type': 'object' describing the arguments"))
    else:
        schema_problems = validate_input_schema(input_schema, input_path)
        problems += schema_problems
        if warnings and not errors(schema_problems):
            problems += target_warnings(input_schema, input_path)
    output_schema = data.get("outputSchema")
    if output_schema is not None:
        output_path = f"{path}.outputSchema"
        output_problems = validate_schema(output_schema, output_path)
        problems += output_problems
        if warnings and not errors(output_problems) \
                and mcp.output_schema_for_mcp(output_schema) is None:
            problems.append(Problem(
                output_path, "MCP needs structured results to be objects, so the MCP catalog "
                "leaves this outputSchema out; wrap the result in an object to keep it",
                Severity.warning, "mcp"))
    return sorted(problems, key=lambda p: p.severity != Severity.error)


def validate_input_schema(schema: Any, path: str = "inputSchema") -> list[Problem]:
    """Errors of an input schema: valid JSON Schema 2020-12, an object at the root,
    no root combinators, within size limits, local references that resolve."""
    if not isinstance(schema, Mapping):
        return [Problem(path, f"must be a JSON Schema object (got {_json_type(schema)})")]
    problems = []
    root_type = schema.get("type")
    if root_type != "object":
        got = "none" if root_type is None else repr(root_type)
        problems.append(Problem(path, f"'type' must be 'object' at the root (got {got}); "
                                "every vendor passes arguments as one JSON object"))
    for keyword in ROOT_COMBINATORS:
        if keyword in schema:
            problems.append(Problem(
                f"{path}.{keyword}", f"'{keyword}' at the root is refused by Anthropic; move "
                "the alternatives into a property, or state the rule in the description"))
    return problems + validate_schema(schema, path)


def validate_schema(schema: Any, path: str) -> list[Problem]:
    """Errors of any tool schema: JSON Schema 2020-12, size, nesting, references.

    The answer for a schema already checked at the same path is remembered: every
    catalog publish checks every tool of the fleet again, and the meta-schema check
    is most of a publish's time.
    """
    if not isinstance(schema, Mapping):
        return [Problem(path, f"must be a JSON Schema object (got {_json_type(schema)})")]
    try:
        text = json.dumps(schema, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        return [Problem(path, f"is not plain JSON ({error}); use only JSON values")]
    except RecursionError:
        return [_too_deep(path)]
    return list(_validate_json(text, path))


def _too_deep(path: str) -> Problem:
    # Deeper than Python can walk: far past the limit, and reported as it.
    return Problem(path, f"nests too deeply, over the limit of {MAX_SCHEMA_NESTING} levels; "
                   "flatten it")


@functools.lru_cache(maxsize=4096)
def _validate_json(text: str, path: str) -> tuple[Problem, ...]:
    try:
        schema = json.loads(text)
        depth = nesting_depth(schema)
    except RecursionError:
        return (_too_deep(path),)
    size = len(text.encode())
    if size > MAX_SCHEMA_BYTES:
        return (Problem(path, f"is {size} bytes, over the limit of {MAX_SCHEMA_BYTES}; move "
                        "repeated parts into $defs or simplify it"),)
    if depth > MAX_SCHEMA_NESTING:
        return (Problem(path, f"nests {depth} levels deep, over the limit of "
                        f"{MAX_SCHEMA_NESTING}; flatten it"),)
    problems = [
        Problem(format_path(path, tuple(error.absolute_path)), _metaschema_message(error))
        for error in sorted(_METASCHEMA.iter_errors(schema), key=lambda e: list(e.absolute_path))
    ]
    dialect = schema.get("$schema")
    if isinstance(dialect, str) and dialect.rstrip("#") != JSON_SCHEMA_2020_12:
        problems.append(Problem(f"{path}.$schema", f"{dialect!r} is read as JSON Schema 2020-12 "
                                f"(the dialect every vendor uses); set {JSON_SCHEMA_2020_12!r} "
                                "or remove $schema", Severity.warning))
    problems += _reference_problems(schema, path)
    return tuple(problems)


def target_warnings(schema: Mapping[str, Any], path: str = "inputSchema") -> list[Problem]:
    """Per-vendor warnings for a valid input schema: why OpenAI strict mode is not
    possible, and which keywords Gemini may ignore."""
    problems = _findings_as_warnings(path, [
        Finding(f.path, f"OpenAI strict mode is not possible: {f.message}; the tool is "
                "published without strict")
        for f in openai_strict.strict_findings(schema)
    ], "openai")
    problems += _findings_as_warnings(path, gemini.unsupported_keywords(schema), "gemini")
    for format in VENDOR_FORMATS:
        adaptation = adapt_input_schema(schema, format)
        if adaptation.verdict == Verdict.excluded:
            problems.append(Problem(path, f"left out of the {format} catalog, which has no "
                                    f"exact form of it: {'; '.join(adaptation.reasons)}",
                                    Severity.warning, format))
    return problems


def validate_toolservice_spec(spec: Any, path: str = "spec") -> list[Problem]:
    """Every problem of a ToolService spec as a user wrote it, with paths such as
    spec.tools[1].inputSchema; errors first."""
    if not isinstance(spec, Mapping):
        return [Problem(path, f"must be an object (got {_json_type(spec)})")]
    problems = [
        problem for problem in _pydantic_problems(ToolServiceSpec, spec, path)
        if not _is_tool_field_problem(problem.path, path)
    ]
    tools = spec.get("tools")
    if isinstance(tools, list):
        seen: dict[str, int] = {}
        for index, tool in enumerate(tools):
            tool_path = f"{path}.tools[{index}]"
            if not isinstance(tool, Mapping):
                continue  # pydantic has said it must be an object
            problems += validate_tool(tool, tool_path)
            name = tool.get("name")
            if isinstance(name, str):
                if name in seen:
                    problems.append(Problem(f"{tool_path}.name", f"{name!r} is already the "
                                            f"name of tools[{seen[name]}]; tool names must "
                                            "be unique within a ToolService"))
                seen.setdefault(name, index)
    return sorted(problems, key=lambda p: p.severity != Severity.error)


def validate_catalog_spec(spec: Any, path: str = "spec") -> list[Problem]:
    """Every problem of a ToolCatalog spec as a user wrote it, including selector
    expressions the API server schema cannot check."""
    if not isinstance(spec, Mapping):
        return [Problem(path, f"must be an object (got {_json_type(spec)})")]
    problems = _pydantic_problems(ToolCatalogSpec, spec, path)
    if problems:
        return problems
    parsed = ToolCatalogSpec.model_validate(spec)
    for field, selector in (("selector", parsed.selector),
                            ("namespaceSelector", parsed.namespace_selector)):
        if selector is not None:
            problems += validate_selector(selector, f"{path}.{field}")
    return problems


def validate_selector(selector: LabelSelector, path: str) -> list[Problem]:
    """Problems Kubernetes would report for a label selector's expressions."""
    problems = []
    for index, requirement in enumerate(selector.match_expressions):
        where = f"{path}.matchExpressions[{index}].values"
        if requirement.operator in ("In", "NotIn") and not requirement.values:
            problems.append(Problem(where, f"operator {requirement.operator} needs at least "
                                    "one value"))
        if requirement.operator in ("Exists", "DoesNotExist") and requirement.values:
            problems.append(Problem(where, f"operator {requirement.operator} takes no values; "
                                    "remove them"))
    return problems


def _findings_as_warnings(base: str, findings: list[Finding], target: str) -> list[Problem]:
    return [Problem(format_path(base, f.path), f.message, Severity.warning, target)
            for f in findings]


def _tool_wire(tool: Tool) -> dict[str, Any]:
    data = tool.to_wire()
    # Schemas as written: a null inside a schema (a default, an enum value) means something.
    data["inputSchema"] = tool.input_schema.model_dump(mode="json", by_alias=True)
    if tool.output_schema is not None:
        data["outputSchema"] = tool.output_schema
    return data


def _check_name(name: Any, path: str) -> list[Problem]:
    if name is None or name == "":
        return [Problem(path, "is required; use letters, digits, _ and -, starting with a "
                        "letter or _")]
    if not isinstance(name, str):
        return [Problem(path, f"must be a string (got {_json_type(name)})")]
    if len(name) > MAX_NAME_CHARS:
        return [Problem(path, f"{name!r} is {len(name)} characters, over the limit of "
                        f"{MAX_NAME_CHARS}; shorten it")]
    if not _NAME.match(name):
        return [Problem(path, f"{name!r} is not a valid tool name; use letters, digits, _ "
                        "and -, starting with a letter or _ (every vendor accepts these)")]
    return []


def _check_text(data: Mapping[str, Any], field: str, path: str, *, required: bool,
                limit: int) -> list[Problem]:
    value = data.get(field)
    where = f"{path}.{field}"
    if value is None or value == "":
        if required:
            return [Problem(where, "is required; say what the tool does and when to use it")]
        return []
    if not isinstance(value, str):
        return [Problem(where, f"must be a string (got {_json_type(value)})")]
    if len(value) > limit:
        return [Problem(where, f"{len(value)} characters is over the limit of {limit}; "
                        "shorten it")]
    return []


def _metaschema_message(error: Any) -> str:
    keyword = error.absolute_path[-1] if error.absolute_path else None
    if keyword == "type":
        return (f"{error.instance!r} is not a JSON Schema type; use one of {_JSON_TYPES} "
                "(or a list of them)")
    if keyword == "required":
        return "must be a list of distinct property names"
    if keyword == "properties":
        return "must map property names to schemas"
    return f"is not valid JSON Schema 2020-12: {error.message}"


def _reference_problems(schema: Mapping[str, Any], path: str) -> list[Problem]:
    problems = []
    for node_path, node in walk(schema):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            continue
        where = format_path(path, (*node_path, "$ref"))
        if not ref.startswith("#"):
            problems.append(Problem(where, f"{ref!r} is not a local reference; routers and "
                                    "vendors cannot fetch schemas, so put the definition "
                                    "under $defs and refer to '#/$defs/<name>'"))
        elif resolve_local_ref(schema, ref) is None:
            problems.append(Problem(where, f"{ref!r} does not resolve; define it under $defs "
                                    "or fix the pointer"))
    return problems


def _pydantic_problems(model: type[BaseModel], data: Mapping[str, Any],
                       path: str) -> list[Problem]:
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [
            Problem(format_path(path, _loc(item["loc"])), _pydantic_message(item))
            for item in error.errors(include_url=False)
        ]
    return []


def _loc(loc: tuple[int | str, ...]) -> Path:
    return tuple(part for part in loc if isinstance(part, int | str))


def _pydantic_message(item: Any) -> str:
    kind = item["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field; check its spelling (kubectl explain shows the fields)"
    got = item.get("input")
    suffix = f" (got {got!r})" if isinstance(got, str | int | float | bool) else ""
    return f"{item['msg']}{suffix}"


def _is_tool_field_problem(problem_path: str, base: str) -> bool:
    match = re.match(rf"^{re.escape(base)}\.tools\[\d+\]\.([A-Za-z]+)", problem_path)
    return bool(match and match.group(1) in _TOOL_FIELDS_CHECKED)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
