"""Every child of a ToolService (operator/toolfleet/resources/children.py)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.children import Tracks, build_children, retired_children, steady
from toolfleet.resources.meta import REVISION_LABEL, Owner
from toolfleet.resources.revisions import read_revisions
from toolfleet.rollout.revision import revision_of
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


# -- rollouts: tracks, revisions, traffic ---------------------------------------------

STABLE_IMAGE = "registry.example/forecaster:1.4.0"
CANARY_IMAGE = "registry.example/forecaster:1.5.0"
STABLE_SPEC = ToolServiceSpec.model_validate(wire(version="1.4.0", image=STABLE_IMAGE))


def canary_owner(**rollout: Any) -> Owner:
    """A ToolService with a canary rollout, whose spec is now version 1.5.0."""
    return owner(version="1.5.0", image=CANARY_IMAGE, rollout={"strategy": "canary", **rollout})


def canary_tracks(svc: Owner, stable_spec: ToolServiceSpec | None = STABLE_SPEC,
                  replicas: int = 2, weight: int = 30) -> Tracks:
    return Tracks(stable_spec=stable_spec, stable_revision=revision_of(STABLE_SPEC),
                  canary_revision=revision_of(svc.spec), canary_replicas=replicas,
                  canary_weight=weight)


def by_name(built: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {c["metadata"]["name"]: c for c in built if c["kind"] == kind}


def image(deployment: dict[str, Any]) -> str:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return str(container["image"])


def test_a_rolling_service_has_no_revisions_no_track_services_and_no_canary() -> None:
    svc = owner(rollout={"strategy": "rolling"})
    for built in (build_children(svc, SETTINGS), build_children(svc, SETTINGS, steady(svc.spec))):
        assert [c["kind"] for c in built] == KINDS
        assert list(by_name(built, "Deployment")) == ["forecaster"]
        assert list(by_name(built, "Service")) == ["forecaster"]


def test_a_canary_runs_the_new_spec_beside_the_stable_one() -> None:
    svc = canary_owner()
    tracks = canary_tracks(svc, replicas=2)
    deployments = by_name(build_children(svc, SETTINGS, tracks), "Deployment")
    assert sorted(deployments) == ["forecaster", "forecaster-canary"]
    stable, canary = deployments["forecaster"], deployments["forecaster-canary"]
    assert image(stable) == STABLE_IMAGE
    assert stable["metadata"]["labels"][REVISION_LABEL] == revision_of(STABLE_SPEC)
    # The autoscaler owns the stable replica count; the rollout owns the canary's.
    assert "replicas" not in stable["spec"]
    assert image(canary) == CANARY_IMAGE
    assert canary["metadata"]["labels"][REVISION_LABEL] == revision_of(svc.spec)
    assert canary["spec"]["replicas"] == 2


def test_a_canary_stores_both_specs_before_any_deployment_changes() -> None:
    svc = canary_owner()
    tracks = canary_tracks(svc)
    built = build_children(svc, SETTINGS, tracks)
    (config_map,) = by_name(built, "ConfigMap").values()
    assert config_map["metadata"]["name"] == "forecaster-revisions"
    assert read_revisions(config_map) == {revision_of(STABLE_SPEC): STABLE_SPEC,
                                          revision_of(svc.spec): svc.spec}
    kinds = [c["kind"] for c in built]
    assert kinds.index("ConfigMap") < kinds.index("Deployment")
    assert kinds.index("ServiceAccount") < kinds.index("Deployment")


def test_a_canary_has_a_service_per_track_beside_the_main_one() -> None:
    svc = canary_owner()
    services = by_name(build_children(svc, SETTINGS, canary_tracks(svc)), "Service")
    assert sorted(services) == ["forecaster", "forecaster-canary", "forecaster-stable"]
    assert services["forecaster-canary"]["spec"]["selector"]["toolfleet.io/track"] == "canary"
    assert services["forecaster-stable"]["spec"]["selector"]["toolfleet.io/track"] == "stable"


def test_a_canary_service_without_a_canary_keeps_the_stable_spec_and_track_service() -> None:
    svc = canary_owner()
    built = build_children(svc, SETTINGS, steady(svc.spec))
    assert list(by_name(built, "Deployment")) == ["forecaster"]
    assert sorted(by_name(built, "Service")) == ["forecaster", "forecaster-stable"]
    (config_map,) = by_name(built, "ConfigMap").values()
    assert read_revisions(config_map) == {revision_of(svc.spec): svc.spec}
    assert "HTTPRoute" not in [c["kind"] for c in built]


def test_replica_routing_builds_no_httproute() -> None:
    svc = canary_owner(trafficRouting="replicas")
    assert "HTTPRoute" not in [c["kind"] for c in
                               build_children(svc, SETTINGS, canary_tracks(svc))]


def test_gateway_api_routing_adds_an_httproute_with_the_canary_weight() -> None:
    svc = canary_owner(trafficRouting="gatewayAPI", gatewayRef={"name": "edge"})
    (route,) = by_name(build_children(svc, SETTINGS, canary_tracks(svc, weight=30)),
                       "HTTPRoute").values()
    weights = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
    assert weights == {"forecaster-stable": 70, "forecaster-canary": 30}
    (route,) = by_name(build_children(svc, SETTINGS, steady(svc.spec)), "HTTPRoute").values()
    weights = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
    assert weights == {"forecaster-stable": 100}


def test_a_lost_stable_spec_leaves_the_live_stable_deployment_alone() -> None:
    svc = canary_owner()
    built = build_children(svc, SETTINGS, canary_tracks(svc, stable_spec=None))
    assert list(by_name(built, "Deployment")) == ["forecaster-canary"]
    (config_map,) = by_name(built, "ConfigMap").values()
    assert read_revisions(config_map) == {revision_of(svc.spec): svc.spec}
    # The autoscaler still scales the stable Deployment that is already there.
    (hpa,) = by_name(built, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"]["name"] == "forecaster"


def test_the_canarys_children_are_retired_once_no_canary_runs() -> None:
    svc = canary_owner()
    running = build_children(svc, SETTINGS, canary_tracks(svc))
    canary_children = {(c["kind"], c["metadata"]["name"]) for c in running
                       if c["metadata"]["labels"].get("toolfleet.io/track") == "canary"}
    assert canary_children == {("Deployment", "forecaster-canary"),
                               ("Service", "forecaster-canary")}
    assert set(retired_children(svc, steady(svc.spec))) == canary_children
    assert retired_children(svc, canary_tracks(svc)) == []
