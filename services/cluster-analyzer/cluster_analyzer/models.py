"""Input and output of the segment_customers tool; their JSON Schemas are the tool's schemas."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from toolfleet_service.tabular import FeatureNames, Records
from toolfleet_service.tool import ToolModel

MAX_K = 20


class SegmentCustomersInput(ToolModel):
    """Arguments of segment_customers."""

    records: Records
    numeric_features: FeatureNames | None = Field(
        default=None,
        description="Keys to treat as numbers (scaled to unit variance). With neither this "
        "nor categorical_features, every key but id_field is used: numeric where most values "
        "are numbers, categorical otherwise.",
    )
    categorical_features: FeatureNames | None = Field(
        default=None,
        description="Keys to treat as categories (one-hot encoded), e.g. channel or region.",
    )
    id_field: str | None = Field(
        default=None, min_length=1, max_length=128,
        description="Key that identifies a record (e.g. customer_id): never a feature; "
        "segments list representative ids.",
    )
    k: int | None = Field(
        default=None, ge=2, le=MAX_K,
        description="Number of segments. Omit to choose it by silhouette score between "
        "k_min and k_max.",
    )
    k_min: int = Field(default=2, ge=2, le=MAX_K, description="Fewest segments to try.")
    k_max: int = Field(default=8, ge=2, le=MAX_K, description="Most segments to try.")
    top_features: int = Field(
        default=3, ge=1, le=10, description="Distinguishing features to report per segment."
    )
    seed: int = Field(
        default=0, ge=0, le=2**32 - 1,
        description="Random seed; the same input and seed give the same segments.",
    )


class NumericCentroid(ToolModel):
    """A numeric feature's mean in a segment, in the data's own units."""

    feature: str
    mean: float
    overall_mean: float


class CategoricalCentroid(ToolModel):
    """A categorical feature's most common value in a segment."""

    feature: str
    value: str = Field(description="Most common value in the segment.")
    share: float = Field(description="Fraction of the segment with that value.")


class DistinguishingFeature(ToolModel):
    """How a segment differs from all records on one feature.

    The measure is the standardized deviation of the segment's mean from the
    overall mean: (segment mean - overall mean) / overall standard deviation. A
    categorical value is measured the same way as a 0/1 indicator, so the two
    kinds rank on one scale.
    """

    feature: str
    kind: Literal["numeric", "categorical"]
    deviation_sd: float = Field(
        description="Standardized deviation of the segment mean from the overall mean."
    )
    value: str | None = Field(
        default=None, description="The over-represented value (categorical features)."
    )
    segment_mean: float = Field(
        description="Segment mean (numeric) or share of the segment with the value."
    )
    overall_mean: float = Field(
        description="Overall mean (numeric) or share of all records with the value."
    )
    phrase: str = Field(description="The difference in words, e.g. 'high annual_spend (+1.8 sd)'.")


class Segment(ToolModel):
    """One segment of the records."""

    segment: int = Field(description="Segment number, 1 = largest.")
    size: int
    share: float = Field(description="Fraction of all records in this segment.")
    numeric_centroid: list[NumericCentroid]
    categorical_centroid: list[CategoricalCentroid]
    distinguishing_features: list[DistinguishingFeature] = Field(
        description="The features that most set the segment apart, strongest first."
    )
    representatives: list[str | int | float | bool] = Field(
        description="The records nearest the segment's centre: their id_field values, or "
        "their positions in records when no id_field was given."
    )
    summary: str = Field(description="The segment in one plain-language line.")


class KScore(ToolModel):
    """Silhouette score of one candidate number of segments."""

    k: int
    silhouette: float


class SegmentCustomersOutput(ToolModel):
    """Result of segment_customers."""

    k: int = Field(description="Number of segments found.")
    k_chosen_by: Literal["caller", "silhouette"]
    silhouette: float = Field(
        description="Silhouette score of the segmentation (-1..1; above 0.5 is clear structure)."
    )
    k_scores: list[KScore] = Field(
        description="Silhouette score of each k tried (empty when the caller chose k)."
    )
    records: int = Field(description="Number of records segmented.")
    numeric_features: list[str]
    categorical_features: list[str]
    segments: list[Segment] = Field(description="Segments, largest first.")
    assignments: list[int] = Field(
        description="Segment number of each record, in the order the records were sent."
    )
    summary: str = Field(description="Every segment in plain language, one line each.")
