"""The HorizontalPodAutoscaler (operator/toolfleet/resources/hpa.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.hpa import build_hpa
from toolfleet.resources.tracks import Track

from .fixtures import UID, autoscalings, gpus, owner, owner_of, wire

PROPERTIES = settings(max_examples=50, deadline=None)


def hpa(**sections: Any) -> dict[str, Any]:
    return build_hpa(owner(**sections))


def metrics(**sections: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = hpa(**sections)["spec"]["metrics"]
    return found


def cpu(percent: int) -> dict[str, Any]:
    return {"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}}


def pods(metric: str, average: str) -> dict[str, Any]:
    return {"type": "Pods", "pods": {"metric": {"name": metric},
                                     "target": {"type": "AverageValue", "averageValue": average}}}


def test_without_targets_the_autoscaler_holds_cpu_at_80_percent() -> None:
    assert metrics() == [cpu(80)]


def test_a_cpu_target_replaces_the_default() -> None:
    assert metrics(autoscaling={"targetCPUUtilization": 55}) == [cpu(55)]


def test_in_flight_requests_are_a_pods_metric() -> None:
    assert metrics(autoscaling={"targetInFlightRequests": 8}) == [
        pods("toolfleet_inflight_requests", "8")]


def test_gpu_utilisation_is_used_for_a_gpu_service() -> None:
    assert metrics(gpu={}, autoscaling={"targetGPUUtilization": 70}) == [
        pods("DCGM_FI_DEV_GPU_UTIL", "70")]


def test_gpu_utilisation_is_ignored_without_a_gpu() -> None:
    # A CPU-only pod exports no DCGM metric; the autoscaler would never scale.
    assert metrics(autoscaling={"targetGPUUtilization": 70}) == [cpu(80)]
    assert metrics(autoscaling={"targetGPUUtilization": 70, "targetCPUUtilization": 60}) == [
        cpu(60)]


def test_every_target_together() -> None:
    found = metrics(gpu={}, autoscaling={"targetCPUUtilization": 60,
                                         "targetInFlightRequests": 4,
                                         "targetGPUUtilization": 75})
    assert found == [cpu(60), pods("toolfleet_inflight_requests", "4"),
                     pods("DCGM_FI_DEV_GPU_UTIL", "75")]


def test_bounds_and_scale_down_stabilisation_come_from_the_spec() -> None:
    spec = hpa(autoscaling={"minReplicas": 2, "maxReplicas": 9,
                            "scaleDownStabilizationSeconds": 45})["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 9)
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 45


def test_default_bounds_and_window() -> None:
    spec = hpa()["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 3)
    assert spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_it_scales_the_stable_deployment() -> None:
    svc = owner()
    target = build_hpa(svc)["spec"]["scaleTargetRef"]
    dep = build_deployment(svc, svc.spec, "0123456789", Track.stable)
    assert target == {"apiVersion": dep["apiVersion"], "kind": dep["kind"],
                      "name": dep["metadata"]["name"]}


def test_the_hpa_is_an_owned_autoscaling_v2_object() -> None:
    obj = hpa()
    assert (obj["apiVersion"], obj["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    assert obj["metadata"]["ownerReferences"][0]["uid"] == UID
    assert obj["metadata"]["ownerReferences"][0]["controller"] is True
    assert obj["metadata"]["labels"]["app.kubernetes.io/component"] == "autoscaler"


@PROPERTIES
@given(scaling=autoscalings, gpu=gpus)
def test_each_set_target_appears_once_and_cpu_80_only_when_none_applies(
        scaling: dict[str, Any], gpu: dict[str, Any] | None) -> None:
    body = wire(autoscaling=scaling, **({"gpu": gpu} if gpu is not None else {}))
    found = build_hpa(owner_of(ToolServiceSpec.model_validate(body)))["spec"]["metrics"]
    expected = []
    if "targetCPUUtilization" in scaling:
        expected.append(cpu(scaling["targetCPUUtilization"]))
    if "targetInFlightRequests" in scaling:
        expected.append(pods("toolfleet_inflight_requests",
                             str(scaling["targetInFlightRequests"])))
    if "targetGPUUtilization" in scaling and gpu is not None:
        expected.append(pods("DCGM_FI_DEV_GPU_UTIL", str(scaling["targetGPUUtilization"])))
    assert found == (expected or [cpu(80)])
