"""The Deployment that runs one revision (stable or canary) of a ToolService."""

from __future__ import annotations

from typing import Any

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.placement.scheduling import gpu_limits, gpu_node_affinity, gpu_tolerations
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
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
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
        "terminationGracePeriodSeconds": 30,
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
    if spec.gpu is not None:
        pod["tolerations"] = gpu_tolerations()
        affinity = gpu_node_affinity(spec.gpu)
        if affinity is not None:
            pod["affinity"] = affinity
        if spec.gpu.runtime_class_name:
            pod["runtimeClassName"] = spec.gpu.runtime_class_name
    return pod
