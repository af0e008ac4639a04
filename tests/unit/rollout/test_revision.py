"""Revisions of a ToolService's pod-affecting spec (operator/toolfleet/rollout/revision.py)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.rollout.revision import REVISION_LENGTH, revision_of

PROPERTIES = settings(max_examples=50, deadline=None)


def body(**sections: Any) -> dict[str, Any]:
    """A ToolService spec in camelCase with `sections` replacing the defaults shown."""
    base: dict[str, Any] = {
        "version": "1.4.0",
        "image": "registry.example/forecaster:1.4.0",
        "env": [{"name": "LOG_LEVEL", "value": "info"}],
        "tools": [{"name": "forecast", "description": "Forecast a time series.",
                   "inputSchema": {"type": "object",
                                   "properties": {"series": {"type": "array"},
                                                  "horizon": {"type": "integer"}},
                                   "required": ["series"]}}],
    }
    base.update(copy.deepcopy(sections))
    return base


def revision(**sections: Any) -> str:
    return revision_of(ToolServiceSpec.model_validate(body(**sections)))


def reversed_keys(value: Any) -> Any:
    """The same JSON with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


BASE = revision()


def test_a_revision_is_a_short_hex_label_value() -> None:
    assert re.fullmatch(f"[0-9a-f]{{{REVISION_LENGTH}}}", BASE)


def test_the_revision_of_a_spec_does_not_change_between_releases() -> None:
    # Pods carry their revision; if the hashing changed, upgrading the operator
    # would restart every ToolService's pods. Change this value only on purpose.
    assert BASE == "199d78b2d5"


def test_key_order_does_not_change_the_revision() -> None:
    assert revision_of(ToolServiceSpec.model_validate(reversed_keys(body()))) == BASE


def test_spelling_out_a_default_does_not_change_the_revision() -> None:
    # The API server fills in defaults; the spec it stores must keep its revision.
    assert revision(port=8080, healthPath="/healthz", resources={"cpu": "250m",
                                                                 "memory": "256Mi"}) == BASE


def test_a_null_the_api_server_prunes_does_not_change_the_revision() -> None:
    # A manifest's `default: null` in a tool schema is gone from the stored copy; the
    # revision `toolfleet render` shows must be the one the cluster then gets.
    schema = copy.deepcopy(body()["tools"][0]["inputSchema"])
    schema["properties"]["horizon"]["default"] = None
    tools = [{**body()["tools"][0], "inputSchema": schema}]
    assert revision(tools=tools) == BASE


@pytest.mark.parametrize(("what", "sections"), [
    ("image", {"image": "registry.example/forecaster:1.4.1"}),
    ("version", {"version": "1.4.1"}),
    ("env value", {"env": [{"name": "LOG_LEVEL", "value": "debug"}]}),
    ("env added", {"env": [{"name": "LOG_LEVEL", "value": "info"},
                           {"name": "WORKERS", "value": "4"}]}),
    ("env from a secret", {"env": [{"name": "LOG_LEVEL",
                                    "secretKeyRef": {"name": "s", "key": "k"}}]}),
    ("port", {"port": 9000}),
    ("args", {"args": ["--fast"]}),
    ("resources", {"resources": {"memory": "1Gi"}}),
    ("model", {"model": {"uri": "s3://models/forecaster"}}),
    ("gpu", {"gpu": {"count": 1}}),
    ("protocol", {"protocol": "mcp"}),
    ("health path", {"healthPath": "/live"}),
    ("tool description", {"tools": [{**body()["tools"][0], "description": "Forecast."}]}),
    ("tool schema", {"tools": [{**body()["tools"][0], "inputSchema": {"type": "object"}}]}),
    ("tool added", {"tools": [*body()["tools"], {"name": "backtest", "description": "B.",
                                                  "inputSchema": {"type": "object"}}]}),
])
def test_a_pod_affecting_change_is_a_new_revision(what: str, sections: dict[str, Any]) -> None:
    assert revision(**sections) != BASE, what


@pytest.mark.parametrize(("what", "sections"), [
    ("autoscaling", {"autoscaling": {"minReplicas": 2, "maxReplicas": 10,
                                     "targetCPUUtilization": 50}}),
    ("access", {"access": {"exposure": "public", "allowedCallers": [
        {"namespaceSelector": {"matchLabels": {"team": "router"}}}]}}),
    ("rollout", {"rollout": {"strategy": "canary", "steps": [{"weight": 5}, {"weight": 50}],
                             "allowBreakingSchemaChange": True}}),
])
def test_how_pods_are_scaled_reached_or_rolled_out_is_not_a_new_revision(
        what: str, sections: dict[str, Any]) -> None:
    assert revision(**sections) == BASE, what


@PROPERTIES
@given(low=st.integers(1, 50), extra=st.integers(0, 50), cpu=st.integers(1, 100),
       exposure=st.sampled_from(["public", "internal", "private"]),
       strategy=st.sampled_from(["canary", "rolling"]), first=st.integers(1, 50))
def test_no_autoscaling_access_or_rollout_setting_changes_the_revision(
        low: int, extra: int, cpu: int, exposure: str, strategy: str, first: int) -> None:
    assert revision(
        autoscaling={"minReplicas": low, "maxReplicas": low + extra,
                     "targetCPUUtilization": cpu},
        access={"exposure": exposure},
        rollout={"strategy": strategy, "steps": [{"weight": first}, {"weight": first + 10}]},
    ) == BASE


@PROPERTIES
@given(tag=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True),
       other=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,20}", fullmatch=True))
def test_different_images_have_different_revisions(tag: str, other: str) -> None:
    first = revision(image=f"registry.example/forecaster:{tag}")
    second = revision(image=f"registry.example/forecaster:{other}")
    assert (first == second) == (tag == other)


def test_env_order_matters_because_later_variables_may_refer_to_earlier_ones() -> None:
    forward = [{"name": "A", "value": "1"}, {"name": "B", "value": "$(A)"}]
    assert revision(env=forward) != revision(env=list(reversed(forward)))
