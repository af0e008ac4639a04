"""What a ToolService reconcile reads: its children, pods, revisions, and the analysis due.

The one place that gathers a `reconcile.toolservice.World` from the API server
(through `runtime.kube`) and, when the rollout is at an analysis, from
Prometheus (through `rollout.analysis.measure`), so the plan is made once with
everything it needs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from toolfleet.placement.inventory import NodeGPU
from toolfleet.reconcile.toolservice import GPUPods, World, analysis_due
from toolfleet.resources.revisions import revisions_name
from toolfleet.resources.tracks import Track, deployment_name
from toolfleet.rollout.analysis import StepAnalysis
from toolfleet.rollout.prometheus import measure
from toolfleet.runtime import kube
from toolfleet.runtime.cache import unpack
from toolfleet.settings import Settings

log = logging.getLogger(__name__)


def observe(toolservice: Mapping[str, Any], settings: Settings, nodes: Sequence[NodeGPU],
            gpu_pods: GPUPods, pods: Sequence[Mapping[str, Any] | str], now: datetime) -> World:
    """The World of one ToolService now, with its `pods` as the pod watch holds them
    (dicts, or `runtime.cache.pack`ed).

    Raises `kube.ApiError` when a read fails.
    """
    meta = toolservice["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    world = World(
        toolservice=toolservice, settings=settings,
        stable=kube.get("Deployment", namespace, deployment_name(name, Track.stable)),
        canary=kube.get("Deployment", namespace, deployment_name(name, Track.canary)),
        revisions=kube.get("ConfigMap", namespace, revisions_name(name)),
        # Which versions really serve, and why pods are not ready (status.pods).
        pods=[unpack(pod) for pod in pods],
        nodes=nodes, gpu_pods=gpu_pods,
    )
    due = analysis_due(world, now)
    if due is None:
        return world
    result = measure(due.analysis, due.target)
    log.info("analysis of %s/%s step %d: %s", namespace, name, due.key.step + 1, result.message)
    return world.with_analysis(StepAnalysis(key=due.key, result=result))
