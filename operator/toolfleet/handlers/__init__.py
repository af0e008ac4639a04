"""kopf handlers: importing this package registers them."""

from toolfleet.handlers import operator, toolservice

__all__ = ["operator", "toolservice"]
