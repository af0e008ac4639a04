"""Events (runtime/kube.py emit_event, record_event): a repeated Event is counted, not written
again, and recording one never holds up the caller."""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from toolfleet.runtime import kube

OBJECT = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
          "metadata": {"name": "x", "namespace": "ns", "uid": "u1"}}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Any]]:
    seen: list[tuple[str, str, Any]] = []

    def call(method: str, path: str, body: Any = None, **_: Any) -> Any:
        seen.append((method, path, body))
        return {"metadata": {"name": f"x.{len(seen)}"}}

    monkeypatch.setattr(kube, "_call", call)
    monkeypatch.setattr(kube, "_recorded", {})
    return seen


def test_the_same_event_again_raises_the_count_of_the_first(
        calls: list[tuple[str, str, Any]]) -> None:
    for _ in range(3):
        kube.record_event(OBJECT, "Normal", "AnalysisInconclusive", "no canary traffic")
    kube.record_event(OBJECT, "Warning", "AnalysisInconclusive", "paused")

    assert [method for method, _, _ in calls] == ["POST", "PATCH", "PATCH", "POST"]
    assert calls[1][1].endswith("/events/x.1") and calls[2][2]["count"] == 3


def test_a_counted_event_that_is_gone_is_written_anew(
        calls: list[tuple[str, str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    kube.record_event(OBJECT, "Normal", "R", "m")
    real = kube._call

    def expired(method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        if method == "PATCH":
            raise kube.ApiError(404, "not found")
        return real(method, path, body, **kwargs)

    monkeypatch.setattr(kube, "_call", expired)
    kube.record_event(OBJECT, "Normal", "R", "m")
    assert [method for method, _, _ in calls] == ["POST", "POST"]


def test_emitting_returns_at_once_and_the_events_follow_in_order(
        monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    sent: list[str] = []

    def call(method: str, path: str, body: Any = None, **_: Any) -> Any:
        release.wait(10)  # an API server that answers only when told
        sent.append(body["reason"])
        return {"metadata": {"name": f"x.{len(sent)}"}}

    monkeypatch.setattr(kube, "_call", call)
    monkeypatch.setattr(kube, "_recorded", {})
    for reason in ("First", "Second", "Third"):
        kube.emit_event(OBJECT, "Normal", reason, "m")
    assert sent == []  # the caller did not wait for the API server

    release.set()
    deadline = time.monotonic() + 10
    while len(sent) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sent == ["First", "Second", "Third"]


def test_an_event_the_full_queue_cannot_take_is_dropped_and_counted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "_events", queue.Queue(1))
    monkeypatch.setattr(kube, "_start_sender", lambda: None)  # nothing drains it
    before = REGISTRY.get_sample_value("toolfleet_events_dropped_total") or 0.0

    kube.emit_event(OBJECT, "Normal", "Kept", "m")
    kube.emit_event(OBJECT, "Normal", "Dropped", "m")

    assert REGISTRY.get_sample_value("toolfleet_events_dropped_total") == before + 1
    assert kube._events.get_nowait()[2] == "Kept"
