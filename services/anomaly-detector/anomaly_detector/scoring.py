"""Anomaly scoring: an isolation forest over the records, and why each flagged record stands out.

Pure computation, no I/O: `score_anomalies` takes the validated input and
returns the report, deterministically for a given seed.

How it works:
1. Numeric features are used as they are (trees split on each feature's own
   range, so no scaling is needed); categorical features are one-hot encoded.
2. An isolation forest (seeded) is fitted on all records, and each record gets
   the anomaly score of Liu et al. (2008): 2^(-mean path length / c(n)), in 0..1.
   Records that a few random splits isolate score high; ordinary ones score
   around 0.5 or below.
3. Records are flagged by `threshold` (score at least that) or else by
   `contamination` (the top ceil(contamination x records)).
4. Contributions, by leaving one feature out: for each flagged record and
   each feature, the value is replaced by the feature's typical value (median,
   or most common category) and the record is scored again by the same forest;
   the drop in score is that feature's contribution. A robust z-score (numeric)
   or the value's share of records (categorical) is reported beside it, to read
   the size of the deviation in the data's own terms.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest  # type: ignore[import-untyped]
from sklearn.preprocessing import OneHotEncoder  # type: ignore[import-untyped]

from anomaly_detector.models import (
    Contribution,
    FlaggedRecord,
    ScoreAnomaliesInput,
    ScoreAnomaliesOutput,
)
from toolfleet_service.errors import ToolInputError
from toolfleet_service.tabular import FeatureTable, build_feature_table
from toolfleet_service.text import percent, readable, round_significant, signed

MIN_RECORDS = 3
# 1.4826 x MAD estimates the standard deviation of normal data, robustly.
MAD_TO_SD = 1.4826
SUMMARY_LINES = 10

Matrix = NDArray[np.float64]


@dataclass(frozen=True)
class _Feature:
    """One feature and the matrix columns that encode it."""

    name: str
    kind: str  # "numeric" | "categorical"
    columns: slice
    typical_value: float | str
    typical_encoding: Matrix  # what the columns hold for the typical value


def score_anomalies(request: ScoreAnomaliesInput) -> ScoreAnomaliesOutput:
    """Score every record and explain the flagged ones."""
    table = build_feature_table(
        request.records, request.numeric_features, request.categorical_features,
        request.id_field,
    )
    if table.rows < MIN_RECORDS:
        raise ToolInputError.at(
            "records", f"{table.rows} records are too few to tell unusual from usual; send "
            f"at least {MIN_RECORDS}",
        )
    matrix, features = _encode(table)
    forest = IsolationForest(n_estimators=request.trees, random_state=request.seed)
    forest.fit(matrix)
    scores = -forest.score_samples(matrix)  # sklearn returns the negated paper score

    if request.threshold is not None:
        flagged_by = "threshold"
        flagged = [int(i) for i in np.flatnonzero(scores >= request.threshold)]
    else:
        flagged_by = "contamination"
        count = math.ceil(request.contamination * table.rows)
        flagged = [int(i) for i in np.argsort(-scores, kind="stable")[:count]]
    flagged.sort(key=lambda index: (-scores[index], index))
    explained = flagged[: request.max_flagged]
    contributions = _contributions(forest, matrix, scores, explained, features)

    records = [
        _flagged_record(table, features, rank, index, float(scores[index]),
                        contributions[position], request.top_features)
        for position, (rank, index) in enumerate(enumerate(explained, start=1))
    ]
    threshold = (
        request.threshold if request.threshold is not None
        else float(scores[flagged[-1]])
    )
    return ScoreAnomaliesOutput(
        records=table.rows,
        numeric_features=table.numeric_names,
        categorical_features=table.categorical_names,
        flagged_by=flagged_by,
        threshold=round(threshold, 4),
        flagged_count=len(flagged),
        scores=[round(float(score), 4) for score in scores],
        flagged=records,
        flagged_truncated=len(flagged) > len(explained),
        summary=_summary(table.rows, flagged_by, request, records, len(flagged)),
    )


def _encode(table: FeatureTable) -> tuple[Matrix, list[_Feature]]:
    blocks: list[Matrix] = []
    features: list[_Feature] = []
    offset = 0
    for column, name in enumerate(table.numeric_names):
        values = table.numeric[:, column]
        features.append(_Feature(
            name, "numeric", slice(offset, offset + 1), float(np.median(values)),
            np.array([np.median(values)]),
        ))
        offset += 1
    if table.numeric_names:
        blocks.append(table.numeric)
    if table.categorical_names:
        encoder = OneHotEncoder(sparse_output=False, dtype=np.float64)
        blocks.append(encoder.fit_transform(table.categorical))
        for column, name in enumerate(table.categorical_names):
            levels = [str(level) for level in encoder.categories_[column]]
            counts = Counter(str(value) for value in table.categorical[:, column])
            typical, _ = min(counts.items(), key=lambda item: (-item[1], item[0]))
            encoding = np.array([1.0 if level == typical else 0.0 for level in levels])
            features.append(_Feature(
                name, "categorical", slice(offset, offset + len(levels)), typical, encoding,
            ))
            offset += len(levels)
    return np.hstack(blocks), features


def _contributions(
    forest: IsolationForest, matrix: Matrix, scores: NDArray[np.float64],
    rows: list[int], features: list[_Feature],
) -> list[list[float]]:
    """For each row, the score drop when each feature takes its typical value."""
    if not rows:
        return []
    variants = np.repeat(matrix[rows], len(features), axis=0)
    for position in range(len(rows)):
        for number, feature in enumerate(features):
            variants[position * len(features) + number, feature.columns] = (
                feature.typical_encoding
            )
    rescored = -forest.score_samples(variants).reshape(len(rows), len(features))
    return [
        [float(scores[row] - rescored[position, number]) for number in range(len(features))]
        for position, row in enumerate(rows)
    ]


def _flagged_record(
    table: FeatureTable, features: list[_Feature], rank: int, index: int, score: float,
    drops: list[float], top: int,
) -> FlaggedRecord:
    contributions = [
        _contribution(table, feature, index, drop) for feature, drop in zip(features, drops,
                                                                               strict=True)
    ]
    contributions.sort(key=lambda item: (-item.contribution, item.feature))
    chosen = contributions[:top]
    reasons = [_reason(item) for item in chosen if item.contribution > 0]
    record_id = table.ids[index] if table.ids is not None else None
    named = f"record {index}" + (f" (id {record_id})" if record_id is not None else "")
    why = ", ".join(reasons) or "an unusual combination of values; no single feature explains it"
    return FlaggedRecord(
        rank=rank, index=index, id=record_id, score=round(score, 4), top_features=chosen,
        summary=f"#{rank} {named}, score {score:.2f}: {why}",
    )


def _contribution(table: FeatureTable, feature: _Feature, index: int, drop: float) -> Contribution:
    if feature.kind == "numeric":
        values = table.numeric[:, table.numeric_names.index(feature.name)]
        value = float(values[index])
        median = float(np.median(values))
        spread = MAD_TO_SD * float(np.median(np.abs(values - median))) or float(values.std())
        z = (value - median) / spread if spread > 0 else 0.0
        return Contribution(
            feature=feature.name, kind="numeric", value=round_significant(value),
            typical=round_significant(median), contribution=round(drop, 4),
            robust_z=round(z, 2),
        )
    labels = table.categorical[:, table.categorical_names.index(feature.name)]
    label = str(labels[index])
    return Contribution(
        feature=feature.name, kind="categorical", value=label, typical=feature.typical_value,
        contribution=round(drop, 4), value_share=round(float((labels == label).mean()), 4),
    )


def _reason(item: Contribution) -> str:
    if item.kind == "numeric" and isinstance(item.value, float) and isinstance(
        item.typical, float
    ):
        return (
            f"{item.feature}={readable(item.value)} vs typical {readable(item.typical)} "
            f"({signed(item.robust_z or 0.0)} robust sd)"
        )
    return f"{item.feature}={item.value} ({percent(item.value_share or 0.0)} of records)"


def _summary(
    rows: int, flagged_by: str, request: ScoreAnomaliesInput, flagged: list[FlaggedRecord],
    count: int,
) -> str:
    how = (
        f"score at least {request.threshold}" if flagged_by == "threshold"
        else f"the top {percent(request.contamination)} by score"
    )
    head = f"{count} of {rows} records flagged as anomalous ({how})."
    if not flagged:
        return head
    lines = [record.summary for record in flagged[:SUMMARY_LINES]]
    if count > len(lines):
        lines.append(f"... and {count - len(lines)} more")
    return "\n".join([head, *lines])
