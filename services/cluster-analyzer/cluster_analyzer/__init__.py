"""cluster-analyzer: a toolfleet service that segments customer records and describes them."""

__version__ = "1.0.0"
