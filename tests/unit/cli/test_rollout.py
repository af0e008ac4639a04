"""`toolfleet rollout`: the control annotation it sets and the status it reads, on a fake API."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.resources.fixtures import wire

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.rollout.control import CONTROL_ANNOTATION, ControlAction
from toolfleet.rollout.revision import revision_of
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

    result = toolfleet("rollout", action, "analyzer", "--wait", "0")

    assert result.exit_code == 0, result.output
    ((namespace, name, annotations),) = api.patched
    assert (namespace, name) == ("models", "analyzer")
    verb, _, stamp = annotations[CONTROL_ANNOTATION].partition(":")
    # A new stamp each time, so asking twice for the same action is seen twice.
    assert verb == action and stamp.isdigit()
    assert f"toolservice models/analyzer: {action} requested" in result.stdout


def test_a_refused_promote_says_refused_with_the_operators_numbers(
        api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    api.objects["models", "analyzer"] = {"metadata": {"uid": "u1"}}

    def record(kind: str, namespace: str | None, name: str,
               annotations: dict[str, str | None]) -> dict[str, Any]:
        api.objects["models", "analyzer"]["metadata"]["annotations"] = {
            "toolfleet.io/rollout-control-applied": annotations[CONTROL_ANNOTATION]}
        return {}

    monkeypatch.setattr(kube, "patch_metadata", record)
    monkeypatch.setattr(kube, "list_objects", lambda kind, namespace: [{
        "involvedObject": {"uid": "u1"}, "reason": "PromotionRefused",
        "lastTimestamp": "2999-01-01T00:00:00Z",
        "message": "toolfleet.io/rollout-control promote refused: 0 of 1 canary pod(s) ready "
                   "at step 1/2 (30%)"}])

    result = toolfleet("rollout", "promote", "analyzer")

    assert result.exit_code == 1
    # The operator's reason, said once.
    assert "analyzer: promote refused: 0 of 1 canary pod(s) ready at step 1/2 (30%)" \
        in result.stderr
    assert result.stderr.count("refused") == 1


def test_an_applied_control_says_where_the_rollout_now_stands() -> None:
    from toolfleet.cli.rollout import control_verdict

    body = {"metadata": {"uid": "u1"}, "status": {"rollout": {"phase": "Paused"}}}
    old = {"involvedObject": {"uid": "u1"}, "reason": "PromotionRefused",
           "lastTimestamp": "2026-01-01T00:00:00Z", "message": "earlier"}
    assert control_verdict(body, [old], "2026-03-01T00:00:00Z") == (
        "applied", "rollout Paused")


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


def test_status_says_how_a_gpu_canary_finds_room(api: FakeApi) -> None:
    api.objects["models", "analyzer"] = {"status": {
        "stableVersion": "1.0.0", "stableRevision": "abc",
        "rollout": {"phase": "Progressing", "version": "1.1.0", "revision": "def",
                    "step": 0, "weight": 25, "capacity": {
                        "mode": "swap", "stableReplicas": 3, "canaryReplicas": 1,
                        "fullReplicas": 4, "effectiveWeight": 25,
                        "message": "0 free nvidia.com/gpu on 1 matching node(s)"}}}}

    result = toolfleet("rollout", "status", "analyzer")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2:] == [
        "pods:    swap: stable 3 (of 4), canary 1; 25% of the pods run the canary",
        "         0 free nvidia.com/gpu on 1 matching node(s)"]


def release(version: str) -> dict[str, Any]:
    """A canary spec of three steps at `version`, and its revision."""
    return wire(version=version, image=f"registry.example/analyzer:{version}",
                rollout={"strategy": "canary",
                         "steps": [{"weight": 25}, {"weight": 50}, {"weight": 75}]})


def revision(spec: dict[str, Any]) -> str:
    return revision_of(ToolServiceSpec.model_validate(spec))


def test_status_counts_the_steps_and_says_a_pause_for_room_once(api: FakeApi) -> None:
    why = "no room to surge 1 canary pod(s) beside stable 4"
    new = release("1.1.0")
    api.objects["models", "analyzer"] = {"spec": new, "status": {
        "stableVersion": "1.0.0", "stableRevision": "abc", "rollout": {
            "phase": "Paused", "version": "1.1.0", "revision": revision(new), "step": 0,
            "weight": 25, "message": f"paused: {why}", "capacity": {
                "mode": "surge", "stableReplicas": 4, "canaryReplicas": 0,
                "fullReplicas": 4, "effectiveWeight": 0, "message": why}}}}

    lines = toolfleet("rollout", "status", "analyzer").stdout.splitlines()

    assert lines[1] == (f"rollout: Paused version 1.1.0 (revision {revision(new)}), "
                        "step 1 of 3, weight 25%")
    assert sum(why in line for line in lines) == 1, lines


def test_status_of_an_aborted_rollout_says_when_the_spec_was_reverted(api: FakeApi) -> None:
    old, new = release("1.0.0"), release("1.1.0")
    record = {"phase": "Aborted", "version": "1.1.0", "revision": revision(new), "step": 1,
              "weight": 0, "message": "aborted by rollout-control; resume to retry from "
                                      "step 1, or revert the spec"}
    api.objects["models", "analyzer"] = {"spec": old, "status": {
        "stableVersion": "1.0.0", "stableRevision": revision(old), "rollout": record}}

    lines = toolfleet("rollout", "status", "analyzer").stdout.splitlines()

    # Not "step 2 of 3": the spec's steps are no longer this record's.
    assert lines[1] == f"rollout: Aborted version 1.1.0 (revision {revision(new)}), step 2, " \
                       "weight 0%"
    assert lines[-1] == "         the spec asks for the stable revision again: nothing rolls out"

    api.objects["models", "analyzer"]["spec"] = new  # asked for again: resume applies
    assert "nothing rolls out" not in toolfleet("rollout", "status", "analyzer").stdout


def test_status_of_a_promoted_rollout_says_the_step_it_was_promoted_at(api: FakeApi) -> None:
    new = release("1.1.0")
    api.objects["models", "analyzer"] = {"spec": new, "status": {
        "stableVersion": "1.1.0", "stableRevision": revision(new), "rollout": {
            "phase": "Promoted", "version": "1.1.0", "revision": revision(new), "step": 0,
            "weight": 100, "message": "promoted by rollout-control"}}}

    lines = toolfleet("rollout", "status", "analyzer").stdout.splitlines()

    # Not "step 1 of 3, weight 100%", which reads as a first step at full weight.
    assert lines[1] == (f"rollout: Promoted version 1.1.0 (revision {revision(new)}), "
                        "promoted at step 1 of 3")


def test_status_without_a_rollout(api: FakeApi) -> None:
    api.objects["models", "analyzer"] = {"status": {"stableVersion": "1.0.0"}}
    assert toolfleet("rollout", "status", "analyzer").stdout.splitlines() == [
        "stable:  1.0.0 (revision -)", "rollout: none"]
