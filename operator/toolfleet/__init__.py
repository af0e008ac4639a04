"""toolfleet: a Kubernetes operator for fleets of specialist AI tool services."""

__version__ = "0.1.0"
