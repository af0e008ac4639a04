"""kopf handlers: importing this package registers them."""

from toolfleet.handlers import admission, catalog, indices, operator, toolservice

__all__ = ["admission", "catalog", "indices", "operator", "toolservice"]
