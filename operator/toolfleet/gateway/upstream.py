"""Calls to the services: pooled connections, the tool's deadline, bounded retries.

An HTTP-protocol tool is `POST <address><path>` with the arguments as the JSON
body; an MCP-protocol tool is `tools/call` of its service's own name over
streamable HTTP at `<address>/mcp`, with the gateway as an MCP client (the
official SDK's `Client`). Either way the answer becomes a `ToolResult` that
keeps `structuredContent` and `isError` as the service sent them.

The whole call, retries included, must end within the tool's
`timeoutSeconds`. Only tools annotated `idempotentHint` or `readOnlyHint` are
tried again, at most `RetryPolicy.max_attempts` times, and only when nothing
reached the tool or it said so itself (a connection error or a 503), with
exponential backoff and full jitter, preferring an address not tried yet.
Every other tool is called once: a second call could act twice.

HTTP tools are called with aiohttp's client: on a trivial tool it spends a
quarter or less of the CPU per call that httpx does (httpx's pool checks and
pure-Python HTTP parsing cost over a millisecond per call), and the gateway's
own CPU is what bounds its calls/s (hack/bench/bench_gateway.py).
"""

from __future__ import annotations

import json
import logging
import random
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import LATEST_MODERN_VERSION, MODERN_PROTOCOL_VERSIONS

from toolfleet.api.toolservice import Protocol
from toolfleet.catalog.model import CatalogTool, Endpoint
from toolfleet.gateway.backends import AddressResolver, BackendPool, Overloaded
from toolfleet.gateway.results import Outcome, ToolResult, failed

log = logging.getLogger(__name__)

# Most bytes of a tool's answer quoted in an error the model reads.
MAX_ERROR_TEXT = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and how far apart, an idempotent call is tried again."""

    max_attempts: int = 3
    base_backoff_seconds: float = 0.025
    max_backoff_seconds: float = 1.0

    def backoff(self, attempt: int, chance: float) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 0): full jitter
        over an exponentially growing, capped window. `chance` is uniform in [0, 1)."""
        window = min(self.max_backoff_seconds, self.base_backoff_seconds * 2.0 ** attempt)
        return window * chance


def env_proxy(url: str) -> str | None:
    """The proxy HTTP_PROXY or HTTPS_PROXY (either case) names for `url`'s scheme; None when
    there is none or NO_PROXY exempts its host, as httpx and curl read them."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme)
    if proxy is None or urllib.request.proxy_bypass(parts.netloc, proxies):
        return None
    return proxy


def retries_allowed(tool: CatalogTool) -> bool:
    """Whether a tool may be called again after a failure: annotated idempotent or read-only."""
    hints = tool.annotations
    return hints is not None and bool(hints.idempotent_hint or hints.read_only_hint)


@dataclass(frozen=True)
class _Attempt:
    result: ToolResult
    # Whether the failure is safe and worth another try (nothing reached the tool, or
    # it said 503).
    retryable: bool = False


@dataclass(frozen=True)
class UpstreamCall:
    """What one call to a service needs: the tool, the revision, the arguments, headers
    to pass on (W3C traceparent and tracestate)."""

    tool: CatalogTool
    endpoint: Endpoint
    arguments: dict[str, Any]
    headers: Mapping[str, str]


class Upstream:
    """The gateway's connections to every service, and the call policy."""

    def __init__(self, pool: BackendPool, resolver: AddressResolver,
                 retry: RetryPolicy | None = None, max_connections: int = 512,
                 connect_timeout_seconds: float = 5.0) -> None:
        self.pool = pool
        self.resolver = resolver
        self.retry = retry or RetryPolicy()
        self._max_connections = max_connections
        self._connect_timeout = connect_timeout_seconds
        # Made on first use: an aiohttp session belongs to the event loop it is made on.
        self._http: aiohttp.ClientSession | None = None
        # Per address, the proxy of the environment (env_proxy), read once: aiohttp's own
        # trust_env reads the environment and ~/.netrc again on every call.
        self._proxies: dict[str, str | None] = {}
        # The MCP SDK speaks httpx2; one pooled transport serves every MCP service.
        self._mcp_transport = httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_connections=max_connections,
                                 max_keepalive_connections=max_connections))
        self._mcp_connect_timeout = connect_timeout_seconds
        # Per address: the protocol revision to pin once one call negotiated it, so
        # later calls to a 2026-07-28 server skip the discovery round trip.
        self._mcp_modes: dict[str, str] = {}
        self.retries = 0  # attempts after the first, for tests and the metric

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._mcp_transport.aclose()

    def _http_session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0,
                                               keepalive_timeout=5.0),
                # No overall timeout: each call runs under its tool's deadline instead.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
                # Calls of different consumers share the session: no cookie may carry over.
                cookie_jar=aiohttp.DummyCookieJar())
        return self._http

    def _proxy(self, address: str) -> str | None:
        # HTTP_PROXY, HTTPS_PROXY and NO_PROXY apply, as they do to the MCP client.
        if address not in self._proxies:
            self._proxies[address] = env_proxy(address)
        return self._proxies[address]

    async def call(self, call: UpstreamCall) -> tuple[ToolResult, int]:
        """Call the tool on its revision; the result and how many attempts it took.

        Never raises for a failure of the service: a timeout, refused
        connection, 5xx or overload becomes an error `ToolResult` (outcome
        error) with a message the model can read; a 4xx or an MCP error a
        tool_error. Overload carries `retry_after`.
        """
        tool = call.tool
        attempts_allowed = self.retry.max_attempts if retries_allowed(tool) else 1
        addresses = list(self.resolver.addresses(call.endpoint))
        tried: list[str] = []
        result: ToolResult | None = None
        with anyio.move_on_after(tool.timeout_seconds) as deadline:
            for attempt in range(attempts_allowed):
                try:
                    address = self.pool.acquire(addresses, avoid=frozenset(tried))
                except Overloaded as error:
                    return (result or failed(
                        f"{tool.name}: every backend of {tool.namespace}/{tool.service} is busy "
                        f"({error}); try again in {error.retry_after:g}s",
                        retry_after=error.retry_after)), len(tried)
                tried.append(address)
                if attempt:
                    self.retries += 1
                outcome = await self._attempt_on(address, call, deadline)
                result = outcome.result
                if not (outcome.retryable and attempt + 1 < attempts_allowed):
                    return result, len(tried)
                await anyio.sleep(self.retry.backoff(attempt, random.random()))
        if deadline.cancelled_caught:
            return failed(f"{tool.name} did not answer within its timeout of "
                          f"{tool.timeout_seconds}s (timeoutSeconds); the call was cancelled"
                          ), len(tried)
        assert result is not None  # the loop runs at least once and returns or sets it
        return result, len(tried)

    async def _attempt_on(self, address: str, call: UpstreamCall,
                          deadline: anyio.CancelScope) -> _Attempt:
        """One try on one address, its in-flight slot held for exactly as long."""
        verdict: bool | None = None
        try:
            if call.tool.protocol == Protocol.mcp:
                outcome = await self._call_mcp(address, call)
            else:
                outcome = await self._call_http(address, call)
            verdict = outcome.result.outcome != Outcome.error
            return outcome
        finally:
            if verdict is None and deadline.cancel_called:
                verdict = False  # the tool's deadline passed: the backend was too slow
            if self.pool.release(address, verdict):
                log.warning("ejected %s after %d failures in a row", address,
                            self.pool.limits.consecutive_failures)

    async def _call_http(self, address: str, call: UpstreamCall) -> _Attempt:
        url = address.rstrip("/") + call.tool.path
        body = json.dumps(call.arguments, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **call.headers}
        try:
            async with self._http_session().post(url, data=body, headers=headers,
                                                 proxy=self._proxy(address),
                                                 allow_redirects=False) as response:
                content = await response.read()
        except aiohttp.ClientError as error:
            # Nothing is known to have reached the tool only for a failed connect.
            connect = isinstance(error, aiohttp.ClientConnectorError
                                 | aiohttp.ConnectionTimeoutError)
            what = "could not reach" if connect else "lost the connection to"
            return _Attempt(failed(f"{call.tool.name}: {what} {address} before an answer "
                                   f"({type(error).__name__})"), retryable=connect)
        return _http_result(call.tool, response.status, content)

    async def _call_mcp(self, address: str, call: UpstreamCall) -> _Attempt:
        url = address.rstrip("/") + call.tool.path
        # A light client per call over the shared pool: the headers differ per call.
        http_client = httpx2.AsyncClient(
            transport=self._mcp_transport, headers=dict(call.headers),
            timeout=httpx2.Timeout(None, connect=self._mcp_connect_timeout))
        mode: Any = self._mcp_modes.get(address, "auto")
        try:
            async with Client(streamable_http_client(url, http_client=http_client),
                              mode=mode, cache=None) as client:
                answer = await client.call_tool(call.tool.service_tool_name, call.arguments)
                version = client.session.protocol_version
        except MCPError as error:
            return _Attempt(failed(f"{call.tool.name}: the service refused the call: "
                                   f"{error.message} (MCP error {error.code})",
                                   outcome=Outcome.tool_error))
        except Exception as error:  # the SDK wraps transport errors in exception groups
            return _mcp_transport_failure(call.tool, address, error)
        self._mcp_modes[address] = (LATEST_MODERN_VERSION if version in MODERN_PROTOCOL_VERSIONS
                                    else "legacy")
        wire = answer.model_dump(by_alias=True, exclude_none=True, mode="json")
        return _Attempt(ToolResult(
            content=list(wire.get("content") or []),
            structured_content=wire.get("structuredContent"),
            is_error=bool(wire.get("isError")),
            outcome=Outcome.tool_error if wire.get("isError") else Outcome.ok,
        ))


def _http_result(tool: CatalogTool, status: int, body: bytes) -> _Attempt:
    """An HTTP tool's answer as a result: 2xx ok, 4xx tool_error, 5xx error (503 retryable)."""
    text = body.decode(errors="replace")
    if 200 <= status < 300:
        try:
            parsed = json.loads(text) if text.strip() else None
        except ValueError:
            parsed = None
        structured = parsed if isinstance(parsed, dict) else None
        return _Attempt(ToolResult(content=[{"type": "text", "text": text}],
                                   structured_content=structured))
    quoted = text[:MAX_ERROR_TEXT]
    if 400 <= status < 500:
        return _Attempt(ToolResult(content=[{"type": "text", "text": quoted}], is_error=True,
                                   outcome=Outcome.tool_error))
    return _Attempt(failed(f"{tool.name} failed with HTTP {status}: {quoted}"),
                    retryable=status == 503)


def _mcp_transport_failure(tool: CatalogTool, address: str, error: Exception) -> _Attempt:
    leaves = _leaves(error)
    connect = [e for e in leaves if isinstance(e, httpx2.ConnectError | httpx2.ConnectTimeout)]
    unavailable = [e for e in leaves if isinstance(e, httpx2.HTTPStatusError)
                   and e.response.status_code == 503]
    known = connect or unavailable or [e for e in leaves
                                       if isinstance(e, httpx2.TransportError | OSError)]
    if not known:
        log.error("MCP call of %s at %s failed unexpectedly", tool.name, address,
                  exc_info=error)
    kind = ", ".join(sorted({type(e).__name__ for e in leaves}))
    return _Attempt(failed(f"{tool.name}: MCP call to {address} failed: {kind}"),
                    retryable=bool(connect or unavailable))


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in error.exceptions:
            found += _leaves(inner)
        return found
    return [error]
