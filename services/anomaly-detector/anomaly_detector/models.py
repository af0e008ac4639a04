"""Input and output of the score_anomalies tool; their JSON Schemas are the tool's schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolfleet_service.tabular import FeatureNames, Records
from toolfleet_service.tool import ToolModel


class ScoreAnomaliesInput(ToolModel):
    """Arguments of score_anomalies."""

    records: Records
    numeric_features: FeatureNames | None = Field(
        default=None,
        description="Keys to treat as numbers, e.g. amount. With neither this nor "
        "categorical_features, every key but id_field is used: numeric where most values are "
        "numbers, categorical otherwise.",
    )
    categorical_features: FeatureNames | None = Field(
        default=None,
        description="Keys to treat as categories (one-hot encoded), e.g. country or merchant.",
    )
    id_field: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="Key that identifies a record (e.g. transaction_id): never a feature; "
        "flagged records carry it.",
    )
    contamination: float = Field(
        default=0.05, gt=0, le=0.5,
        description="Expected fraction of anomalies: the highest-scoring ceil(contamination x "
        "records) records are flagged. Ignored when threshold is given.",
    )
    threshold: float | None = Field(
        default=None, gt=0, le=1,
        description="Flag every record scoring at least this (scores run 0..1; about 0.5 is "
        "ordinary, above about 0.6 is unusual) instead of a fixed fraction.",
    )
    max_flagged: int = Field(
        default=100, ge=1, le=1000,
        description="Most flagged records to explain in the answer (highest scores first).",
    )
    top_features: int = Field(
        default=3, ge=1, le=10, description="Contributing features to report per flagged record."
    )
    trees: int = Field(
        default=100, ge=10, le=1000,
        description="Trees in the isolation forest: more gives steadier scores, slower.",
    )
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1,
        description="Random seed; the same input and seed give the same scores.",
    )


class Contribution(ToolModel):
    """How much one feature makes a flagged record anomalous.

    Method (leave one feature out): the feature's value in the record is
    replaced by its typical value (the median of a numeric feature, the most
    common value of a categorical one) and the record is scored again; the
    contribution is how much the score drops. Features that alone make a record
    odd contribute most; two features that are only odd together may each show
    a small contribution.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    value: float | str = Field(description="The record's value.")
    typical: float | str = Field(
        description="Median (numeric) or most common value (categorical) over all records."
    )
    contribution: float = Field(
        description="Drop in anomaly score when the value is replaced by the typical one."
    )
    robust_z: float | None = Field(
        default=None,
        description="Numeric features: (value - median) / (1.4826 x median absolute "
        "deviation), a deviation in robust standard deviations.",
    )
    value_share: float | None = Field(
        default=None,
        description="Categorical features: fraction of all records with this value.",
    )


class FlaggedRecord(ToolModel):
    """A record flagged as anomalous, with why."""

    rank: int = Field(description="1 = most anomalous.")
    index: int = Field(description="Position of the record in the records sent.")
    id: str | int | float | bool | None = Field(
        default=None, description="The record's id_field value, if an id_field was given."
    )
    score: float = Field(description="Anomaly score, 0..1; higher is more anomalous.")
    top_features: list[Contribution] = Field(description="Contributing features, largest first.")
    summary: str = Field(description="Why the record stands out, in one line.")


class ScoreAnomaliesOutput(ToolModel):
    """Result of score_anomalies."""

    records: int = Field(description="Number of records scored.")
    numeric_features: list[str]
    categorical_features: list[str]
    flagged_by: Literal["contamination", "threshold"]
    threshold: float = Field(
        description="Score at and above which records are flagged (the given threshold, or "
        "the lowest flagged score under contamination)."
    )
    flagged_count: int = Field(description="Number of records flagged.")
    scores: list[float] = Field(
        description="Anomaly score of each record (0..1, higher is more anomalous), in the "
        "order the records were sent."
    )
    flagged: list[FlaggedRecord] = Field(
        description="Flagged records, most anomalous first, at most max_flagged."
    )
    flagged_truncated: bool = Field(
        description="More records were flagged than max_flagged; only the top ones are listed."
    )
    summary: str = Field(description="The result in plain language.")
