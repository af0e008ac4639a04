"""segment_customers as a function: the right segments, described in the data's units."""

from __future__ import annotations

from typing import Any

import pytest

from cluster_analyzer.models import SegmentCustomersInput, SegmentCustomersOutput
from cluster_analyzer.segmentation import segment_customers
from toolfleet_service.errors import ToolInputError


def run(**arguments: Any) -> SegmentCustomersOutput:
    return segment_customers(SegmentCustomersInput.model_validate(arguments))


def test_finds_the_three_groups_by_silhouette(segments: Any) -> None:
    result = run(records=segments.records, id_field="customer_id")

    assert result.k == 3
    assert result.k_chosen_by == "silhouette"
    assert [score.k for score in result.k_scores] == list(range(2, 9))
    assert max(result.k_scores, key=lambda score: score.silhouette).k == 3
    assert result.silhouette > 0.7
    assert [segment.size for segment in result.segments] == segments.sizes
    # Every record of a group lands in the same segment, and no two groups share one.
    pairs = set(zip(segments.group_of, result.assignments, strict=True))
    assert pairs == {(0, 1), (1, 2), (2, 3)}


def test_centroids_are_in_the_data_units(segments: Any) -> None:
    result = run(records=segments.records, id_field="customer_id")

    for segment, spend, visits, channel in zip(
        result.segments, segments.spend, segments.visits, segments.channel, strict=True
    ):
        means = {centroid.feature: centroid.mean for centroid in segment.numeric_centroid}
        assert means["annual_spend"] == pytest.approx(spend, rel=0.05)
        assert means["visits"] == pytest.approx(visits, abs=1.0)
        [category] = segment.categorical_centroid
        assert (category.feature, category.value, category.share) == ("channel", channel, 1.0)
        assert "customer_id" not in means


def test_distinguishing_features_and_summary(segments: Any) -> None:
    result = run(records=segments.records, id_field="customer_id")
    big_spenders = result.segments[2]  # the 10 app customers spending ~3,000

    features = {item.feature: item for item in big_spenders.distinguishing_features}
    assert set(features) == {"annual_spend", "visits", "channel"}
    assert features["annual_spend"].deviation_sd > 1.5
    assert features["visits"].deviation_sd > 1.5
    assert (features["channel"].value, features["channel"].segment_mean) == ("app", 1.0)
    deviations = [abs(item.deviation_sd) for item in big_spenders.distinguishing_features]
    assert deviations == sorted(deviations, reverse=True)
    assert big_spenders.summary == (
        "Segment 3 (17% of customers): mostly channel=app (100%), "
        "high annual_spend (+2.1 sd), high visits (+2.0 sd)"
    )
    assert result.summary.splitlines()[0].startswith("3 segments among 60 customers")
    assert result.summary.splitlines()[1:] == [s.summary for s in result.segments]


def test_representatives_are_member_ids(segments: Any) -> None:
    result = run(records=segments.records, id_field="customer_id")
    ids = [record["customer_id"] for record in segments.records]

    for segment in result.segments:
        assert len(segment.representatives) == 3
        for representative in segment.representatives:
            assert result.assignments[ids.index(representative)] == segment.segment


def test_the_callers_k_is_used(segments: Any) -> None:
    result = run(records=segments.records, id_field="customer_id", k=2)

    assert (result.k, result.k_chosen_by, result.k_scores) == (2, "caller", [])
    # The big spenders are furthest from everyone else, so they stand alone.
    assert [segment.size for segment in result.segments] == [50, 10]


def test_same_seed_same_answer_and_record_order_does_not_matter(segments: Any) -> None:
    first = run(records=segments.records, id_field="customer_id", seed=3)
    again = run(records=segments.records, id_field="customer_id", seed=3)
    assert first == again

    reversed_result = run(records=segments.records[::-1], id_field="customer_id", seed=3)
    assert [s.size for s in reversed_result.segments] == [s.size for s in first.segments]


def test_numeric_only_and_categorical_only_data() -> None:
    numbers = [{"x": float(value)} for value in (1, 2, 3, 101, 102, 103)]
    assert [s.size for s in run(records=numbers).segments] == [3, 3]

    words = [{"colour": colour} for colour in ["red"] * 4 + ["blue"] * 2]
    result = run(records=words, k=2)
    assert [(s.size, s.categorical_centroid[0].value) for s in result.segments] == [
        (4, "red"), (2, "blue"),
    ]


def test_named_features_leave_the_others_out(segments: Any) -> None:
    result = run(records=segments.records, numeric_features=["annual_spend"])

    assert (result.numeric_features, result.categorical_features) == (["annual_spend"], [])


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"records": [{"x": 1.0}, {"x": 2.0}]}, "records", "too few"),
        ({"records": [{"x": 1.0}] * 5 + [{"x": 2.0}], "k": 3}, "k", "distinct"),
        ({"records": [{"x": float(i)} for i in range(9)], "k_min": 5, "k_max": 3}, "k_max",
         "at least k_min"),
    ],
)
def test_unusable_input_names_the_field(arguments: dict[str, Any], field: str,
                                        words: str) -> None:
    with pytest.raises(ToolInputError) as caught:
        run(**arguments)
    assert caught.value.field == field
    assert words in str(caught.value)
