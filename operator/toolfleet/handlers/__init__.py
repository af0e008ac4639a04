"""kopf handlers: importing this package registers them."""

from toolfleet.handlers import catalog, operator, toolservice

__all__ = ["catalog", "operator", "toolservice"]
