"""The Deployment that runs one revision (stable or canary) of a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolservice import CapacityMode, ToolServiceSpec
from toolfleet.placement.scheduling import gpu_limits, gpu_node_affinity, pod_tolerations
from toolfleet.resources.meta import (
    REVISION_LABEL,
    TRACK_LABEL,
    Owner,
    child_metadata,
    common_labels,
    selector_labels,
    version_label,
)
from toolfleet.resources.tracks import Track, deployment_name

# A non-root UID that exists in distroless and most slim images.
RUN_AS_USER = 65532
# How long a terminating pod keeps serving before it is sent SIGTERM. Deleting a
# pod and removing it from its Service's endpoints happen at once, and kube-proxy,
# kube-router and the gateway each learn of the removal a moment later: a pod that
# stopped listening at once would refuse the calls still routed to it (the "503
# around promotion": promotion replaces the stable pods and deletes the canary's).
PRE_STOP_SLEEP_SECONDS = 5
# Then up to this long to finish the calls in flight (the longest tool call may
# need more: spec.tools[].timeoutSeconds), counted from the deletion, sleep included.
TERMINATION_GRACE_PERIOD_SECONDS = 30


def build_deployment(owner: Owner, spec: ToolServiceSpec, revision: str,
                     track: Track = Track.stable, replicas: int | None = None) -> dict[str, Any]:
    """The Deployment for one revision of the service.

    `replicas` stays unset when the HorizontalPodAutoscaler owns the count: with
    server-side apply, a field we do not send is a field we do not fight over.
    """
    pod_labels = {**common_labels(owner, "tool-service"), **selector_labels(owner, track),
                  REVISION_LABEL: revision}
    pod_labels["app.kubernetes.io/version"] = version_label(spec.version)
    deployment_spec: dict[str, Any] = {
        "selector": {"matchLabels": selector_labels(owner, track)},
        "revisionHistoryLimit": 3,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling_update(owner.spec)},
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(spec.port),
                    "prometheus.io/path": "/metrics",
                },
            },
            "spec": _pod_spec(owner, spec, revision, track),
        },
    }
    if replicas is not None:
        deployment_spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": child_metadata(owner, deployment_name(owner.name, track), "tool-service",
                                   {TRACK_LABEL: track.value, REVISION_LABEL: revision}),
        "spec": deployment_spec,
    }


def rolling_update(spec: ToolServiceSpec) -> dict[str, int | str]:
    """The Deployments' rollingUpdate: surge by 25% unless GPUs may be swapped.

    A GPU service whose rollout may swap (rollout.capacity swap or auto) is
    expected to fill its GPUs: a surge pod would wait for a GPU that only the
    pods it replaces hold, and the update would never finish. Such a service
    replaces pods in place instead, rollout.maxUnavailable at a time (the
    availability it promises); with maxUnavailable 0 it keeps the surge.
    """
    may_swap = spec.gpu is not None and spec.rollout.capacity != CapacityMode.surge
    if may_swap and spec.rollout.max_unavailable > 0:
        return {"maxSurge": 0, "maxUnavailable": spec.rollout.max_unavailable}
    return {"maxSurge": "25%", "maxUnavailable": 0}


def _env(owner: Owner, spec: ToolServiceSpec, revision: str, track: Track) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "PORT", "value": str(spec.port)},
        {"name": "TOOLFLEET_SERVICE", "value": owner.name},
        {"name": "TOOLFLEET_VERSION", "value": spec.version},
        {"name": "TOOLFLEET_REVISION", "value": revision},
        {"name": "TOOLFLEET_TRACK", "value": track.value},
    ]
    if spec.model is not None:
        env.append({"name": "TOOLFLEET_MODEL_URI", "value": spec.model.uri})
        if spec.model.format:
            env.append({"name": "TOOLFLEET_MODEL_FORMAT", "value": spec.model.format})
    for var in spec.env:
        if var.secret_key_ref is not None:
            env.append({"name": var.name, "valueFrom": {"secretKeyRef": {
                "name": var.secret_key_ref.name, "key": var.secret_key_ref.key}}})
        else:
            env.append({"name": var.name, "value": var.value or ""})
    # Server-side apply keys env by name and refuses a name twice, so a name set
    # again (by the user over ours, or twice by the user) keeps only its last
    # definition, which is also the one the kubelet would have used.
    last: dict[str, dict[str, Any]] = {}
    for entry in env:
        last.pop(entry["name"], None)
        last[entry["name"]] = entry
    return list(last.values())


def _pod_spec(owner: Owner, spec: ToolServiceSpec, revision: str, track: Track) -> dict[str, Any]:
    limits: dict[str, str] = {"memory": spec.resources.memory}
    if spec.gpu is not None:
        limits.update(gpu_limits(spec.gpu))
    container: dict[str, Any] = {
        "name": "service",
        "image": spec.image,
        "args": list(spec.args),
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "env": _env(owner, spec, revision, track),
        "resources": {"requests": {"cpu": spec.resources.cpu, "memory": spec.resources.memory},
                      "limits": limits},
        "readinessProbe": {"httpGet": {"path": spec.readiness_path, "port": "http"},
                           "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": spec.health_path, "port": "http"},
                          "periodSeconds": 10, "failureThreshold": 3},
        "startupProbe": {"httpGet": {"path": spec.health_path, "port": "http"},
                         "periodSeconds": 5, "failureThreshold": 60},
        # The kubelet's own sleep: the image needs no shell or sleep binary.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
        # The restricted Pod Security profile, and a read-only root filesystem.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if spec.model is not None:
        container["volumeMounts"].append({"name": "models", "mountPath": "/models"})
        volumes.append({"name": "models", "emptyDir": {}})
    pod: dict[str, Any] = {
        "serviceAccountName": owner.name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_PERIOD_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    pod.update(_placement(spec))
    # The service's, not the revision's: priority says how much the service
    # matters, so a change reaches every track's pods alike.
    if owner.spec.priority_class_name:
        pod["priorityClassName"] = owner.spec.priority_class_name
    return pod


def _placement(spec: ToolServiceSpec) -> dict[str, Any]:
    """nodeSelector, tolerations, affinity and runtimeClassName: the user's and spec.gpu's.

    GPU product and memory go into node affinity, never the nodeSelector, so the
    user's nodeSelector is carried as written and both must hold. Tolerations are
    the GPU taint's and the user's, each once, in that order.
    """
    placement: dict[str, Any] = {}
    if spec.node_selector:
        placement["nodeSelector"] = dict(sorted(spec.node_selector.items()))
    tolerations = pod_tolerations(spec)
    if tolerations:
        placement["tolerations"] = tolerations
    if spec.gpu is not None:
        affinity = gpu_node_affinity(spec.gpu)
        if affinity is not None:
            placement["affinity"] = affinity
        if spec.gpu.runtime_class_name:
            placement["runtimeClassName"] = spec.gpu.runtime_class_name
    return placement
