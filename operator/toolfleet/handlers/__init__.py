"""kopf handlers: importing this package registers them."""

from toolfleet.handlers import catalog, indices, operator, toolservice

__all__ = ["catalog", "indices", "operator", "toolservice"]
