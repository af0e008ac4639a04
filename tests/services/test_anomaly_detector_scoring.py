"""score_anomalies as a function: planted anomalies first, explained by the planted feature."""

from __future__ import annotations

from typing import Any

import pytest

from anomaly_detector.models import ScoreAnomaliesInput, ScoreAnomaliesOutput
from anomaly_detector.scoring import score_anomalies
from toolfleet_service.errors import ToolInputError


def run(**arguments: Any) -> ScoreAnomaliesOutput:
    return score_anomalies(ScoreAnomaliesInput.model_validate(arguments))


def test_planted_anomalies_rank_first(transactions: Any) -> None:
    result = run(records=transactions.records, id_field="transaction_id", contamination=0.025)

    assert result.flagged_by == "contamination"
    assert result.flagged_count == 2  # ceil(0.025 x 80)
    assert {record.id for record in result.flagged} == set(transactions.planted)
    ranked = sorted(range(len(result.scores)), key=lambda i: -result.scores[i])
    assert {transactions.records[i]["transaction_id"] for i in ranked[:2]} == set(
        transactions.planted
    )
    assert [record.rank for record in result.flagged] == [1, 2]
    assert result.flagged[0].score >= result.flagged[1].score >= result.threshold


def test_each_anomaly_is_explained_by_the_planted_feature(transactions: Any) -> None:
    result = run(records=transactions.records, id_field="transaction_id", contamination=0.025)

    for record in result.flagged:
        top = record.top_features[0]
        assert top.feature == transactions.planted[str(record.id)]
        assert top.contribution > 0
        assert top.robust_z is not None and top.robust_z > 10
        assert record.index == int(str(record.id)[1:])

    amount = next(r for r in result.flagged if r.id == "t017")
    assert amount.top_features[0].value == 9500.0
    assert amount.top_features[0].typical == pytest.approx(40, abs=5)
    assert amount.summary.startswith(f"#{amount.rank} record 17 (id t017), score ")
    assert "amount=9,500 vs typical" in amount.summary


def test_a_rare_category_is_explained_by_its_share() -> None:
    records = [{"amount": 40.0 + (i % 7), "country": "NL"} for i in range(59)]
    records.append({"amount": 43.0, "country": "KY"})

    result = run(records=records, contamination=0.01)

    [flagged] = result.flagged
    assert flagged.index == 59
    top = flagged.top_features[0]
    assert (top.feature, top.value, top.typical) == ("country", "KY", "NL")
    assert top.value_share == pytest.approx(1 / 60, abs=1e-4)
    assert "country=KY (2% of records)" in flagged.summary


def test_threshold_flags_by_score(transactions: Any) -> None:
    everything = run(
        records=transactions.records, id_field="transaction_id", threshold=0.01, max_flagged=5
    )
    assert everything.flagged_count == 80
    assert len(everything.flagged) == 5 and everything.flagged_truncated
    assert everything.summary.splitlines()[-1] == "... and 75 more"

    strict = run(records=transactions.records, id_field="transaction_id", threshold=0.7)
    assert strict.flagged_by == "threshold" and strict.threshold == 0.7
    assert {record.id for record in strict.flagged} == set(transactions.planted)


def test_same_seed_same_scores(transactions: Any) -> None:
    first = run(records=transactions.records, id_field="transaction_id", seed=5)
    assert first == run(records=transactions.records, id_field="transaction_id", seed=5)


def test_too_few_records_name_the_field() -> None:
    with pytest.raises(ToolInputError) as caught:
        run(records=[{"x": 1.0}, {"x": 2.0}])
    assert caught.value.field == "records"
    assert "at least 3" in str(caught.value)
