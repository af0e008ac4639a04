"""OpenAI strict mode, in reverse: a strict call's arguments mapped back for the service.

Strict mode (OpenAI function calling, "Structured Outputs": every property
required, optional ones made nullable) makes a model send null for a property
it leaves out. `arguments_from_strict` removes those nulls where the tool's own
schema does not accept null, so the service sees the call its schema describes.
The forward transform is `openai_strict.strict_transform`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from toolfleet.catalog.formats.openai_strict import accepts_null, declared_types
from toolfleet.jsonschema.refs import inline_ref


def arguments_from_strict(schema: Mapping[str, Any], arguments: Any) -> Any:
    """Map arguments a model produced under strict mode back to the original schema.

    `schema` is the tool's own input schema (not its strict form); `arguments`
    the decoded JSON of the model's call, normally an object. Strict mode sends
    null for an optional property the model chose to leave out; where the
    original schema does not accept null there, the property is removed, at any
    depth and inside the anyOf branch the value fits; everything else is kept.
    `arguments` itself is not modified.
    Routers call this before forwarding a strict call to the service.

    Faithful for schemas `strict_transform` accepts; for others it is best effort,
    and a schema whose references do not resolve may make the validator raise.
    """
    # The validator is built only if an anyOf branch must be checked: most calls need
    # none, and building one costs more than the whole walk.
    @cache
    def validator() -> Any:
        return Draft202012Validator(schema)

    return _strip_nulls(schema, arguments, schema, validator)


def _strip_nulls(node: Any, value: Any, root: Mapping[str, Any],
                 validator: Callable[[], Any]) -> Any:
    if not isinstance(node, Mapping):
        return value
    node = inline_ref(node, root)
    any_of = node.get("anyOf")
    if isinstance(any_of, list):
        value = _strip_by_branch(any_of, value, root, validator)
    if isinstance(value, dict):
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            required = set(node.get("required") or [])
            out = {}
            for key, item in value.items():
                sub = properties.get(key)
                if sub is None:
                    out[key] = item
                elif item is None and key not in required and not accepts_null(sub, root):
                    continue
                else:
                    out[key] = _strip_nulls(sub, item, root, validator)
            return out
    if isinstance(value, list) and isinstance(node.get("items"), Mapping):
        return [_strip_nulls(node["items"], item, root, validator) for item in value]
    return value


def _strip_by_branch(branches: list[Any], value: Any, root: Mapping[str, Any],
                     validator: Callable[[], Any]) -> Any:
    """The value stripped as the first anyOf branch it then satisfies would strip it."""
    for branch in branches:
        if not isinstance(branch, Mapping):
            continue
        resolved = inline_ref(branch, root)
        if not _type_fits(resolved, value):
            continue
        stripped = _strip_nulls(resolved, value, root, validator)
        if validator().evolve(schema=branch).is_valid(stripped):
            return stripped
    return value


def _type_fits(node: Mapping[str, Any], value: Any) -> bool:
    kinds = declared_types(node)
    if not kinds:
        return True
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, int):
        return bool(kinds & {"integer", "number"})
    if isinstance(value, float):
        return "number" in kinds or ("integer" in kinds and value.is_integer())
    if isinstance(value, str):
        return "string" in kinds
    if isinstance(value, list):
        return "array" in kinds
    return "object" in kinds
