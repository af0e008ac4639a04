"""`toolfleet run`: how it starts kopf."""

from __future__ import annotations

from typing import Any

import kopf
import pytest

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
