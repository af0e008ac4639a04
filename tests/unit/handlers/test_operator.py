"""Operator-wide handlers (handlers/operator.py): which objects the watches hold."""

from __future__ import annotations

from toolfleet.handlers.operator import read_index, watches


def test_the_watched_namespaces_are_kopfs_own_patterns() -> None:
    assert watches([], "anything")  # no pattern: every namespace
    assert watches(["fleet"], "fleet") and not watches(["fleet"], "team-a")
    # The e2e session operator's pattern: every namespace but ro-*.
    assert watches(["!ro-*"], "t-1234") and not watches(["!ro-*"], "ro-5678")
    assert watches(["team-a", "team-b"], "team-b")


def test_an_index_gives_the_one_object_of_a_name_or_none() -> None:
    indices = {"Deployment": {("team-a", "search"): [{"metadata": {"name": "search"}}]}}
    assert read_index(indices, ("Deployment", "team-a", "search")) == \
        {"metadata": {"name": "search"}}
    assert read_index(indices, ("Deployment", "team-a", "other")) is None
