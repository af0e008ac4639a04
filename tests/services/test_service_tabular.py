"""Records to feature columns: inference, and errors that point at the exact field."""

from __future__ import annotations

from typing import Any

import pytest

from toolfleet_service.errors import ToolInputError
from toolfleet_service.tabular import MAX_CATEGORY_LEVELS, build_feature_table


def test_features_are_inferred_from_the_values() -> None:
    table = build_feature_table(
        [
            {"id": "a", "spend": 10, "vip": True, "channel": "web", "visits": 1.5},
            {"id": "b", "spend": 12.5, "vip": False, "channel": "shop", "visits": 2},
        ],
        id_field="id",
    )

    assert table.numeric_names == ["spend", "visits"]
    assert table.categorical_names == ["vip", "channel"]  # booleans are categories
    assert table.numeric.tolist() == [[10.0, 1.5], [12.5, 2.0]]
    assert table.categorical.tolist() == [["true", "web"], ["false", "shop"]]
    assert table.ids == ["a", "b"]


def test_named_features_are_used_as_named() -> None:
    table = build_feature_table(
        [{"zip": 1012, "spend": 3.0}, {"zip": 2011, "spend": 4.0}],
        numeric=["spend"], categorical=["zip"],
    )

    assert table.categorical.tolist() == [["1012"], ["2011"]]
    assert table.feature_names == ["spend", "zip"]


@pytest.mark.parametrize(
    ("records", "options", "field", "words"),
    [
        ([{"x": 1.0}, {"x": "12.5"}], {"numeric": ["x"]}, "records[1].x",
         "send numbers unquoted"),
        # Inferred: mostly numbers, so the one string is the mistake.
        ([{"x": 1.0}, {"x": 2.0}, {"x": "3"}], {}, "records[2].x", "expected a number"),
        ([{"x": 1.0}, {"y": 2.0}], {"numeric": ["x"]}, "records[1].x", "missing"),
        ([{"x": 1.0}, {"x": None}], {}, "records[1].x", "missing"),
        ([{"x": 1.0}, {"x": True}], {"numeric": ["x"]}, "records[1].x", "expected a number"),
        ([{"x": 1.0, "c": "a"}, {"x": 2.0, "c": ["b"]}], {}, "records[1].c", "categorical"),
        ([{"x": 1.0}], {"numeric": ["x"], "categorical": ["x"]}, "categorical_features[0]",
         "also in numeric_features"),
        ([{"x": 1.0}], {"numeric": ["x"], "id_field": "x"}, "numeric_features[0]",
         "id_field"),
        ([{"x": 1.0}], {"id_field": "x"}, "records", "no features"),
        ([{"id": 1, "x": 1.0}, {"x": 2.0}], {"id_field": "id"}, "records[1].id", "id_field"),
    ],
)
def test_bad_values_name_the_field(
    records: list[dict[str, Any]], options: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ToolInputError) as caught:
        build_feature_table(records, **options)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"{field}: ")


def test_every_bad_field_is_listed_up_to_a_bound() -> None:
    records = [{"x": "oops"} for _ in range(40)]
    with pytest.raises(ToolInputError) as caught:
        build_feature_table(records, numeric=["x"])
    fields = [problem.field for problem in caught.value.problems]
    assert fields == [f"records[{i}].x" for i in range(10)]
    assert "(and 9 more problems)" in str(caught.value)


def test_an_identifier_like_category_is_refused_with_the_fix() -> None:
    records = [{"customer": f"c{i}", "spend": float(i)} for i in range(MAX_CATEGORY_LEVELS + 1)]
    with pytest.raises(ToolInputError) as caught:
        build_feature_table(records)
    assert "'customer' has 51 distinct values" in str(caught.value)
    assert "name it as id_field" in str(caught.value)
