"""The cluster-analyzer service: one tool, segment_customers."""

from __future__ import annotations

from cluster_analyzer import __version__
from cluster_analyzer.models import SegmentCustomersInput, SegmentCustomersOutput
from cluster_analyzer.segmentation import segment_customers
from toolfleet_service import ServiceDefinition, ToolDefinition, ToolHints

# Two plain groups of customers; the service segments them once before it reports ready.
EXAMPLE = {
    "records": [
        {"customer_id": f"c{i}", "annual_spend": spend, "visits": visits, "channel": channel}
        for i, (spend, visits, channel) in enumerate([
            (120.0, 2, "store"), (150.0, 3, "store"), (90.0, 1, "store"),
            (130.0, 2, "store"), (110.0, 2, "store"), (140.0, 3, "store"),
            (2400.0, 14, "online"), (2600.0, 16, "online"), (2500.0, 15, "online"),
            (2300.0, 13, "online"), (2700.0, 17, "online"), (2550.0, 15, "online"),
        ])
    ],
    "id_field": "customer_id",
}

SEGMENT_CUSTOMERS = ToolDefinition(
    name="segment_customers",
    title="Segment customers",
    description=(
        "Group customer records into segments (k-means) and describe each segment in plain "
        "language: its size and share, the average of each numeric feature, the most common "
        "value of each categorical feature, and the features that most set it apart (e.g. "
        "'high annual_spend (+1.8 sd), mostly channel=online (92%)'). Use it to find and "
        "explain customer segments or common purchasing behaviours. Send one flat object per "
        "customer: numbers become numeric features and strings categorical ones, or name them "
        "in numeric_features and categorical_features; name the identifier in id_field. The "
        "number of segments is chosen by silhouette score between k_min and k_max unless k "
        "is given. The same input and seed always give the same segments."
    ),
    input_model=SegmentCustomersInput,
    output_model=SegmentCustomersOutput,
    run=segment_customers,
    example=EXAMPLE,
    hints=ToolHints(read_only=True, destructive=False, idempotent=True, open_world=False),
    timeout_seconds=60,
)

SERVICE = ServiceDefinition(
    name="cluster-analyzer",
    version=__version__,
    description="Segments customer records and explains each segment.",
    tools=(SEGMENT_CUSTOMERS,),
)
