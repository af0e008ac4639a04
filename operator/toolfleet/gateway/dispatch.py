"""One call from a caller to a tool, whatever the caller's protocol: look up, route, map the
arguments back, call, count, audit.

`/calls` and `/mcp` both end here, so a call is routed, measured and logged
the same way whichever door it came through.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from toolfleet.catalog.dialects.renames import arguments_from_renames
from toolfleet.catalog.formats.openai_arguments import arguments_from_strict
from toolfleet.catalog.model import CatalogTool, Endpoint
from toolfleet.gateway.metrics import GatewayMetrics
from toolfleet.gateway.names import CallFormat, CatalogIndex, index_catalog
from toolfleet.gateway.results import ToolResult
from toolfleet.gateway.routing import RevisionRouter, revision_label
from toolfleet.gateway.upstream import Upstream, UpstreamCall
from toolfleet.server.catalog import PublishedCatalog

audit = logging.getLogger("toolfleet.gateway.audit")

# W3C Trace Context (https://www.w3.org/TR/trace-context/#traceparent-header): version 00's
# form; a header that does not match is not passed on (the spec says not to propagate it).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_MAX_TRACESTATE = 512


class CatalogSource(Protocol):
    """Where the gateway reads catalogs: `toolfleet.server.catalog.CatalogStore` fits."""

    def published(self, name: str) -> PublishedCatalog | None:
        """The catalog as served now, or None."""
        ...


def trace_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The W3C trace context of an incoming request, to pass on to the service unchanged.

    `traceparent` when it is well formed, and `tracestate` only beside it.
    """
    parent = headers.get("traceparent", "").strip()
    if not _TRACEPARENT.match(parent) or parent.startswith("ff"):
        return {}
    passed = {"traceparent": parent}
    state = headers.get("tracestate", "")
    if state and len(state) <= _MAX_TRACESTATE:
        passed["tracestate"] = state
    return passed


@dataclass(frozen=True)
class CallRecord:
    """A finished call: its result and the revision that answered it."""

    result: ToolResult
    revision: str


class Dispatcher:
    """Looks tools up in the current catalogs and carries calls out."""

    def __init__(self, catalogs: CatalogSource, upstream: Upstream,
                 metrics: GatewayMetrics, router: RevisionRouter | None = None) -> None:
        self.catalogs = catalogs
        self.upstream = upstream
        self.metrics = metrics
        self.router = router or RevisionRouter()
        self._indexes: dict[str, CatalogIndex] = {}

    def index(self, name: str) -> CatalogIndex | None:
        """The lookup tables of catalog `name` as published now; None when it is not."""
        published = self.catalogs.published(name)
        if published is None:
            self._indexes.pop(name, None)
            return None
        cached = self._indexes.get(name)
        if cached is None or cached.catalog.hash != published.hash \
                or cached.catalog is not published.catalog:
            cached = self._indexes[name] = index_catalog(published.catalog)
        return cached

    def route(self, tool: CatalogTool, pin: str | None) -> Endpoint:
        """The revision that takes a call (see RevisionRouter.choose; raises RevisionNotServed)."""
        return self.router.choose(tool, pin)

    async def call(self, index: CatalogIndex, tool: CatalogTool, endpoint: Endpoint,
                   arguments: dict[str, Any], *, format: CallFormat,
                   headers: Mapping[str, str], consumer: str) -> CallRecord:
        """Carry out one call on `endpoint` and account for it.

        The arguments are mapped back first: property keys the format published
        renamed get the service's own keys (the mapping the canonical rendering
        publishes, `arguments_from_renames`), and OpenAI arguments of a tool
        rendered strict lose the nulls of absent optionals (`arguments_from_strict`). The call
        is counted in the metrics and written to the audit log (never its
        arguments). Never raises for a failure of the service.
        """
        dialect = tool.dialect(str(format))
        if dialect is not None and dialect.renames:
            arguments = arguments_from_renames(
                [entry.to_wire() for entry in dialect.renames], arguments)
        if format == CallFormat.openai and index.is_strict(tool):
            arguments = arguments_from_strict(tool.input_schema, arguments)
        revision = revision_label(endpoint)
        started = time.perf_counter()
        result, attempts = await self.upstream.call(UpstreamCall(
            tool=tool, endpoint=endpoint, arguments=arguments, headers=trace_headers(headers)))
        seconds = time.perf_counter() - started
        catalog = index.catalog.name
        self.metrics.record((catalog, tool.namespace, tool.service, tool.name, revision),
                            result.outcome, seconds, attempts)
        audit.info("consumer=%s catalog=%s tool=%s toolservice=%s/%s revision=%s outcome=%s "
                   "attempts=%d ms=%.1f", consumer, catalog, tool.name, tool.namespace,
                   tool.service, revision, result.outcome, attempts, seconds * 1000)
        return CallRecord(result=result, revision=revision)
