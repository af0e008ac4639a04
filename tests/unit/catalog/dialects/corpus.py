"""Input schemas of the kinds that break tool calling in practice, with what each format
should publish of them.

Shapes taken from public bug reports of tool-calling projects: OData keys
(Microsoft Graph), bracketed query keys (App Store Connect), arrays without items
(OpenAPI converters), tuples, const, recursive definitions, nullable unions,
integer enums, open maps, huge enums, deep nesting, keys that look like keywords.
Verdicts: U published as written, W rewritten exactly, R renamed (reversibly),
X left out of that format.
"""

from __future__ import annotations

from typing import Any

U, W, R, X = "unchanged", "rewritten", "renamed", "excluded"
FORMATS = ("openai", "anthropic", "gemini", "mcp")


def _obj(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, **extra}


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "string"}
    for level in range(depth):
        node = _obj({f"level{level}": node})
    return node


_TREE = {"type": "object", "properties": {
    "label": {"type": "string"},
    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}

# name: (input schema, verdicts in FORMATS order)
CORPUS: dict[str, tuple[dict[str, Any], tuple[str, str, str, str]]] = {
    "odata_search": (_obj({
        "$top": {"type": "integer", "minimum": 1}, "$filter": {"type": "string"},
        "@odata.type": {"type": "string"}}, required=["$filter"]), (U, R, U, U)),
    "array_without_items": (_obj({
        "paths": {"type": "array", "description": "files to read"}}), (W, U, W, U)),
    "tuple_prefix_items": (_obj({"point": {
        "type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}]}}),
        (W, U, W, U)),
    "tuple_closed": (_obj({"pair": {
        "type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": False}}), (U, U, U, U)),
    "tuple_unevaluated_items": (_obj({"pair": {
        "type": "array", "prefixItems": [{"type": "string"}], "unevaluatedItems": False}}),
        (X, U, X, U)),
    "const_mode": (_obj({"mode": {"const": "fast"}}), (U, U, W, U)),
    "const_beside_enum": (_obj({"level": {"const": 1, "enum": [1, 2, True]}}), (U, U, W, U)),
    "const_in_items": (_obj({"tags": {"type": "array", "items": {"const": "x"}}}),
                       (U, U, W, U)),
    "ref_cycle_tree": ({"type": "object", "properties": {"root": {"$ref": "#/$defs/node"}},
                        "$defs": {"node": _TREE}}, (U, U, U, U)),
    "ref_cycle_with_odata_key": ({"type": "object", "properties": {
        "root": {"$ref": "#/$defs/node"}}, "$defs": {"node": {"type": "object", "properties": {
            "@odata.id": {"type": "string"},
            "next": {"$ref": "#/$defs/node"}}}}}, (U, X, U, U)),
    "anyof_null": (_obj({"cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]}}),
                   (U, U, U, U)),
    "type_list_array_null": (_obj({"ids": {"type": ["array", "null"]}}), (W, U, W, U)),
    "anyof_array_without_items": (_obj({"q": {"anyOf": [{"type": "array"},
                                                        {"type": "string"}]}}),
                                  (W, U, W, U)),
    "integer_enum": (_obj({"priority": {"type": "integer", "enum": [1, 2, 3]}}),
                     (U, U, U, U)),
    "additional_properties_map": (_obj({"labels": {
        "type": "object", "additionalProperties": {"type": "string"}}}), (U, U, U, U)),
    "map_of_odata_objects": (_obj({"items": {"type": "object", "properties": {
        "name": {"type": "string"}}, "additionalProperties": _obj({
            "@odata.id": {"type": "string"}})}}), (U, R, U, U)),
    "huge_enum": (_obj({"country": {"type": "string",
                                    "enum": [f"c{i:04d}" for i in range(2000)]}}),
                  (U, U, U, U)),
    "deep_nesting": (_obj({"config": _nested(12)}), (U, U, U, U)),
    "reserved_looking_names": (_obj({
        "type": {"type": "string"}, "properties": {"type": "object"},
        "required": {"type": "boolean"}, "enum": {"type": "string"},
        "default": {"type": "string"}, "items": {"type": "array", "items": {}}}),
        (U, U, U, U)),
    "dollar_ref_property": (_obj({"$ref": {"type": "string"}, "$id": {"type": "string"}}),
                            (U, R, U, U)),
    "bracket_keys": (_obj({"filter[id]": {"type": "string"},
                           "filter[name]": {"type": "string"},
                           "exists[parent]": {"type": "boolean"}}), (U, R, U, U)),
    "long_key": (_obj({"settings__approved__or__denied__countries__or__regions__approved"
                       "__list": {"type": "array", "items": {"type": "string"}}}),
                 (U, R, U, U)),
    "space_key": (_obj({"user name": {"type": "string"}, "score (1-5)": {"type": "integer"}}),
                  (U, R, U, U)),
    "key_collision": (_obj({"$top": {"type": "integer"}, "_top": {"type": "string"}}),
                      (U, R, U, U)),
    "pattern_properties_see_key": (_obj({"$top": {"type": "integer"}},
                                        patternProperties={"^\\$": {"type": "integer"}}),
                                   (U, X, U, U)),
    "property_names": (_obj({"$top": {"type": "integer"}}, propertyNames={"maxLength": 8}),
                       (U, X, U, U)),
    "ref_into_renamed_property": (_obj({"$top": {"type": "integer"},
                                        "limit": {"$ref": "#/properties/$top"}}),
                                  (U, X, U, U)),
    "dependent_required_odata": (_obj({"$top": {"type": "integer"}, "$skip": {
        "type": "integer"}}, dependentRequired={"$skip": ["$top"]}), (U, R, U, U)),
    "dollar_schema": ({"$schema": "https://json-schema.org/draft/2020-12/schema",
                       "type": "object", "properties": {"q": {"type": "string"}}},
                      (U, U, W, U)),
    "odata_in_items": (_obj({"records": {"type": "array", "items": _obj({
        "@odata.type": {"type": "string"}, "id": {"type": "string"}})}}), (U, R, U, U)),
    "odata_in_agreeing_branches": (_obj({"x": {"anyOf": [
        _obj({"$a": {"type": "string"}}), _obj({"$a": {"type": "integer"}})]}}),
        (U, R, U, U)),
    "odata_in_clashing_branches": (_obj({"x": {"anyOf": [
        _obj({"$a": {"type": "string"}}), _obj({"_a": {"type": "integer"}})]}}),
        (U, X, U, U)),
    "boolean_property_schema": (_obj({"anything": True}), (U, U, U, U)),
    "free_form_object": ({"type": "object"}, (U, U, U, U)),
    "formats_and_ranges": (_obj({"when": {"type": "string", "format": "date-time"},
                                 "n": {"type": "number", "exclusiveMinimum": 0}}),
                           (U, U, U, U)),
    "odata_and_missing_items": (_obj({"$select": {"type": "array"}}), (W, R, W, U)),
}
