"""anomaly-detector: a toolfleet service that scores records for anomaly and explains outliers."""

__version__ = "1.0.0"
