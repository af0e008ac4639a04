"""A strict call's arguments mapped back (operator/toolfleet/catalog/formats/openai_arguments.py).

The round trip through the strict transform is a property test in test_openai_strict.py.
"""

from __future__ import annotations

from toolfleet.catalog.formats.openai_arguments import arguments_from_strict

from ..fixtures import corpus

CORPUS = corpus()


def test_arguments_from_strict_drops_the_nulls_of_left_out_properties() -> None:
    schema = CORPUS["create_order"]["inputSchema"]
    sent = {
        "customer_id": "0b6f1d9e-4c4e-4d8a-9f0e-6a1c2b3d4e5f",
        "items": [{"sku": "A1", "quantity": 2, "unit_price": None}],
        "fulfillment": {"kind": "delivery", "instructions": None,
                        "address": {"street": "1 Main St", "city": "Springfield",
                                    "postal_code": "12345", "country": "US"}},
    }
    assert arguments_from_strict(schema, sent) == {
        "customer_id": "0b6f1d9e-4c4e-4d8a-9f0e-6a1c2b3d4e5f",
        "items": [{"sku": "A1", "quantity": 2}],
        "fulfillment": {"kind": "delivery",
                        "address": {"street": "1 Main St", "city": "Springfield",
                                    "postal_code": "12345", "country": "US"}},
    }


def test_arguments_from_strict_keeps_nulls_the_original_accepts() -> None:
    schema = CORPUS["summarize_document"]["inputSchema"]
    sent = {"text": "t", "max_words": None, "style": None, "language": None}
    assert arguments_from_strict(schema, sent) == {"text": "t", "language": None}
