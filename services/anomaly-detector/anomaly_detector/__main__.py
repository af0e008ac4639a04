"""`python -m anomaly_detector [--port N]`: serve the score_anomalies tool."""

from anomaly_detector.service import SERVICE
from toolfleet_service import run

raise SystemExit(run(SERVICE))
