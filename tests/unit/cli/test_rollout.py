"""`toolfleet rollout`: the control annotation it sets and the status it reads, on a fake API."""

from __future__ import annotations

from typing import Any

import pytest

from toolfleet.rollout.control import CONTROL_ANNOTATION, ControlAction
from toolfleet.runtime import kube

from .fixtures import toolfleet


class FakeApi:
    """ToolServices by (namespace, name), and the annotations patched onto them."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.patched: list[tuple[str, str, dict[str, str | None]]] = []
        self.failure: kube.ApiError | None = None

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        assert kind == "ToolService"
        if self.failure:
            raise self.failure
        return self.objects.get((namespace or "", name))

    def patch_metadata(self, kind: str, namespace: str | None, name: str,
                       annotations: dict[str, str | None]) -> dict[str, Any]:
        self.patched.append((namespace or "", name, dict(annotations)))
        return {}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(kube, "get", fake.get)
    monkeypatch.setattr(kube, "patch_metadata", fake.patch_metadata)
    monkeypatch.setattr(kube, "current_namespace", lambda: "models")
    return fake


@pytest.mark.parametrize("action", [str(a) for a in ControlAction])
def test_each_action_sets_the_control_annotation(api: FakeApi, action: str) -> None:
    api.objects["models", "analyzer"] = {}

    result = toolfleet("rollout", action, "analyzer")

    assert result.exit_code == 0, result.output
    ((namespace, name, annotations),) = api.patched
    assert (namespace, name) == ("models", "analyzer")
    verb, _, stamp = annotations[CONTROL_ANNOTATION].partition(":")
    # A new stamp each time, so asking twice for the same action is seen twice.
    assert verb == action and stamp.isdigit()
    assert f"toolservice models/analyzer: {action} requested" in result.stdout


def test_a_missing_toolservice_is_named_and_left_alone(api: FakeApi) -> None:
    result = toolfleet("rollout", "pause", "nope", "-n", "team-a")

    assert result.exit_code == 1
    assert "Error: toolservice team-a/nope not found" in result.stderr
    assert api.patched == []


def test_an_api_error_is_reported_without_a_traceback(api: FakeApi) -> None:
    api.failure = kube.ApiError(403, "forbidden: cannot get toolservices")

    result = toolfleet("rollout", "status", "analyzer")

    assert result.exit_code == 1
    assert "Error: toolservice models/analyzer: forbidden: cannot get toolservices" \
        in result.stderr


def test_status_says_where_the_rollout_stands(api: FakeApi) -> None:
    api.objects["models", "analyzer"] = {"status": {
        "stableVersion": "1.0.0", "stableRevision": "abc",
        "rollout": {"phase": "Progressing", "version": "1.1.0", "revision": "def",
                    "step": 1, "weight": 25, "message": "waiting 60s"}}}

    result = toolfleet("rollout", "status", "analyzer")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "stable:  1.0.0 (revision abc)",
        "rollout: Progressing version 1.1.0 (revision def), step 2, weight 25%",
        "         waiting 60s"]


def test_status_without_a_rollout(api: FakeApi) -> None:
    api.objects["models", "analyzer"] = {"status": {"stableVersion": "1.0.0"}}
    assert toolfleet("rollout", "status", "analyzer").stdout.splitlines() == [
        "stable:  1.0.0 (revision -)", "rollout: none"]
