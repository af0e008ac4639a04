"""`python -m anomaly_detector [--port N]`: serve the score_anomalies tool."""

from toolfleet_service import run

from anomaly_detector.service import SERVICE

raise SystemExit(run(SERVICE))
