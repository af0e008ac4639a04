"""The HorizontalPodAutoscaler of a ToolService's stable Deployment."""

from __future__ import annotations

from typing import Any

from toolfleet.resources.meta import Owner, child_metadata
from toolfleet.resources.tracks import Track, deployment_name

INFLIGHT_METRIC = "toolfleet_inflight_requests"
GPU_UTILIZATION_METRIC = "DCGM_FI_DEV_GPU_UTIL"
DEFAULT_CPU_UTILIZATION = 80


def build_hpa(owner: Owner) -> dict[str, Any]:
    """An autoscaling/v2 HPA over CPU, in-flight requests per pod and GPU utilisation."""
    scaling = owner.spec.autoscaling
    metrics: list[dict[str, Any]] = []
    if scaling.target_cpu_utilization is not None:
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu",
            "target": {"type": "Utilization",
                       "averageUtilization": scaling.target_cpu_utilization}}})
    if scaling.target_in_flight_requests is not None:
        metrics.append(_pods_metric(INFLIGHT_METRIC, scaling.target_in_flight_requests))
    if scaling.target_gpu_utilization is not None and owner.spec.gpu is not None:
        metrics.append(_pods_metric(GPU_UTILIZATION_METRIC, scaling.target_gpu_utilization))
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                           "name": deployment_name(owner.name, Track.stable)},
        "minReplicas": scaling.min_replicas,
        "maxReplicas": scaling.max_replicas,
        "behavior": {"scaleDown": {
            "stabilizationWindowSeconds": scaling.scale_down_stabilization_seconds}},
    }
    if not metrics:
        # Said out loud rather than left to the autoscaler's own default.
        metrics.append({"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization",
                                      "averageUtilization": DEFAULT_CPU_UTILIZATION}}})
    spec["metrics"] = metrics
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": child_metadata(owner, owner.name, "autoscaler"),
        "spec": spec,
    }


def _pods_metric(name: str, average: int) -> dict[str, Any]:
    return {"type": "Pods", "pods": {
        "metric": {"name": name},
        "target": {"type": "AverageValue", "averageValue": str(average)}}}
