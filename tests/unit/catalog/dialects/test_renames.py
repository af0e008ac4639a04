"""Reversible renames of property keys (operator/toolfleet/catalog/dialects/renames.py):
what Anthropic refuses is renamed, and the arguments map back exactly."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from toolfleet.catalog.dialects.profiles import ANTHROPIC
from toolfleet.catalog.dialects.renames import arguments_from_renames, rename_keys

from .strategies import json_values, schemas

RULE = ANTHROPIC.property_keys
assert RULE is not None
ODATA = {"type": "object", "properties": {
    "$top": {"type": "integer"}, "$filter": {"type": "string"},
    "@odata.type": {"type": "string"}}, "required": ["$filter"]}


def _property_keys(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        own = set(schema["properties"]) if isinstance(schema.get("properties"), dict) else set()
        return own | {k for v in schema.values() for k in _property_keys(v)}
    if isinstance(schema, list):
        return {k for v in schema for k in _property_keys(v)}
    return set()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas().filter(lambda s: isinstance(s, dict)), data=st.data())
def test_arguments_valid_for_the_renamed_schema_map_back_to_ones_valid_for_the_original(
        schema: dict[str, Any], data: st.DataObject) -> None:
    result = rename_keys(schema, RULE)
    assume(not result.reasons)
    published = sorted(k for k in _property_keys(result.schema) | {"a", "b"}
                       if RULE.matches(k))
    # What a model can send under the renamed schema: only keys Anthropic accepts.
    for _ in range(4):
        sent = data.draw(json_values(published))
        back = arguments_from_renames(result.renames, sent)
        assert Draft202012Validator(result.schema).is_valid(sent) == \
            Draft202012Validator(schema).is_valid(back)


@settings(max_examples=200, deadline=None)
@given(schema=schemas().filter(lambda s: isinstance(s, dict)))
def test_every_key_of_a_renamed_schema_is_one_anthropic_accepts(schema: dict[str, Any]) -> None:
    result = rename_keys(schema, RULE)
    if not result.reasons:
        assert all(RULE.matches(k) for k in _property_keys(result.schema))


def test_odata_keys_are_renamed_and_required_follows() -> None:
    result = rename_keys(ODATA, RULE)
    assert result.reasons == []
    assert result.schema["properties"] == {
        "_top": {"type": "integer"}, "_filter": {"type": "string"},
        "_odata.type": {"type": "string"}}
    assert result.schema["required"] == ["_filter"]
    assert [r.to_wire() for r in result.renames] == [{"at": [], "keys": {
        "_filter": "$filter", "_odata.type": "@odata.type", "_top": "$top"}}]


def test_a_call_with_renamed_keys_maps_back_to_the_services_own() -> None:
    result = rename_keys(ODATA, RULE)
    assert arguments_from_renames(result.renames, {
        "_top": 5, "_filter": "name eq 'x'", "_odata.type": "#microsoft.graph.user"}) == {
        "$top": 5, "$filter": "name eq 'x'", "@odata.type": "#microsoft.graph.user"}


def test_a_renamed_key_that_would_collide_or_run_long_ends_in_a_hash() -> None:
    long = "settings__" + "x" * 70
    schema = {"type": "object", "properties": {"$top": {}, "_top": {}, long: {}}}
    result = rename_keys(schema, RULE)
    renamed = result.renames[0].keys
    assert set(renamed.values()) == {"$top", long}
    assert "_top" not in renamed and len(set(result.schema["properties"])) == 3
    assert all(len(k) <= 64 and RULE.matches(k) for k in result.schema["properties"])


def test_a_declared_property_beside_an_open_map_of_renamed_objects_stays_itself() -> None:
    schema = {"type": "object", "properties": {"fixed": {"type": "object"}},
              "additionalProperties": {"type": "object", "properties": {"$x": {}}}}
    result = rename_keys(schema, RULE)
    back = arguments_from_renames(result.renames, {"fixed": {"_x": 1}, "other": {"_x": 2}})
    assert back == {"fixed": {"_x": 1}, "other": {"$x": 2}}


def test_renames_with_no_exact_way_back_are_refused_with_the_reason() -> None:
    recursive = {"type": "object", "properties": {"root": {"$ref": "#/$defs/n"}},
                 "$defs": {"n": {"type": "object", "properties": {
                     "@id": {}, "next": {"$ref": "#/$defs/n"}}}}}
    assert "recursive definition" in rename_keys(recursive, RULE).reasons[0].message
    patterned = {"type": "object", "properties": {"$top": {}},
                 "patternProperties": {"^\\$": {"type": "integer"}}}
    assert "patternProperties" in rename_keys(patterned, RULE).reasons[0].message
