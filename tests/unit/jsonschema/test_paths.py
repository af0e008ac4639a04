"""Naming places in a schema (operator/toolfleet/jsonschema/paths.py)."""

from __future__ import annotations

from toolfleet.jsonschema.paths import format_path


def test_paths_read_like_the_document() -> None:
    assert format_path("spec.tools[2].inputSchema", ("properties", "a b", "items", "anyOf", 1)) \
        == 'spec.tools[2].inputSchema.properties["a b"].items.anyOf[1]'
    assert format_path("", ("$defs", "A")) == "$defs.A"


def test_a_key_that_would_break_the_message_is_escaped() -> None:
    assert format_path("$", ("properties", 'say "hi"\n')) == '$.properties["say \\"hi\\"\\n"]'
    assert format_path("$", ("properties", "back\\slash")) == '$.properties["back\\\\slash"]'


def test_other_characters_are_shown_as_written() -> None:
    assert format_path("$", ("properties", "température")) == '$.properties["température"]'


def test_an_index_first_needs_no_base() -> None:
    assert format_path("", (0, "a")) == "[0].a"
    assert format_path("x", ()) == "x"
