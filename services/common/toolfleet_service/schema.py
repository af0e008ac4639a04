"""JSON Schemas of tool inputs and outputs, generated from their pydantic models.

A tool's schema travels far: into the ToolService, the catalog, and every LLM
vendor's tool format. So it is made self-contained (no `$ref`, no `$defs`; some
vendors resolve neither), and pydantic's automatic `title` on every property,
which only repeats the property's name, is left out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

# Keywords whose values are JSON instances rather than schemas.
_DATA_KEYWORDS = frozenset({"default", "const", "enum", "examples"})


class SchemaError(ValueError):
    """A model cannot be written as a self-contained tool schema."""


def tool_schema(
    model: type[BaseModel], mode: Literal["validation", "serialization"]
) -> dict[str, Any]:
    """The model's JSON Schema (2020-12), inlined: root `type: object`, no references.

    `mode` is "validation" for a tool's input (what callers may send) and
    "serialization" for its output (what the tool returns).
    """
    raw = model.model_json_schema(mode=mode)
    definitions: dict[str, Any] = raw.pop("$defs", {})
    schema: dict[str, Any] = _inline(raw, definitions, trail=())
    if schema.get("type") != "object":
        raise SchemaError(
            f"{model.__name__}: a tool schema's root must be type object "
            f"(got {schema.get('type')!r}); wrap the value in a model with one field"
        )
    return schema


def _inline(node: Any, definitions: dict[str, Any], trail: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, trail) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        if name in trail:
            raise SchemaError(
                f"{name} refers to itself ({' -> '.join((*trail, name))}); "
                "a recursive model cannot be inlined"
            )
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        return _inline({**definitions[name], **siblings}, definitions, (*trail, name))
    inlined: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _DATA_KEYWORDS:
            inlined[key] = value  # instance data, not a schema: "title" or "$ref" mean nothing
        elif key in ("properties", "patternProperties", "dependentSchemas"):
            # A map from names to schemas: a property may be called "title".
            inlined[key] = {
                name: _inline(sub, definitions, trail) for name, sub in value.items()
            }
        else:
            inlined[key] = _inline(value, definitions, trail)
    return inlined
