"""The one vocabulary of status conditions and event reasons, and the one constructor.

Condition types and reasons follow the Kubernetes API conventions
(https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#typical-status-properties):
a type names a state (`Ready`), a reason is a CamelCase word for why it holds.
Both are `StrEnum`s, so they compare equal to the strings stored in status and
read from `kubectl`, and a misspelt reason fails at import, not in a user's cluster.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from toolfleet.api.common import Condition

ConditionStatus = Literal["True", "False", "Unknown"]


class ConditionType(StrEnum):
    """The condition types a ToolService or ToolCatalog reports."""

    ready = "Ready"
    progressing = "Progressing"
    degraded = "Degraded"
    schedulable = "Schedulable"
    rollout_healthy = "RolloutHealthy"
    within_tool_limits = "WithinToolLimits"


class Reason(StrEnum):
    """Every reason a condition or an event carries."""

    # Ready
    replicas_ready = "ReplicasReady"
    replicas_not_ready = "ReplicasNotReady"
    unschedulable = "Unschedulable"
    published = "Published"
    # Degraded
    as_expected = "AsExpected"
    apply_failed = "ApplyFailed"
    deployment_failing = "DeploymentFailing"
    invalid_tools = "InvalidTools"
    invalid_spec = "InvalidSpec"
    tools_left_out = "ToolsLeftOut"
    tools_renamed = "ToolsRenamed"
    # WithinToolLimits
    over_tool_limit = "OverToolLimit"
    # Progressing
    deploying = "Deploying"
    rollout_complete = "RolloutComplete"
    replicas_restored = "ReplicasRestored"
    # Schedulable (placement)
    no_gpu_required = "NoGPURequired"
    gpu_available = "GPUAvailable"
    insufficient_gpu = "InsufficientGPU"
    no_matching_nodes = "NoMatchingNodes"
    # The rollout: conditions and events
    stable = "Stable"
    breaking_schema_change = "BreakingSchemaChange"
    canary_healthy = "CanaryHealthy"
    canary_progressing = "CanaryProgressing"
    canary_step_advanced = "CanaryStepAdvanced"
    canary_promoted = "CanaryPromoted"
    canary_rolled_back = "CanaryRolledBack"
    canary_dropped = "CanaryDropped"
    analysis_failed = "AnalysisFailed"
    analysis_failures_tolerated = "AnalysisFailuresTolerated"
    analysis_inconclusive = "AnalysisInconclusive"
    canary_not_ready = "CanaryNotReady"
    promotion_refused = "PromotionRefused"
    promotion_unfinished = "PromotionUnfinished"
    revision_deployed = "RevisionDeployed"
    rollout_started = "RolloutStarted"
    rollout_restarted = "RolloutRestarted"
    rollout_paused = "RolloutPaused"
    rollout_resumed = "RolloutResumed"
    rollout_aborted = "RolloutAborted"
    rollout_control_ignored = "RolloutControlIgnored"
    invalid_rollout_control = "InvalidRolloutControl"


def condition(type_: ConditionType, status: bool | ConditionStatus, reason: Reason | str,
              message: str, *, generation: int, now: str) -> Condition:
    """A condition as the API conventions shape it.

    `status` is a bool for the usual True/False, or "Unknown". `now` (RFC 3339)
    becomes lastTransitionTime; `status.conditions.set_condition` keeps the old
    time when the status did not change, so a reconcile that saw nothing new
    writes nothing. `reason` is a `Reason`, or a string passed through from
    elsewhere (placement computes its own).
    """
    if isinstance(status, bool):
        status = "True" if status else "False"
    return Condition(type=str(type_), status=status, reason=str(reason), message=message,
                     last_transition_time=now, observed_generation=generation)
