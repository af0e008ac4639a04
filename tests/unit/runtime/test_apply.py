"""How a reconcile's writes go (operator/toolfleet/runtime/apply.py).

A recorded fake stands in for `runtime.kube` here, and only for what the e2e
tests cannot provoke on demand: a conflict or an outage in the middle of a
reconcile's writes. Everything else about writing is checked against the real
API server in tests/e2e.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from toolfleet.api.toolservice import ToolServiceStatus
from toolfleet.reconcile.toolservice import Plan, Report
from toolfleet.runtime import apply, kube
from toolfleet.runtime.scheduler import Retry
from toolfleet.status.events import Event, EventType

TOOLSERVICE = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
               "metadata": {"name": "forecaster", "namespace": "team-a", "uid": "u"}}


def child(kind: str, name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": "team-a"}}


class FakeKube:
    """Records each call; answers from `live`, and fails the calls named in `failures`."""

    def __init__(self, failures: Mapping[tuple[str, str], int] | None = None,
                 live: Mapping[tuple[str, str], dict[str, Any]] | None = None) -> None:
        self.failures = dict(failures or {})
        self.live = dict(live or {})
        self.calls: list[tuple[str, str, str]] = []

    def _maybe_fail(self, verb: str, kind: str) -> None:
        status = self.failures.get((verb, kind))
        if status:
            raise kube.ApiError(status, f"{verb} {kind} failed with {status}")

    def apply_if_changed(self, obj: Mapping[str, Any], field_manager: str) -> bool:
        self.calls.append(("apply", obj["kind"], obj["metadata"]["name"]))
        self._maybe_fail("apply", obj["kind"])
        return True

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        self.calls.append(("get", kind, name))
        return self.live.get((kind, name))

    def delete(self, kind: str, namespace: str | None, name: str) -> bool:
        self.calls.append(("delete", kind, name))
        self._maybe_fail("delete", kind)
        return True

    def patch_status(self, kind: str, namespace: str | None, name: str,
                     status: Mapping[str, Any]) -> dict[str, Any]:
        self.calls.append(("patch_status", kind, name))
        self._maybe_fail("patch_status", kind)
        return {}

    def patch_metadata(self, kind: str, namespace: str | None, name: str,
                       annotations: Mapping[str, str | None]) -> dict[str, Any]:
        self.calls.append(("patch_metadata", kind, name))
        return {}

    def emit_event(self, involved: Mapping[str, Any], type_: str, reason: str,
                   message: str) -> None:
        self.calls.append(("event", type_, reason))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKube:
    recorder = FakeKube()
    for name in ("apply_if_changed", "get", "delete", "patch_status", "patch_metadata",
                 "emit_event"):
        monkeypatch.setattr(kube, name, getattr(recorder, name))
    return recorder


PLAN = Plan(children=[child("ServiceAccount", "forecaster"), child("Deployment", "forecaster"),
                      child("Service", "forecaster")],
            deletes=[("Deployment", "forecaster-canary")])


@pytest.mark.parametrize("status", [400, 403, 409, 422, 429, 500, 503])
def test_a_refused_child_is_reported_the_others_are_written_and_a_retry_is_due(
        fake: FakeKube, status: int) -> None:
    # Whether it may pass by itself (5xx, 409, 429) or waits on someone's change
    # (a quota's 403, a webhook's 400), the status must say so before any retry.
    fake.failures[("apply", "Service")] = status
    applied = apply.apply_children(TOOLSERVICE, PLAN, "toolfleet")
    assert applied.errors == [f"Service forecaster: apply Service failed with {status}"]
    assert applied.retry == applied.errors[0]
    assert ("apply", "Deployment", "forecaster") in fake.calls
    assert ("get", "Deployment", "forecaster-canary") in fake.calls


def test_every_failure_is_reported_not_only_the_first(fake: FakeKube) -> None:
    fake.failures[("apply", "Deployment")] = 500
    fake.failures[("apply", "Service")] = 403
    applied = apply.apply_children(TOOLSERVICE, PLAN, "toolfleet")
    assert applied.errors == ["Deployment forecaster: apply Deployment failed with 500",
                              "Service forecaster: apply Service failed with 403"]


def test_no_failure_no_retry(fake: FakeKube) -> None:
    assert apply.apply_children(TOOLSERVICE, PLAN, "toolfleet").retry is None


def test_the_stable_deployment_is_read_back_after_it_was_written(fake: FakeKube) -> None:
    fake.live[("Deployment", "forecaster")] = {"status": {"readyReplicas": 1}}
    applied = apply.apply_children(TOOLSERVICE, PLAN, "toolfleet")
    assert applied.stable == {"status": {"readyReplicas": 1}}


def test_only_children_that_exist_are_deleted(fake: FakeKube) -> None:
    apply.apply_children(TOOLSERVICE, PLAN, "toolfleet")
    assert not any(verb == "delete" for verb, _, _ in fake.calls)
    fake.live[("Deployment", "forecaster-canary")] = {}
    apply.apply_children(TOOLSERVICE, PLAN, "toolfleet")
    assert ("delete", "Deployment", "forecaster-canary") in fake.calls


def test_status_then_annotations_then_events(fake: FakeKube) -> None:
    report = Report(status=ToolServiceStatus(), annotations={"a": "b"},
                    events=[Event(EventType.warning, "ApplyFailed", "Service: quota")])
    apply.write_report(TOOLSERVICE, report)
    assert fake.calls == [("patch_status", "ToolService", "forecaster"),
                          ("patch_metadata", "ToolService", "forecaster"),
                          ("event", "Warning", "ApplyFailed")]


def test_nothing_to_say_writes_nothing(fake: FakeKube) -> None:
    apply.write_report(TOOLSERVICE, Report(status=None))
    assert fake.calls == []


def test_a_service_deleted_meanwhile_ends_the_reconcile_quietly(fake: FakeKube) -> None:
    fake.failures[("patch_status", "ToolService")] = 404
    apply.write_report(TOOLSERVICE, Report(status=ToolServiceStatus(), events=[
        Event(EventType.normal, "ReplicasReady", "Ready=True")]))
    assert fake.calls == [("patch_status", "ToolService", "forecaster")]


def test_a_status_write_that_may_pass_is_retried(fake: FakeKube) -> None:
    fake.failures[("patch_status", "ToolService")] = 503
    with pytest.raises(Retry):
        apply.write_report(TOOLSERVICE, Report(status=ToolServiceStatus()))
