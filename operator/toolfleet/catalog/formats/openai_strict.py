"""OpenAI strict mode (structured outputs): the strict form of a tool's input
schema, and the way back for the arguments a model sends under it.

Strict mode makes the model's arguments follow the schema exactly, but only for
a subset of JSON Schema, in a closed form: every object has
`additionalProperties: false` and lists all its properties in `required`; an
optional property is written as required and nullable, and the model sends
null where it would have left the property out. The subset and its limits are
OpenAI's "Supported schemas" list for structured outputs.

A tool is marked strict only when that rewrite is *faithful*: every argument
document the original schema accepts maps (missing optional properties filled
with null) to one the strict schema accepts, and every document the strict
schema accepts maps back (`arguments_from_strict`) to one the original accepts.
When it is not, the reasons are reported and the tool is published without
`strict`; strictness is never forced on a schema it would distort.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolfleet.jsonschema.paths import Finding, Path
from toolfleet.jsonschema.refs import recursive_refs, resolve_local_ref

# What strict mode accepts, beyond the keywords that shape the value.
STRICT_STRING_FORMATS = frozenset({
    "date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid",
})
STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref",
    "$defs", "enum", "const", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "title", "description",
})
# Annotations strict mode refuses; dropping them changes no validation result.
STRICT_DROPPED_ANNOTATIONS = frozenset({
    "$schema", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly",
})
# Documented limits of strict schemas.
MAX_STRICT_NESTING = 10
MAX_STRICT_PROPERTIES = 5000
MAX_STRICT_ENUM_VALUES = 1000

_DESCRIBING = ("title", "description")
# Made nullable by a type list; objects and arrays by anyOf, the form strict
# mode documents for them.
_SCALAR_TYPES = frozenset({"string", "number", "integer", "boolean"})


@dataclass(frozen=True)
class StrictTransform:
    """The outcome of trying to make a schema strict: the schema, or why not."""

    schema: dict[str, Any] | None
    reasons: tuple[Finding, ...]

    @property
    def possible(self) -> bool:
        """Whether a faithful strict schema exists."""
        return self.schema is not None


def strict_transform(schema: Mapping[str, Any]) -> StrictTransform:
    """The strict-mode form of a tool's input schema, when a faithful one exists.

    Objects are closed (`additionalProperties: false`), every property becomes
    required, optional ones nullable; annotations strict mode refuses (default,
    examples, $schema...) are dropped. Anything else that strict mode cannot
    express (free-form objects, open maps, unsupported keywords or formats,
    limits) makes the transform impossible, with a reason per place.
    """
    converter = _StrictConverter(schema)
    converted = converter.convert_root()
    if converter.reasons:
        return StrictTransform(schema=None, reasons=tuple(converter.reasons))
    return StrictTransform(schema=converted, reasons=())


def accepts_null(node: Any, root: Mapping[str, Any], _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a schema accepts null, judged by type, enum, const, anyOf and $ref.

    `node` is a subschema of the document `root`, against which its local
    references resolve; a reference that does not resolve, or that leads back
    to one being followed (`_seen`), counts as refusing null. Exact for the keywords
    strict mode allows; not, allOf and oneOf are not looked at.
    """
    if node is True:
        return True
    if not isinstance(node, Mapping):
        return False
    ref = node.get("$ref")
    if isinstance(ref, str) and not _ref_target_accepts_null(ref, root, _seen):
        return False
    if not _value_keywords_allow_null(node):
        return False
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        return any(accepts_null(branch, root, _seen) for branch in any_of)
    # Within the keywords strict mode allows, nothing else can reject null.
    return True


def _ref_target_accepts_null(ref: str, root: Mapping[str, Any], seen: frozenset[str]) -> bool:
    """Whether the target of `ref` accepts null; a reference back to one being
    followed refuses, so a recursive definition cannot loop."""
    if ref in seen:
        return False
    return accepts_null(resolve_local_ref(root, ref), root, seen | {ref})


def _value_keywords_allow_null(node: Mapping[str, Any]) -> bool:
    """Whether the node's own type, enum and const leave null allowed."""
    kind = node.get("type")
    if isinstance(kind, str) and kind != "null":
        return False
    if isinstance(kind, list) and "null" not in kind:
        return False
    if "enum" in node and None not in node["enum"]:
        return False
    return not ("const" in node and node["const"] is not None)


def strict_findings(schema: Mapping[str, Any]) -> list[Finding]:
    """Why a schema cannot be strict, one Finding per place; empty when it can."""
    return list(strict_transform(schema).reasons)


class _StrictConverter:
    """One strict conversion; collects every reason instead of stopping at the first."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.reasons: list[Finding] = []
        self.property_count = 0
        self.enum_values = 0
        self.recursive_defs = recursive_refs(root)

    def refuse(self, path: Path, message: str) -> None:
        self.reasons.append(Finding(path, message))

    def convert_root(self) -> dict[str, Any]:
        if self.root.get("type") != "object":
            self.refuse((), "the root must be type object")
        for keyword in ("anyOf", "oneOf", "allOf"):
            if keyword in self.root:
                self.refuse((keyword,), f"'{keyword}' at the root is not allowed in strict mode")
        out = self.convert(self.root, (), depth=0, is_root=True)
        if self.property_count > MAX_STRICT_PROPERTIES:
            self.refuse((), f"{self.property_count} properties in all, over strict mode's "
                        f"limit of {MAX_STRICT_PROPERTIES}")
        if self.enum_values > MAX_STRICT_ENUM_VALUES:
            self.refuse((), f"{self.enum_values} enum values in all, over strict mode's "
                        f"limit of {MAX_STRICT_ENUM_VALUES}")
        return out

    def convert(self, node: Any, path: Path, depth: int, is_root: bool = False) -> dict[str, Any]:
        if not isinstance(node, Mapping):
            self.refuse(path, "boolean schemas are not supported in strict mode; "
                        "give the value a type")
            return {}
        if depth > MAX_STRICT_NESTING:
            self.refuse(path, f"nested deeper than strict mode's limit of "
                        f"{MAX_STRICT_NESTING} levels")
            return {}
        if "$ref" in node and len(set(node) - STRICT_DROPPED_ANNOTATIONS) > 1:
            return self.convert_ref_with_siblings(node, path, depth)

        out = self.supported_keywords(node, path)
        self.check_shape(node, path, is_root)
        if "$defs" in node:
            self.convert_defs(node["$defs"], out, path, is_root)
        self.check_keyword_values(node, path)
        self.convert_subschemas(node, out, path, depth, is_root)
        return out

    def supported_keywords(self, node: Mapping[str, Any], path: Path) -> dict[str, Any]:
        """The node's keywords strict mode accepts; refused ones are reported,
        annotations it refuses but that change no result are dropped."""
        out: dict[str, Any] = {}
        for keyword, value in node.items():
            if keyword in STRICT_DROPPED_ANNOTATIONS:
                continue
            if keyword not in STRICT_KEYWORDS:
                self.refuse((*path, keyword), f"'{keyword}' is not supported in strict mode")
                continue
            out[keyword] = value
        return out

    def convert_defs(self, defs: Any, out: dict[str, Any], path: Path, is_root: bool) -> None:
        """Convert `$defs` into `out`; strict mode allows them only at the root."""
        if not is_root:
            self.refuse((*path, "$defs"), "'$defs' is only supported at the root in "
                        "strict mode")
        elif isinstance(defs, Mapping):
            out["$defs"] = {
                name: self.convert(sub, ("$defs", name), depth=1)
                for name, sub in defs.items()
            }

    def check_keyword_values(self, node: Mapping[str, Any], path: Path) -> None:
        """Refuse references and formats strict mode cannot follow, and count enum
        values towards its overall limit."""
        ref = node.get("$ref")
        if isinstance(ref, str) and not (ref == "#" or ref.startswith("#/$defs/")):
            self.refuse((*path, "$ref"), f"reference {ref!r} is not supported in strict mode; "
                        "point at '#/$defs/...'")
        if "enum" in node and isinstance(node["enum"], list):
            self.enum_values += len(node["enum"])
        fmt = node.get("format")
        if fmt is not None and fmt not in STRICT_STRING_FORMATS:
            self.refuse((*path, "format"), f"format {fmt!r} is not supported in strict mode "
                        f"(supported: {', '.join(sorted(STRICT_STRING_FORMATS))})")

    def convert_subschemas(self, node: Mapping[str, Any], out: dict[str, Any], path: Path,
                           depth: int, is_root: bool) -> None:
        """Convert the schemas nested in the node (properties, items, anyOf) into `out`."""
        kinds = declared_types(node)
        if "object" in kinds or "properties" in node:
            self.convert_object(node, out, path, depth, is_root)
        if "array" in kinds:
            items = node.get("items")
            if items is None:
                self.refuse(path, "arrays need 'items' in strict mode")
            else:
                out["items"] = self.convert(items, (*path, "items"), depth + 1)
        if isinstance(node.get("anyOf"), list):
            out["anyOf"] = [
                self.convert(branch, (*path, "anyOf", i), depth + 1)
                for i, branch in enumerate(node["anyOf"])
            ]

    def check_shape(self, node: Mapping[str, Any], path: Path, is_root: bool) -> None:
        kind = node.get("type")
        if isinstance(kind, list) and len([k for k in kind if k != "null"]) > 1:
            self.refuse((*path, "type"), "a type list with several non-null types is not "
                        "supported in strict mode; use anyOf")
        # Combinators strict mode refuses are reported once, as keywords.
        if not any(k in node for k in ("type", "anyOf", "$ref", "enum", "const", "oneOf",
                                       "allOf", "not")):
            self.refuse(path, "strict mode needs every value to declare a type "
                        "(or anyOf, $ref, enum, const)")

    def convert_object(self, node: Mapping[str, Any], out: dict[str, Any], path: Path,
                       depth: int, is_root: bool) -> None:
        properties = node.get("properties")
        if not isinstance(properties, Mapping):
            properties = {}
        additional = node.get("additionalProperties")
        if additional is True or isinstance(additional, Mapping):
            self.refuse((*path, "additionalProperties"), "an object that allows arbitrary "
                        "keys cannot be strict; strict mode needs additionalProperties false")
        elif additional is None and not properties and not is_root:
            self.refuse(path, "a free-form object (no properties) cannot be strict; declare "
                        "its properties")
        required = node.get("required")
        if not isinstance(required, list):
            required = []
        undeclared = [name for name in required if name not in properties]
        if undeclared:
            self.refuse((*path, "required"), f"required {undeclared} not declared in "
                        "properties; strict mode closes the object, so they could never be sent")
        self.property_count += len(properties)
        converted: dict[str, Any] = {}
        for name, sub in properties.items():
            child = self.convert(sub, (*path, "properties", name), depth + 1)
            if name not in required and not accepts_null(child, self.root):
                child = _nullable(child)
            converted[name] = child
        out["type"] = node.get("type", "object")
        out["properties"] = converted
        # Sorted, as the published JSON sorts the properties: one text per schema
        # whatever the order its keys arrived in.
        out["required"] = sorted(properties)
        out["additionalProperties"] = False

    def convert_ref_with_siblings(self, node: Mapping[str, Any], path: Path,
                                  depth: int) -> dict[str, Any]:
        """Strict mode refuses keywords beside $ref: inline the target instead."""
        ref = str(node["$ref"])
        siblings = {k: v for k, v in node.items()
                    if k != "$ref" and k not in STRICT_DROPPED_ANNOTATIONS}
        if ref in self.recursive_defs:
            if set(siblings) - set(_DESCRIBING):
                self.refuse(path, f"keywords beside the recursive reference {ref!r} are "
                            "not supported in strict mode")
            # Only descriptions sit beside the recursive reference: dropping them
            # changes no validation result, and the definition keeps its own.
            return self.convert({"$ref": ref}, path, depth)
        target = resolve_local_ref(self.root, ref)
        if not isinstance(target, Mapping):
            self.refuse((*path, "$ref"), f"reference {ref!r} does not resolve")
            return {}
        clashes = sorted(set(siblings) & set(target) - set(_DESCRIBING))
        if clashes:
            self.refuse(path, f"keywords {clashes} appear both beside {ref!r} and in its "
                        "target; strict mode cannot combine them")
            return {}
        return self.convert({**target, **siblings}, path, depth)


def declared_types(node: Mapping[str, Any]) -> set[str]:
    """The JSON types a schema node names in `type` (empty: it names none)."""
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {str(k) for k in kind}
    return set()


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, also accepting null, with exactly the same non-null values."""
    kind = schema.get("type")
    if isinstance(kind, str) and kind in _SCALAR_TYPES \
            and not {"anyOf", "$ref", "const"} & set(schema):
        # Keywords of other types do not apply to null, so widening type is exact.
        out = {**schema, "type": [kind, "null"]}
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    describing = {k: schema[k] for k in _DESCRIBING if k in schema}
    rest = {k: v for k, v in schema.items() if k not in _DESCRIBING}
    if set(rest) == {"anyOf"}:
        return {**describing, "anyOf": [*rest["anyOf"], {"type": "null"}]}
    return {**describing, "anyOf": [rest, {"type": "null"}]}
