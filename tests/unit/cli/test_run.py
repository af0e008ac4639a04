"""`toolfleet run`: how it starts kopf, and what it hands the handlers through kopf's memo."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

from toolfleet.api.toolcatalog import CollisionStrategy
from toolfleet.cli.run import resync_peering
from toolfleet.runtime.peering import Peering
from toolfleet.settings import Settings

from .fixtures import toolfleet


@pytest.fixture
def kopf_run(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Record what `run` would start kopf with, instead of starting it."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(kopf, "run", lambda **kwargs: calls.append(kwargs))
    return calls


def test_standalone_by_default(kopf_run: list[dict[str, Any]]) -> None:
    assert toolfleet("run").exit_code == 0

    (call,) = kopf_run
    assert call["standalone"] is True
    assert call["peering_name"] is None and call["priority"] is None
    assert call["clusterwide"] is True and call["namespaces"] == []


def test_peering_as_the_chart_runs_it(kopf_run: list[dict[str, Any]]) -> None:
    result = toolfleet("run", "--peering", "--peering-name", "tf-toolfleet", "-n", "team-a")

    assert result.exit_code == 0, result.output
    (call,) = kopf_run
    assert (call["standalone"], call["peering_name"]) == (False, "tf-toolfleet")
    assert (call["clusterwide"], call["namespaces"]) == (False, ["team-a"])
    assert call["settings"].peering.lifetime == 60


def test_replicas_without_a_priority_do_not_tie(kopf_run: list[dict[str, Any]]) -> None:
    for _ in range(5):
        toolfleet("run", "--peering")
    priorities = [call["priority"] for call in kopf_run]
    assert all(isinstance(p, int) and p >= 1 for p in priorities)
    assert len(set(priorities)) == len(priorities)


def test_peering_is_configurable_from_the_environment(kopf_run: list[dict[str, Any]]) -> None:
    result = toolfleet("run", env={
        "TOOLFLEET_PEERING": "true", "TOOLFLEET_PEERING_NAME": "ha",
        "TOOLFLEET_PEERING_PRIORITY": "200", "TOOLFLEET_PEERING_LIFETIME_SECONDS": "10"})

    assert result.exit_code == 0, result.output
    (call,) = kopf_run
    assert (call["standalone"], call["peering_name"], call["priority"]) == (False, "ha", 200)
    assert call["settings"].peering.lifetime == 10


def test_a_lifetime_too_short_to_renew_is_refused(kopf_run: list[dict[str, Any]]) -> None:
    result = toolfleet("run", "--peering", "--peering-lifetime", "2")
    assert result.exit_code == 2
    assert "Invalid value for '--peering-lifetime'" in result.stderr
    assert "2 is not in the range x>=5" in result.stderr
    assert kopf_run == []


def test_the_settings_are_read_once_and_handed_to_the_handlers(
        kopf_run: list[dict[str, Any]]) -> None:
    env = {"TOOLFLEET_CLUSTER_DOMAIN": "corp.example",
           "TOOLFLEET_DEFAULT_COLLISION_STRATEGY": "reject", "TOOLFLEET_HTTP_PORT": "9000"}
    result = toolfleet("run", env=env)

    assert result.exit_code == 0, result.output
    (call,) = kopf_run
    memo = call["memo"]
    assert isinstance(memo, kopf.Memo)
    assert memo.settings == Settings.from_env(env)
    assert memo.settings.default_collision_strategy is CollisionStrategy.reject


def test_a_standalone_operator_has_no_peering_to_consult(
        kopf_run: list[dict[str, Any]]) -> None:
    toolfleet("run")
    (call,) = kopf_run
    assert call["memo"].peering is None
    assert call["identity"] is None


def test_a_peering_replica_tells_the_handlers_who_it_is(
        kopf_run: list[dict[str, Any]]) -> None:
    result = toolfleet("run", "--peering", "--peering-name", "ha", "--priority", "7")

    assert result.exit_code == 0, result.output
    (call,) = kopf_run
    assert call["memo"].peering == Peering(name="ha", namespace=None,
                                           identity=str(call["identity"]), priority=7)


def test_a_peering_replica_of_one_namespace_consults_its_kopfpeering(
        kopf_run: list[dict[str, Any]]) -> None:
    toolfleet("run", "--peering", "-n", "team-a")
    (call,) = kopf_run
    peering = call["memo"].peering
    assert (peering.namespace, peering.priority) == ("team-a", call["priority"])


@pytest.mark.parametrize("namespaces", [("team-a", "team-b"), ("team-*",), ("!kube-system",)])
def test_no_single_peering_object_means_none_to_consult(namespaces: tuple[str, ...]) -> None:
    assert resync_peering(namespaces, "toolfleet", "replica-1", 5) is None


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("TOOLFLEET_HTTP_PORT", "abc", "Error: TOOLFLEET_HTTP_PORT must be an integer (got 'abc')"),
    ("TOOLFLEET_DEFAULT_COLLISION_STRATEGY", "merge",
     "Error: TOOLFLEET_DEFAULT_COLLISION_STRATEGY is 'merge'; use one of reject, prefix"),
])
def test_a_bad_setting_is_a_usage_error_naming_the_variable(
        kopf_run: list[dict[str, Any]], variable: str, value: str, message: str) -> None:
    result = toolfleet("run", env={variable: value})

    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert kopf_run == []
