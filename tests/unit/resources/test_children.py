"""Every child of a ToolService (operator/toolfleet/resources/children.py)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.children import build_children
from toolfleet.resources.meta import REVISION_LABEL
from toolfleet.settings import Settings

from .fixtures import UID, accesses, autoscalings, owner, owner_of, selects, specs, wire

PROPERTIES = settings(max_examples=50, deadline=None)
SETTINGS = Settings()
KINDS = ["ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler",
         "PodDisruptionBudget", "NetworkPolicy"]


def children(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    built = build_children(owner_of(ToolServiceSpec.model_validate(body)), SETTINGS)
    return {child["kind"]: child for child in built}


def reversed_keys(value: Any) -> Any:
    """The same JSON with every mapping's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_the_service_account_comes_first_so_pods_can_start() -> None:
    kinds = [child["kind"] for child in build_children(owner(), SETTINGS)]
    assert kinds == KINDS


def test_every_child_is_owned_labelled_and_in_the_services_namespace() -> None:
    for child in build_children(owner(), SETTINGS):
        meta = child["metadata"]
        assert meta["namespace"] == "team-a", child["kind"]
        assert [(r["kind"], r["uid"], r["controller"]) for r in meta["ownerReferences"]] == [
            ("ToolService", UID, True)], child["kind"]
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "toolfleet"
        assert meta["labels"]["app.kubernetes.io/instance"] == "forecaster"


def test_the_service_account_mounts_no_token() -> None:
    account = children(wire())["ServiceAccount"]
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["name"] == children(wire())["Deployment"]["spec"]["template"][
        "spec"]["serviceAccountName"]


def test_selectors_of_the_children_select_the_deployments_pods() -> None:
    found = children(wire())
    pod_labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert selects({"matchLabels": found["Service"]["spec"]["selector"]}, pod_labels)
    assert selects(found["PodDisruptionBudget"]["spec"]["selector"], pod_labels)
    assert selects(found["NetworkPolicy"]["spec"]["podSelector"], pod_labels)
    assert found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == (
        found["Deployment"]["metadata"]["name"])


@PROPERTIES
@given(body=specs())
def test_equal_specs_give_identical_children(body: dict[str, Any]) -> None:
    # A resync that observes nothing new must apply nothing new.
    first = build_children(owner_of(ToolServiceSpec.model_validate(body)), SETTINGS)
    again = build_children(owner_of(ToolServiceSpec.model_validate(
        reversed_keys(copy.deepcopy(body)))), SETTINGS)
    assert first == again


@PROPERTIES
@given(body=specs(), scaling=autoscalings, access=accesses)
def test_autoscaling_and_access_changes_leave_the_deployment_alone(
        body: dict[str, Any], scaling: dict[str, Any], access: dict[str, Any]) -> None:
    before = children(body)["Deployment"]
    after = children({**body, "autoscaling": scaling, "access": access})["Deployment"]
    assert after == before


@PROPERTIES
@given(body=specs(), first=st.integers(1, 40), pause=st.integers(0, 600))
def test_rollout_settings_leave_the_deployment_alone(body: dict[str, Any], first: int,
                                                     pause: int) -> None:
    before = children(body)["Deployment"]
    rollout = {"strategy": "canary",
               "steps": [{"weight": first, "pauseSeconds": pause}, {"weight": first + 50}]}
    assert children({**body, "rollout": rollout})["Deployment"] == before


def test_an_image_change_rolls_the_pods_under_the_same_selector() -> None:
    before = children(wire(image="registry.example/forecaster:1"))["Deployment"]
    after = children(wire(image="registry.example/forecaster:2"))["Deployment"]
    old_labels = before["spec"]["template"]["metadata"]["labels"]
    new_labels = after["spec"]["template"]["metadata"]["labels"]
    assert old_labels[REVISION_LABEL] != new_labels[REVISION_LABEL]
    assert before["spec"]["selector"] == after["spec"]["selector"]


def test_an_autoscaling_change_reaches_only_the_autoscaler() -> None:
    before = children(wire())
    after = children(wire(autoscaling={"minReplicas": 2, "maxReplicas": 10}))
    changed = sorted(kind for kind in KINDS if before[kind] != after[kind])
    assert changed == ["HorizontalPodAutoscaler"]


def test_an_access_change_reaches_only_the_network_policy() -> None:
    before = children(wire())
    after = children(wire(access={"exposure": "public"}))
    changed = sorted(kind for kind in KINDS if before[kind] != after[kind])
    assert changed == ["NetworkPolicy"]
