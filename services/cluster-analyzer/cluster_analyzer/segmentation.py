"""Customer segmentation: k-means on scaled numbers and one-hot categories, then described.

Pure computation, no I/O: `segment_customers` takes the validated input and
returns the report, deterministically for a given seed.

How it works:
1. Numeric features are standardized (mean 0, sd 1) so that no feature wins by
   its units; categorical features are one-hot encoded, scaled so that a
   different category counts as much as one standard deviation.
2. k-means (k-means++ starts, a fixed number of restarts, seeded) runs for the
   caller's k, or for each k in k_min..k_max, keeping the k with the best
   silhouette score (the mean, over records, of how much closer a record is to
   its own segment than to the next one; computed on a seeded sample of at most
   SILHOUETTE_SAMPLE records so large inputs stay fast).
3. Each segment is described in the data's own units: the mean of each numeric
   feature, the most common value of each categorical one, and the features
   that most distinguish it, ranked by the standardized deviation of the
   segment mean from the overall mean (a categorical value counts as a 0/1
   indicator, so both kinds share one scale).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.cluster import KMeans  # type: ignore[import-untyped]
from sklearn.metrics import silhouette_score  # type: ignore[import-untyped]
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # type: ignore[import-untyped]

from cluster_analyzer.models import (
    CategoricalCentroid,
    DistinguishingFeature,
    KScore,
    NumericCentroid,
    Segment,
    SegmentCustomersInput,
    SegmentCustomersOutput,
)
from toolfleet_service.errors import ToolInputError
from toolfleet_service.tabular import FeatureTable, build_feature_table
from toolfleet_service.text import percent, round_significant, signed

KMEANS_RESTARTS = 4
# One-hot columns are scaled so that two records differing in one category are
# as far apart (distance 1) as two differing by one standard deviation in one
# number; unscaled 0/1 columns (distance sqrt 2) would let categories dominate.
CATEGORY_WEIGHT = 1 / np.sqrt(2)
SILHOUETTE_SAMPLE = 2000
REPRESENTATIVES = 3
# Deviations smaller than this are not worth a word in the summary.
NOTABLE_SD = 0.5

Matrix = NDArray[np.float64]
Labels = NDArray[np.int_]


@dataclass(frozen=True)
class _Fit:
    k: int
    labels: Labels
    centers: Matrix
    silhouette: float


def segment_customers(request: SegmentCustomersInput) -> SegmentCustomersOutput:
    """Segment the records and describe each segment."""
    table = build_feature_table(
        request.records, request.numeric_features, request.categorical_features,
        request.id_field,
    )
    matrix = _encode(table)
    candidates = _candidate_ks(request, table.rows, _distinct_rows(matrix))
    fits = [_fit(matrix, k, request.seed) for k in candidates]
    best = max(fits, key=lambda fit: fit.silhouette)  # max keeps the first (smallest k) on ties

    order = _segments_by_size(best.labels)
    assignments = [order[int(label)] for label in best.labels]
    segments = [
        _describe(table, matrix, best, label, number, request.top_features)
        for label, number in sorted(order.items(), key=lambda item: item[1])
    ]
    chosen_by = "caller" if request.k is not None else "silhouette"
    how = (
        f"k={best.k} set by the caller" if chosen_by == "caller"
        else f"k chosen by silhouette score over k={candidates[0]}..{candidates[-1]}"
    )
    summary = (
        f"{best.k} segments among {table.rows} customers ({how}; silhouette "
        f"{best.silhouette:.2f}).\n" + "\n".join(segment.summary for segment in segments)
    )
    return SegmentCustomersOutput(
        k=best.k,
        k_chosen_by=chosen_by,
        silhouette=round(best.silhouette, 4),
        k_scores=[] if chosen_by == "caller" else [
            KScore(k=fit.k, silhouette=round(fit.silhouette, 4)) for fit in fits
        ],
        records=table.rows,
        numeric_features=table.numeric_names,
        categorical_features=table.categorical_names,
        segments=segments,
        assignments=assignments,
        summary=summary,
    )


def _encode(table: FeatureTable) -> Matrix:
    blocks: list[Matrix] = []
    if table.numeric_names:
        blocks.append(StandardScaler().fit_transform(table.numeric))
    if table.categorical_names:
        encoder = OneHotEncoder(sparse_output=False, dtype=np.float64)
        blocks.append(encoder.fit_transform(table.categorical) * CATEGORY_WEIGHT)
    return np.hstack(blocks)


def _distinct_rows(matrix: Matrix) -> int:
    return int(np.unique(matrix, axis=0).shape[0])


def _candidate_ks(request: SegmentCustomersInput, rows: int, distinct: int) -> list[int]:
    # k segments need k distinct records, and a silhouette score needs fewer
    # segments than records.
    largest = min(distinct, rows - 1)
    if request.k is not None:
        if request.k > largest:
            raise ToolInputError.at(
                "k", f"k={request.k} segments need at least {request.k} distinct records and "
                f"{request.k + 1} records (got {distinct} distinct of {rows}); lower k or "
                "send more records",
            )
        return [request.k]
    if request.k_max < request.k_min:
        raise ToolInputError.at(
            "k_max", f"must be at least k_min ({request.k_min}), got {request.k_max}"
        )
    if largest < request.k_min:
        raise ToolInputError.at(
            "records", f"{rows} records with {distinct} distinct feature values are too few "
            f"for {request.k_min} segments; send at least {request.k_min + 1} records that "
            "differ",
        )
    return list(range(request.k_min, min(request.k_max, largest) + 1))


def _fit(matrix: Matrix, k: int, seed: int) -> _Fit:
    model = KMeans(n_clusters=k, n_init=KMEANS_RESTARTS, random_state=seed)
    labels: Labels = model.fit_predict(matrix)
    if len(np.unique(labels)) < 2:
        score = -1.0  # every record in one segment: the worst possible, never chosen
    else:
        rows = matrix.shape[0]
        sample = SILHOUETTE_SAMPLE if rows > SILHOUETTE_SAMPLE else None
        score = float(silhouette_score(matrix, labels, sample_size=sample, random_state=seed))
    return _Fit(k=k, labels=labels, centers=model.cluster_centers_, silhouette=score)


def _segments_by_size(labels: Labels) -> dict[int, int]:
    """k-means label -> segment number, 1 for the largest (ties: the lower label)."""
    sizes = Counter(int(label) for label in labels)
    ranked = sorted(sizes, key=lambda label: (-sizes[label], label))
    return {label: number for number, label in enumerate(ranked, start=1)}


def _describe(
    table: FeatureTable, matrix: Matrix, fit: _Fit, label: int, number: int, top: int
) -> Segment:
    members = fit.labels == label
    size = int(members.sum())
    share = size / table.rows

    numeric_centroid: list[NumericCentroid] = []
    distinctions: list[DistinguishingFeature] = []
    for column, name in enumerate(table.numeric_names):
        values = table.numeric[:, column]
        segment_mean, overall_mean = float(values[members].mean()), float(values.mean())
        numeric_centroid.append(NumericCentroid(
            feature=name, mean=round_significant(segment_mean),
            overall_mean=round_significant(overall_mean),
        ))
        spread = float(values.std())
        deviation = (segment_mean - overall_mean) / spread if spread > 0 else 0.0
        distinctions.append(DistinguishingFeature(
            feature=name, kind="numeric", deviation_sd=round(deviation, 3),
            segment_mean=round_significant(segment_mean),
            overall_mean=round_significant(overall_mean),
            phrase=f"{'high' if deviation >= 0 else 'low'} {name} ({signed(deviation)} sd)",
        ))

    categorical_centroid: list[CategoricalCentroid] = []
    for column, name in enumerate(table.categorical_names):
        labels = table.categorical[:, column]
        inside = Counter(str(value) for value in labels[members])
        common, count = min(inside.items(), key=lambda item: (-item[1], item[0]))
        categorical_centroid.append(
            CategoricalCentroid(feature=name, value=common, share=round(count / size, 4))
        )
        over = _most_over_represented(name, labels, members)
        if over is not None:
            distinctions.append(over)

    distinctions.sort(key=lambda item: (-abs(item.deviation_sd), item.feature))
    distinguishing = distinctions[:top]
    notable = [item.phrase for item in distinguishing if abs(item.deviation_sd) >= NOTABLE_SD]
    described = ", ".join(notable) or "close to the overall average on every feature"
    return Segment(
        segment=number,
        size=size,
        share=round(share, 4),
        numeric_centroid=numeric_centroid,
        categorical_centroid=categorical_centroid,
        distinguishing_features=distinguishing,
        representatives=_representatives(table, matrix, fit, label, members),
        summary=f"Segment {number} ({percent(share)} of customers): {described}",
    )


def _most_over_represented(
    name: str, values: NDArray[np.str_], members: NDArray[np.bool_]
) -> DistinguishingFeature | None:
    """The value of a categorical feature most over-represented in the segment, if any."""
    best: DistinguishingFeature | None = None
    best_deviation = 0.0
    for value in sorted(set(values.tolist())):
        indicator = values == value
        overall, inside = float(indicator.mean()), float(indicator[members].mean())
        if not 0 < overall < 1 or inside <= overall:
            continue
        deviation = (inside - overall) / float(np.sqrt(overall * (1 - overall)))
        if deviation <= best_deviation:
            continue
        best_deviation = deviation
        phrase = (
            f"mostly {name}={value} ({percent(inside)})" if inside >= 0.5
            else f"more {name}={value} ({percent(inside)} vs {percent(overall)} overall)"
        )
        best = DistinguishingFeature(
            feature=name, kind="categorical", value=value, deviation_sd=round(deviation, 3),
            segment_mean=round(inside, 4), overall_mean=round(overall, 4), phrase=phrase,
        )
    return best


def _representatives(
    table: FeatureTable, matrix: Matrix, fit: _Fit, label: int, members: NDArray[np.bool_]
) -> list[str | int | float | bool]:
    positions = np.flatnonzero(members)
    distances = np.linalg.norm(matrix[positions] - fit.centers[label], axis=1)
    nearest = positions[np.argsort(distances, kind="stable")[:REPRESENTATIVES]]
    if table.ids is not None:
        return [table.ids[int(position)] for position in nearest]
    return [int(position) for position in nearest]
