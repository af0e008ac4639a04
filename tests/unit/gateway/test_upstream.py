"""The call policy: which tools may be retried, and how long to wait between tries."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolfleet.gateway.upstream import RetryPolicy, env_proxy, retries_allowed

from .fixtures import catalog, entry, tool


def test_only_idempotent_or_read_only_tools_may_be_retried() -> None:
    built = catalog("x", entry("svc", "ns", [
        tool("plain"),
        tool("reader", annotations={"readOnlyHint": True}),
        tool("repeatable", annotations={"idempotentHint": True}),
        tool("writer", annotations={"readOnlyHint": False, "idempotentHint": False,
                                    "destructiveHint": True}),
    ]))
    assert {t.name: retries_allowed(t) for t in built.tools} == {
        "plain": False, "reader": True, "repeatable": True, "writer": False}


@given(st.integers(0, 20), st.floats(0, 1, exclude_max=True))
def test_backoff_is_jittered_within_a_doubling_capped_window(attempt: int, chance: float
                                                             ) -> None:
    policy = RetryPolicy(base_backoff_seconds=0.025, max_backoff_seconds=1.0)
    wait = policy.backoff(attempt, chance)
    assert 0 <= wait <= min(1.0, 0.025 * 2 ** attempt)
    assert policy.backoff(attempt, 0.0) == 0


def test_the_environment_proxy_applies_unless_no_proxy_exempts_the_host(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("http://tools.team-a.svc.cluster.local:8080") is None
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", ".svc.cluster.local,10.0.0.7")
    assert env_proxy("http://tools.team-a.svc.cluster.local:8080") is None
    assert env_proxy("http://10.0.0.7:8080") is None
    assert env_proxy("http://tools.example.com:8080") == "http://proxy.corp:3128"
    assert env_proxy("https://tools.example.com") is None  # HTTPS_PROXY is not set
