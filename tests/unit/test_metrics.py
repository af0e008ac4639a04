"""The operator's metrics as a scrape shows them (operator/toolfleet/metrics.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, generate_latest

from toolfleet.metrics import ROLLOUTS
from toolfleet.status.toolservice import rollout_phases


@pytest.fixture
def fleet() -> Iterator[list[dict[str, object]]]:
    bodies: list[dict[str, object]] = []
    ROLLOUTS.count = lambda: rollout_phases(bodies)
    try:
        yield bodies
    finally:
        ROLLOUTS.count = None


def scraped() -> str:
    return generate_latest(REGISTRY).decode()


def test_rollout_phases_are_counted_from_the_fleet_at_each_scrape(
        fleet: list[dict[str, object]]) -> None:
    fleet.append({"status": {"rollout": {"phase": "Progressing"}}})
    assert 'toolfleet_rollouts{phase="Progressing"} 1.0' in scraped()
    # A later change shows at the next scrape, with no event handler in between.
    fleet.append({"status": {"rollout": {"phase": "Progressing"}}})
    fleet.append({"status": {}})
    text = scraped()
    assert 'toolfleet_rollouts{phase="Progressing"} 2.0' in text
    assert 'toolfleet_rollouts{phase="Paused"} 0.0' in text


def test_before_the_watch_starts_no_phase_is_reported() -> None:
    assert "toolfleet_rollouts{" not in scraped()
