"""Whatever a caller sends the gateway process, it answers 4xx (or a tool's answer), never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .gateway_harness import GatewayProcess, catalog_of, tiny_backend
from .test_gateway_faults import tiny_entry, tool

FUZZ = settings(max_examples=80, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "type", "name", "function", "arguments", "input", "args",
                         "functionCall", "jsonrpc", "method", "params", "echo", "tool_use"])
        | st.text(max_size=5), inner, max_size=4),
    max_leaves=15)
CALL_SHAPES = st.one_of(
    st.fixed_dictionaries({"id": st.text(max_size=5), "type": st.just("function"),
                           "function": st.fixed_dictionaries({
                               "name": st.sampled_from(["echo", "nope", ""]),
                               "arguments": st.text(max_size=20) | JSON.map(json.dumps)})}),
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": st.text(max_size=5),
                           "name": st.sampled_from(["echo", "nope"]), "input": JSON}),
    st.fixed_dictionaries({"name": st.sampled_from(["echo", "nope"]), "args": JSON}),
)
# h11 refuses to send a header value with whitespace at either end.
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126),
                      max_size=40).map(str.strip)


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    with tiny_backend("fuzz") as backend:
        catalog = catalog_of("lab.fuzz", [tiny_entry("tiny", backend.url, [
            tool("echo", "/tools/echo")])])
        with GatewayProcess([catalog]) as process, httpx.Client(base_url=process.url,
                                                                  timeout=30) as client:
            yield process.url
            # The process kept serving through every example.
            assert client.get("/healthz").status_code == 200


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400 and response.content:
        response.json()  # every error is JSON


@FUZZ
@given(format=st.sampled_from(["openai", "anthropic", "gemini", "mcp", "", "OPENAI"]),
       body=JSON | CALL_SHAPES | st.lists(CALL_SHAPES, max_size=3))
def test_calls_bodies(gateway: str, format: str, body: Any) -> None:
    response = httpx.post(f"{gateway}/v1/catalogs/lab.fuzz/calls", params={"format": format},
                          json=body, timeout=30)
    assert_answered(response)


@FUZZ
@given(raw=st.binary(max_size=200),
       content_type=st.sampled_from(["application/json", "text/plain", "", "x/y; charset=q"]))
def test_calls_raw_bytes(gateway: str, raw: bytes, content_type: str) -> None:
    response = httpx.post(f"{gateway}/v1/catalogs/lab.fuzz/calls?format=openai", content=raw,
                          headers={"content-type": content_type}, timeout=30)
    assert_answered(response)


@FUZZ
@given(path=st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                  exclude_characters="?#"), max_size=40),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
def test_paths_and_methods(gateway: str, path: str, method: str) -> None:
    for prefix in ("/", "/v1/catalogs/", "/mcp/"):
        response = httpx.request(method, f"{gateway}{prefix}{path}", timeout=30)
        assert_answered(response)


@FUZZ
@given(pin=HEADER_TEXT, trace=HEADER_TEXT, session=HEADER_TEXT, version=HEADER_TEXT,
       accept=st.sampled_from(["application/json, text/event-stream", "application/json",
                               "*/*", "text/html"]))
def test_headers(gateway: str, pin: str, trace: str, session: str, version: str,
                 accept: str) -> None:
    call = {"type": "tool_use", "id": "t", "name": "echo", "input": {}}
    response = httpx.post(f"{gateway}/v1/catalogs/lab.fuzz/calls?format=anthropic", json=call,
                          headers={"X-Toolfleet-Revision": pin, "traceparent": trace,
                                   "tracestate": trace}, timeout=30)
    assert_answered(response)
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    response = httpx.post(f"{gateway}/mcp/lab.fuzz", json=request, timeout=30,
                          headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": version,
                                   "Accept": accept, "X-Toolfleet-Revision": pin})
    assert_answered(response)


@FUZZ
@given(message=JSON | st.fixed_dictionaries({
    "jsonrpc": st.sampled_from(["2.0", "1.0"]), "id": st.integers() | st.text(max_size=4),
    "method": st.sampled_from(["tools/list", "tools/call", "initialize", "server/discover",
                               "ping", "nope"]),
    "params": JSON}),
       version=st.sampled_from(["2025-11-25", "2026-07-28", None]))
def test_json_rpc_messages(gateway: str, message: Any, version: str | None) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if version:
        headers["MCP-Protocol-Version"] = version
    response = httpx.post(f"{gateway}/mcp/lab.fuzz", json=message, headers=headers, timeout=30)
    assert_answered(response)
