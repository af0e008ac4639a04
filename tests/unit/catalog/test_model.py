"""The canonical document and its hash (operator/toolfleet/catalog/model.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolfleet.catalog.model import hash_tools

from .fixtures import catalog_of, tool
from .strategies import Node, object_schemas, reorder_keys


def test_hash_is_sha256_hex_of_the_tools() -> None:
    catalog = catalog_of([tool()])
    assert len(catalog.hash) == 64
    assert catalog.hash == hash_tools(catalog.tools)
    assert int(catalog.hash, 16) >= 0


def test_hash_ignores_the_order_of_tools() -> None:
    catalog = catalog_of([tool("a"), tool("b")])
    assert hash_tools(list(reversed(catalog.tools))) == catalog.hash


def test_the_catalog_name_is_not_hashed() -> None:
    assert catalog_of([tool()]).hash == catalog_of([tool()]).model_copy(
        update={"name": "other"}).hash


def test_nulls_inside_schemas_are_kept_and_hashed() -> None:
    with_null = {"type": "object", "properties": {"a": {"type": ["string", "null"],
                                                        "default": None}}}
    without = {"type": "object", "properties": {"a": {"type": ["string", "null"]}}}
    catalog = catalog_of([tool(schema=with_null)])
    assert catalog.to_wire()["tools"][0]["inputSchema"] == with_null
    assert catalog.hash != catalog_of([tool(schema=without)]).hash


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(node=object_schemas(), reverse=st.booleans())
def test_hash_is_stable_under_key_reordering(node: Node, reverse: bool) -> None:
    original = catalog_of([tool(schema=node.schema)])
    reordered = catalog_of([tool(schema=reorder_keys(node.schema, reverse))])
    assert original.hash == reordered.hash
