"""Canonical JSON and the hashes over it (operator/toolfleet/jsonschema/canonical.py).

The literal hashes below were computed before the call sites shared this module;
they must never change, or stored revisions, applied hashes and catalog ETags
would all change with an operator upgrade.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.catalog.configmaps import MANIFEST_KEY, build_configmaps
from toolfleet.catalog.model import Catalog, CatalogTool, hash_tools
from toolfleet.jsonschema.canonical import canonical_hash, canonical_json
from toolfleet.rollout.revision import revision_of
from toolfleet.runtime.kube import applied_hash

VALUE = {"z": [1, 2.5, None, True], "a": {"é": "naïve ☃", "b": "x"}}
TEXT = '{"a":{"b":"x","é":"naïve ☃"},"z":[1,2.5,null,true]}'
ASCII_TEXT = '{"a":{"b":"x","\\u00e9":"na\\u00efve \\u2603"},"z":[1,2.5,null,true]}'

TOOL = CatalogTool.model_validate({
    "name": "forecast", "serviceToolName": "forecast", "description": "Prévision ☃",
    "inputSchema": {"type": "object"}, "timeoutSeconds": 30, "service": "svc",
    "namespace": "team-a", "exposure": "public", "versions": ["1.0.0"],
    "endpoints": [{"url": "http://svc.team-a.svc.cluster.local:8080", "track": "stable",
                   "version": "1.0.0", "weight": 100, "ready": True}],
    "ready": True, "protocol": "http", "path": "/forecast",
})
SPEC = ToolServiceSpec.model_validate({
    "version": "1.4.0", "image": "registry.example/forecaster:1.4.0",
    "tools": [{"name": "forecast", "description": "Prévision d'une série ☃",
               "inputSchema": {"type": "object",
                               "properties": {"horizon": {"type": "integer"}}}}],
})

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


def reversed_keys(value: Any) -> Any:
    """The same JSON with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def test_canonical_json_sorts_keys_and_has_no_spaces() -> None:
    assert canonical_json({"b": 1, "a": [{"d": None, "c": "é"}]}) == \
        '{"a":[{"c":"é","d":null}],"b":1}'


def test_the_text_is_the_one_every_former_copy_wrote() -> None:
    assert canonical_json(VALUE) == TEXT
    assert canonical_json(VALUE, ensure_ascii=True) == ASCII_TEXT
    assert canonical_json(VALUE) == json.dumps(VALUE, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False)


def test_the_hash_is_sha256_hex_and_length_keeps_its_start() -> None:
    full = canonical_hash(VALUE)
    assert full == "c5f02b70982ed6e256eea793d8e64d53f528ba9d771aa79fa5de3e540b6a7ac5"
    assert canonical_hash(VALUE, length=10) == full[:10]
    assert canonical_hash(VALUE, length=16, ensure_ascii=True) == "e20f76c133b657db"


def test_catalog_hashes_are_unchanged() -> None:
    assert hash_tools([TOOL]) == "8b6542f476bd4c45136397e956b51f4cc2bcbfac5a63dd67d03d5c1ac1541123"


def test_revisions_are_unchanged() -> None:
    # Revisions escape non-ASCII characters, as they always did.
    assert revision_of(SPEC) == "8467d17503"


def test_applied_hashes_are_unchanged() -> None:
    assert applied_hash(VALUE) == "e20f76c133b657db"


def test_the_catalog_manifest_is_written_as_before() -> None:
    catalog = Catalog(name="default", hash=hash_tools([TOOL]), tools=[TOOL])
    [configmap] = build_configmaps(catalog, ["openai"], "toolfleet-system", labels={},
                                   owner_reference=None)
    manifest = configmap["data"][MANIFEST_KEY]
    assert manifest == json.dumps(json.loads(manifest), sort_keys=True, separators=(",", ":"))


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES)
def test_key_order_does_not_change_the_text_or_the_hash(value: Any) -> None:
    assert canonical_json(reversed_keys(value)) == canonical_json(value)
    assert canonical_hash(reversed_keys(value)) == canonical_hash(value)
    assert json.loads(canonical_json(value)) == value


@pytest.mark.parametrize("value", [math.nan, math.inf, {"a": -math.inf}])
def test_numbers_json_cannot_hold_are_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json(value)


def test_values_json_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError):
        canonical_hash({"when": object()})
