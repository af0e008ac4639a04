"""What each vendor's API accepts in a tool definition, in one place, each rule with its source.

A profile is data: the name rules for tools and property keys, the schema
forms the API refuses (and so must be rewritten, renamed or left out), the
keywords it reads and those it ignores, and its count and size limits. The
renderers, the checks of `toolfleet validate`, the catalog status and the
corpus test all read these profiles, so a rule is written once.

Where a vendor does not write a limit down, the source is the documented error
its API answers with (quoted as public bug reports show it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    """One rule of a vendor, and where it is written."""

    text: str
    source: str


@dataclass(frozen=True)
class NameRule:
    """A pattern names must match (whole name), with its source."""

    pattern: str
    source: str

    def matches(self, name: str) -> bool:
        """Whether `name` is accepted."""
        return re.fullmatch(self.pattern, name) is not None


@dataclass(frozen=True)
class Limit:
    """A count or size the vendor accepts at most, with its source."""

    value: int
    source: str


@dataclass(frozen=True)
class Profile:
    """One vendor dialect of tool definitions.

    `property_keys` is None where the vendor documents no rule for property
    keys. `refused_keywords` are schema keywords the API answers with a 400;
    `ignored_keywords` None means the vendor reads all of JSON Schema
    (`read_keywords` then empty). `const_refused`/`array_needs_items` name the
    two forms with an exact rewrite.
    """

    name: str
    display: str
    tool_names: NameRule
    property_keys: NameRule | None = None
    array_needs_items: Rule | None = None
    const_not_read: Rule | None = None
    refused_keywords: frozenset[str] = frozenset()
    refused_keywords_source: str = ""
    read_keywords: frozenset[str] = frozenset()
    read_keywords_source: str = ""
    tools_per_request: Limit | None = None
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def reads_all_keywords(self) -> bool:
        """Whether every JSON Schema keyword is read (no subset documented)."""
        return not self.read_keywords


_OPENAI_FUNCTION_NAME = NameRule(
    r"[a-zA-Z0-9_-]{1,64}",
    "OpenAI API reference, Chat Completions, tools[].function.name: \"Must be a-z, A-Z, "
    "0-9, or contain underscores and dashes, with a maximum length of 64\"")
_OPENAI_ARRAY_ITEMS = Rule(
    "an array schema must have 'items'",
    "OpenAI API error (non-strict too): \"Invalid schema for function '<name>': In "
    "context=('properties', '<key>'), array schema missing items\", code "
    "invalid_function_parameters")
_OPENAI_TOOLS = Limit(
    128, "OpenAI API reference, Chat Completions, `tools`: \"A max of 128 functions are "
    "supported\"")

OPENAI = Profile(
    name="openai",
    display="OpenAI Chat Completions (function tools)",
    tool_names=_OPENAI_FUNCTION_NAME,
    array_needs_items=_OPENAI_ARRAY_ITEMS,
    tools_per_request=_OPENAI_TOOLS,
    rules=(Rule("the parameters root is type object",
                "OpenAI function calling guide: parameters are \"defined by a JSON schema\" "
                "of an object"),),
)

# Strict mode's subset and limits live with its transform
# (`catalog.formats.openai_strict`): OpenAI structured outputs, "Supported schemas".
OPENAI_STRICT = Profile(
    name="openai-strict",
    display="OpenAI Chat Completions, strict function tools (structured outputs)",
    tool_names=_OPENAI_FUNCTION_NAME,
    array_needs_items=_OPENAI_ARRAY_ITEMS,
    tools_per_request=_OPENAI_TOOLS,
    rules=(Rule("every object closed (additionalProperties false), every property required, "
                "nesting at most 10 levels, at most 5000 properties and 1000 enum values",
                "OpenAI structured outputs guide, \"Supported schemas\" and \"Limitations\""),),
)

ANTHROPIC = Profile(
    name="anthropic",
    display="Anthropic Messages API (client tools)",
    tool_names=NameRule(
        r"[a-zA-Z0-9_-]{1,128}",
        "Anthropic API error: \"tools.N.custom.name: String should match pattern "
        "'^[a-zA-Z0-9_-]{1,128}$'\" (64 before 2025; toolfleet keeps names to 64)"),
    property_keys=NameRule(
        r"[a-zA-Z0-9_.-]{1,64}",
        "Anthropic API error: \"tools.N.custom.input_schema.properties: Property keys "
        "should match pattern '^[a-zA-Z0-9_.-]{1,64}$'\" (the whole tools array is refused)"),
    rules=(Rule("input_schema is a JSON Schema object of type object, without anyOf, oneOf "
                "or allOf at the root",
                "Anthropic tool use docs, \"Specifying client tools\": input_schema; "
                "API error \"input_schema does not support oneOf, allOf, or anyOf at the "
                "top level\""),),
)

# The keywords Gemini's parametersJsonSchema reads: those of its own Schema type (in
# JSON spelling) and those its JSON Schema support documents; others may be ignored.
GEMINI_READ_KEYWORDS = frozenset({
    "type", "format", "title", "description", "enum", "nullable", "default", "example",
    "items", "prefixItems", "minItems", "maxItems", "minimum", "maximum", "minLength",
    "maxLength", "pattern", "properties", "required", "additionalProperties",
    "minProperties", "maxProperties", "propertyOrdering", "anyOf", "oneOf", "$id", "$defs",
    "$ref", "$anchor",
})

GEMINI = Profile(
    name="gemini",
    display="Gemini API (functionDeclarations with parametersJsonSchema)",
    tool_names=NameRule(
        r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}",
        "Gemini API reference, FunctionDeclaration.name: \"Must start with a letter or an "
        "underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and "
        "dashes, with a maximum length of 64\""),
    array_needs_items=Rule(
        "an array schema must have 'items'",
        "Gemini API error for parameters: \"function_declarations[N].parameters.properties"
        "[<key>].items: missing field\"; parametersJsonSchema gets the same exact rewrite"),
    const_not_read=Rule(
        "'const' is not among the keywords Gemini reads",
        "Gemini API reference, Schema and FunctionDeclaration.parametersJsonSchema (the "
        "JSON Schema subset it documents has enum, not const)"),
    refused_keywords=frozenset({"$schema"}),
    refused_keywords_source="Gemini API: parametersJsonSchema with '$schema' is refused "
    "(see catalog.formats.gemini, which has always removed it)",
    read_keywords=GEMINI_READ_KEYWORDS,
    read_keywords_source="Gemini API reference, Schema; function calling guide, "
    "parametersJsonSchema",
    tools_per_request=Limit(
        512, "google-genai reference, Tool.functionDeclarations: \"Maximum 512 function "
        "declarations can be provided\""),
)

_MCP_TOOL_NAME = NameRule(
    r"[A-Za-z0-9_.-]{1,128}",
    "MCP specification 2025-11-25, Server > Tools > Tool names (SEP-986): names SHOULD be "
    "1 to 128 characters of A-Z, a-z, 0-9, _, - and .")

MCP_2025_11_25 = Profile(
    name="mcp-2025-11-25",
    display="MCP 2025-11-25 tools/list",
    tool_names=_MCP_TOOL_NAME,
    rules=(Rule("inputSchema is a JSON Schema object; outputSchema's root is an object",
                "MCP specification 2025-11-25, Server > Tools > Tool"),),
)

MCP_2026_07_28 = Profile(
    name="mcp-2026-07-28",
    display="MCP 2026-07-28 tools/list",
    tool_names=NameRule(
        _MCP_TOOL_NAME.pattern,
        "MCP 2026-07-28 keeps SEP-986's tool names: the official Python SDK 2.3 "
        "(mcp.shared.tool_name_validation.TOOL_NAME_REGEX '^[A-Za-z0-9._-]{1,128}$'), which "
        "speaks 2026-07-28"),
    rules=MCP_2025_11_25.rules,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (
    OPENAI, OPENAI_STRICT, ANTHROPIC, GEMINI, MCP_2025_11_25, MCP_2026_07_28)}

# The profiles each published format must satisfy: the MCP rendering serves every
# protocol revision the gateway speaks; OpenAI's strict tools are checked as strict.
FORMAT_PROFILES: dict[str, tuple[Profile, ...]] = {
    "openai": (OPENAI,),
    "anthropic": (ANTHROPIC,),
    "gemini": (GEMINI,),
    "mcp": (MCP_2025_11_25, MCP_2026_07_28),
}
