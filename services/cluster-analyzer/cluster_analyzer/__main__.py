"""`python -m cluster_analyzer [--port N]`: serve the segment_customers tool."""

from cluster_analyzer.service import SERVICE
from toolfleet_service import run

raise SystemExit(run(SERVICE))
