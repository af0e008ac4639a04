"""The anomaly-detector service: one tool, score_anomalies."""

from __future__ import annotations

from anomaly_detector import __version__
from anomaly_detector.models import ScoreAnomaliesInput, ScoreAnomaliesOutput
from anomaly_detector.scoring import score_anomalies
from toolfleet_service import ServiceDefinition, ToolDefinition, ToolHints

# Ordinary card payments and one that is not; scored once before the service reports ready.
EXAMPLE = {
    "records": [
        {"transaction_id": f"t{i}", "amount": 20.0 + (i * 7) % 30, "items": 1 + i % 3,
         "country": "NL"}
        for i in range(19)
    ] + [{"transaction_id": "t19", "amount": 4800.0, "items": 40, "country": "KY"}],
    "id_field": "transaction_id",
}

SCORE_ANOMALIES = ToolDefinition(
    name="score_anomalies",
    title="Score anomalies",
    description=(
        "Score transactions or events for how anomalous they are (isolation forest; 0..1, "
        "higher is stranger), flag the most anomalous ones, and say which features make each "
        "flagged record stand out (e.g. 'amount=4,800 vs typical 34.5 (+401.8 robust sd)'). Use "
        "it to find outliers, suspicious transactions or unusual events in a batch of "
        "records. Send one flat object per record: numbers become numeric features and "
        "strings categorical ones, or name them in numeric_features and categorical_features; "
        "name the identifier in id_field. Records are flagged by contamination (the expected "
        "fraction of anomalies, default 5%) or by a score threshold. The same input and seed "
        "always give the same scores."
    ),
    input_model=ScoreAnomaliesInput,
    output_model=ScoreAnomaliesOutput,
    run=score_anomalies,
    example=EXAMPLE,
    hints=ToolHints(read_only=True, destructive=False, idempotent=True, open_world=False),
    timeout_seconds=60,
)

SERVICE = ServiceDefinition(
    name="anomaly-detector",
    version=__version__,
    description="Scores records for anomaly and explains what makes the outliers stand out.",
    tools=(SCORE_ANOMALIES,),
)
