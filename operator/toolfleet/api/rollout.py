"""The rollout part of the ToolService API: how a new revision reaches traffic, and its state.

Part of toolfleet.io/v1alpha1 (see `api.toolservice`); the CRD is generated from
these models. Canary steps and analysis follow Argo Rollouts' vocabulary.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from toolfleet.api.common import ApiModel


class RolloutStrategy(StrEnum):
    """How a new revision replaces the old one."""

    canary = "canary"
    rolling = "rolling"


class TrafficRouting(StrEnum):
    """How canary traffic weights are enforced."""

    replicas = "replicas"
    gateway_api = "gatewayAPI"


class CanaryStep(ApiModel):
    """One step of a canary rollout."""

    weight: int = Field(ge=1, le=100, description="Percent of traffic the canary receives.")
    pause_seconds: int = Field(
        default=60, ge=0, le=86400, description="How long to hold this weight before analysis."
    )


class Analysis(ApiModel):
    """The metric checks run at the end of every canary step."""

    prometheus_url: str = Field(
        alias="prometheusURL", min_length=1, max_length=2048, pattern=r"^https?://",
        description="Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090.",
    )
    max_error_rate: float = Field(
        default=0.05, ge=0, le=1,
        description="Largest acceptable fraction of canary requests that fail.",
    )
    max_p95_latency_ms: int | None = Field(
        default=None, ge=1, alias="maxP95LatencyMs",
        description="Largest acceptable 95th-percentile canary latency in milliseconds.",
    )
    interval_seconds: int = Field(
        default=30, ge=5, le=3600, description="Window the queries look back over."
    )
    failure_limit: int = Field(
        default=1, ge=0, le=100,
        description="Failed analyses tolerated before the rollout rolls back.",
    )
    inconclusive_limit: int = Field(
        default=3, ge=0, le=100,
        description="Inconclusive analyses in a row (no data for the queries, Prometheus "
        "unreachable) tolerated at one step; one more pauses the rollout with reason "
        "AnalysisInconclusive until it is resumed, promoted or aborted. 0 pauses at the first.",
    )


class CapacityMode(StrEnum):
    """Where a canary's pods find room, GPU services above all."""

    surge = "surge"
    swap = "swap"
    auto = "auto"


class ProgressDeadlineAction(StrEnum):
    """What a rollout does when its canary's pods are not ready by the progress deadline."""

    rollback = "rollback"
    pause = "pause"


class GatewayRef(ApiModel):
    """The Gateway an HTTPRoute attaches to."""

    name: str = Field(min_length=1, max_length=253, description="Gateway name.")
    namespace: str | None = Field(
        default=None, max_length=63, description="Gateway namespace; the service's by default."
    )


class Rollout(ApiModel):
    """How a new revision reaches traffic."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "self.steps.map(s, s.weight).isSorted() && "
                 "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))",
         "message": "canary step weights must rise strictly from one step to the next",
         "fieldPath": ".steps", "reason": "FieldValueInvalid"},
        {"rule": "self.trafficRouting != 'gatewayAPI' || has(self.gatewayRef)",
         "message": "gatewayRef is required when trafficRouting is gatewayAPI",
         "fieldPath": ".gatewayRef", "reason": "FieldValueRequired"},
    ]})

    strategy: RolloutStrategy = Field(
        default=RolloutStrategy.rolling,
        description="rolling: update pods in place. canary: run the new revision beside the "
        "stable one and shift traffic by steps.",
    )
    steps: list[CanaryStep] = Field(
        default_factory=lambda: [CanaryStep(weight=20), CanaryStep(weight=50)], max_length=20,
        description="Canary steps, weights rising; promotion follows the last step.",
    )
    analysis: Analysis | None = Field(
        default=None, description="Metric checks after each step; none means advance on time."
    )
    traffic_routing: TrafficRouting = Field(
        default=TrafficRouting.replicas,
        description="replicas: weight by replica ratio behind one Service. gatewayAPI: weight "
        "by HTTPRoute backend weights.",
    )
    gateway_ref: GatewayRef | None = Field(
        default=None, description="Gateway for the HTTPRoute (trafficRouting gatewayAPI)."
    )
    progress_deadline_seconds: int = Field(
        default=600, ge=10, le=86400,
        description="How long each canary step waits for all the canary's pods to be ready, "
        "counted from the step's start; past it the rollout stops with reason CanaryNotReady "
        "(see progressDeadlineAction). The canary Deployment's own ProgressDeadlineExceeded "
        "stops it at once.",
    )
    progress_deadline_action: ProgressDeadlineAction = Field(
        default=ProgressDeadlineAction.rollback,
        description="rollback: send the canary to 0, phase RolledBack. pause: keep the canary "
        "at its weight, phase Paused, until resumed, promoted or aborted.",
    )
    capacity: CapacityMode = Field(
        default=CapacityMode.auto,
        description="surge: the canary's pods run beside all the stable ones; without room "
        "for them the rollout pauses with reason InsufficientGPU until there is. swap: the "
        "stable Deployment gives up pods (and their GPUs) as the canary gains them, never "
        "below minReplicas - maxUnavailable ready pods; rollback, abort and promotion give "
        "them back. auto: surge while the GPU inventory has room for the canary, swap when "
        "it has not. Only GPU services can lack room: other services always surge.",
    )
    max_unavailable: int = Field(
        default=1, ge=0, le=1000,
        description="How far below autoscaling.minReplicas the ready pods of both tracks may "
        "fall while a swap moves GPUs between them; also the stable Deployment's own "
        "rolling maxUnavailable for GPU services that may swap (their update has no spare "
        "GPU to surge into). 0 allows a swap only above minReplicas.",
    )
    allow_breaking_schema_change: bool = Field(
        default=False,
        description="Let a rollout proceed although a tool's schema rejects input the stable "
        "revision accepted.",
    )


class RolloutPhase(StrEnum):
    """Where a canary rollout stands."""

    progressing = "Progressing"
    paused = "Paused"
    promoted = "Promoted"
    rolled_back = "RolledBack"
    aborted = "Aborted"


class CapacityStatus(ApiModel):
    """How the canary's pods find room now (status.rollout.capacity)."""

    mode: CapacityMode = Field(description="surge or swap: the mode in force (auto picks one).")
    stable_replicas: int = Field(ge=0, description="Pods the stable Deployment is given now.")
    canary_replicas: int = Field(ge=0, description="Pods the canary Deployment is given now.")
    full_replicas: int = Field(
        ge=0, description="The stable Deployment's count before the swap, given back to it "
        "when the rollout ends.")
    effective_weight: int = Field(
        ge=0, le=100,
        description="Percent of the pods behind the service's Service that run the canary: "
        "the canary's real share under trafficRouting replicas, which a swap changes. The "
        "gateway and an HTTPRoute split by rollout.weight instead.")
    message: str = Field(default="", description="Why, with the numbers.")


class RolloutStatus(ApiModel):
    """The state of the current canary rollout, kept here so a restart loses nothing."""

    revision: str = Field(description="Revision hash of the canary.")
    version: str = Field(description="spec.version of the canary.")
    weight: int = Field(ge=0, le=100, description="Percent of traffic the canary receives.")
    step: int = Field(ge=0, description="Index of the current step.")
    phase: RolloutPhase = Field(description="Progressing, Paused, Promoted, RolledBack, Aborted.")
    step_started_at: str | None = Field(default=None, description="When this step began.")
    paused_at: str | None = Field(
        default=None,
        description="When the current pause began, RFC 3339; set only while the phase is Paused.",
    )
    failures: int = Field(default=0, ge=0, description="Failed analyses so far.")
    inconclusive: int = Field(
        default=0, ge=0, description="Inconclusive analyses in a row at the current step.")
    reason: str | None = Field(
        default=None,
        description="Why the rollout stopped by itself (AnalysisInconclusive, CanaryNotReady, "
        "AnalysisFailed, InsufficientGPU); unset while it moves, or when a control stopped it.",
    )
    previous_revision: str | None = Field(
        default=None,
        description="The revision that served stable traffic before a promotion; kept until "
        "the promoted revision's pods are all ready, so that abort can restore it.",
    )
    previous_version: str | None = Field(
        default=None, description="spec.version of previousRevision.")
    message: str = Field(default="", description="Why the rollout is where it is.")
    capacity: CapacityStatus | None = Field(
        default=None, description="Where the canary's pods find room; kept after the rollout "
        "ends while the stable Deployment gets its pods back.")
