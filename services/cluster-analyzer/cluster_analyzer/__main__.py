"""`python -m cluster_analyzer [--port N]`: serve the segment_customers tool."""

from toolfleet_service import run

from cluster_analyzer.service import SERVICE

raise SystemExit(run(SERVICE))
