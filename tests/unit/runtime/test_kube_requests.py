"""Every request of runtime/kube.py is counted, and waits its turn under the rate limit.

A fake stands in for the kubernetes client's transport: what is checked is what
an operator's dashboard shows (toolfleet_api_requests_total by verb, resource
and code) and that no request leaves before the bucket lets it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from prometheus_client import REGISTRY
from tests.unit.runtime.test_ratelimit import Clock

from toolfleet.resources.meta import APPLIED_HASH_ANNOTATION
from toolfleet.runtime import kube
from toolfleet.runtime.cache import ObjectCache
from toolfleet.runtime.ratelimit import TokenBucket


class Response:
    def __init__(self, status: int, body: Any) -> None:
        self.status, self.reason = status, "answer"
        self._data = json.dumps(body).encode()
        self.response = self

    def read(self) -> bytes:
        return self._data

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._data + b"\n"


class FakeApi:
    """Answers each request with the next status of `statuses`; 0 is a connection refused."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.sent: list[tuple[str, str]] = []

    def param_serialize(self, method: str, path: str, **kwargs: Any) -> tuple[Any, ...]:
        query = "&".join(f"{k}={v}" for k, v in kwargs.get("query_params") or [])
        return method, f"{path}?{query}", kwargs.get("header_params"), kwargs.get("body"), None

    def call_api(self, method: str, url: str, **_: Any) -> Response:
        self.sent.append((method, url))
        status = self.statuses.pop(0)
        if status == 0:
            raise urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
        if "watch=true" in url:
            return Response(status, {"type": "ADDED", "object": {"metadata": {}}})
        return Response(status, {"metadata": {"name": "x"}, "items": []})


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    fake = FakeApi()
    monkeypatch.setattr(kube, "api_client", lambda: fake)
    monkeypatch.setattr(kube, "_limiter", None)
    monkeypatch.setattr(kube, "_cache", None)
    yield fake


def requests(verb: str, resource: str, code: str) -> float:
    return REGISTRY.get_sample_value(
        "toolfleet_api_requests_total",
        {"verb": verb, "resource": resource, "code": code}) or 0.0


def test_each_request_is_counted_by_verb_resource_and_answer(api: FakeApi) -> None:
    api.statuses = [200, 404, 200, 200, 200, 200, 0]
    before = {key: requests(*key) for key in [
        ("get", "deployments", "200"), ("get", "deployments", "404"),
        ("list", "configmaps", "200"), ("apply", "services", "200"),
        ("patch", "toolservices/status", "200"), ("watch", "pods", "200"),
        ("delete", "networkpolicies", "0")]}

    kube.get("Deployment", "team-a", "search")
    assert kube.get("Deployment", "team-a", "gone") is None
    kube.list_objects("ConfigMap", "toolfleet-system", "toolfleet.io/catalog")
    kube.apply({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "search", "namespace": "team-a"}}, "toolfleet")
    kube.patch_status("ToolService", "team-a", "search", {"replicas": 1})
    list(kube.watch_objects("Pod", "42"))
    with pytest.raises(urllib3.exceptions.HTTPError):
        kube.delete("NetworkPolicy", "team-a", "search")

    assert {key: requests(*key) - count for key, count in before.items()} == {
        key: 1.0 for key in before}


def test_no_request_leaves_before_the_bucket_lets_it(
        api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(kube, "_limiter", TokenBucket(10, 2, clock=clock, sleep=clock.sleep))
    api.statuses = [200] * 5

    for _ in range(4):
        kube.get("ServiceAccount", "team-a", "search")
    list(kube.watch_objects("ConfigMap", "7"))

    # Two at once, then one every 100 ms, the watch included.
    assert clock.slept == pytest.approx([0.1, 0.2, 0.3])
    assert len(api.sent) == 5


def test_events_wait_on_a_bucket_of_their_own_not_on_the_reconciles_tokens(
        api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    # client-go's event recorder is a client of its own: a fleet's Events must not
    # take the tokens its reconciles wait for, nor wait behind them.
    clock = Clock()
    monkeypatch.setattr(kube, "_limiter", TokenBucket(10, 1, clock=clock, sleep=clock.sleep))
    monkeypatch.setattr(kube, "_event_limiter", TokenBucket(10, 2, clock=clock,
                                                            sleep=clock.sleep))
    api.statuses = [200] * 3
    kube.get("ServiceAccount", "team-a", "search")
    involved = {"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "search", "namespace": "team-a", "uid": "u1"}}
    kube.record_event(involved, "Normal", "Tried", "first")
    kube.record_event(involved, "Normal", "Tried", "second")
    assert clock.slept == []  # the reconciles' single token went to the GET
    assert kube._limiter is not None and kube._event_limiter is not None
    assert kube._limiter.take() == pytest.approx(0.1)


def test_the_limit_is_set_for_the_whole_process_and_0_lifts_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kube, "_limiter", None)
    monkeypatch.setattr(kube, "_event_limiter", None)
    kube.limit_requests(50, 100)
    assert kube._limiter is not None
    assert (kube._limiter.qps, kube._limiter.burst) == (50, 100)
    assert kube._event_limiter is not None and kube._event_limiter is not kube._limiter
    assert (kube._event_limiter.qps, kube._event_limiter.burst) == (50, 100)

    kube.limit_requests(0, 100)
    assert kube._limiter is None and kube._event_limiter is None

    with pytest.raises(ValueError, match="qps must be 0"):
        kube.limit_requests(-1, 100)


def test_a_reconcile_reads_from_the_watches_and_sends_only_what_changed(
        api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    label = "toolfleet.io/toolservice"
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "search", "namespace": "team-a", "labels": {label: "search"}},
               "spec": {"ports": [{"port": 8080}]}}
    held = {("Service", "team-a", "search"): {**service, "metadata": {
        **service["metadata"], "resourceVersion": "7",
        "annotations": {APPLIED_HASH_ANNOTATION: kube.applied_hash(service)}}}}
    monkeypatch.setattr(kube, "_cache", ObjectCache(held.get, ["Service", "ConfigMap"],
                                                    lambda namespace: True, label))
    api.statuses = [200, 200, 200]

    assert kube.get("Service", "team-a", "search") is not None
    assert kube.get("Service", "team-a", "search-canary") is None
    assert kube.apply_if_changed(service, "toolfleet") is False  # unchanged: nothing sent
    assert api.sent == []

    canary = {**service, "metadata": {**service["metadata"], "name": "search-canary"}}
    assert kube.apply_if_changed(canary, "toolfleet") is True
    assert [method for method, _ in api.sent] == ["PATCH"]  # an apply, and no GET first

    # A ConfigMap of a catalog is no ToolService's child: the watches do not hold it.
    catalog = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "catalog", "namespace": "team-a",
                            "labels": {"toolfleet.io/catalog": "default"}}}
    kube.apply_if_changed(catalog, "toolfleet")
    assert [method for method, _ in api.sent] == ["PATCH", "GET", "PATCH"]
