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
    message: str = Field(default="", description="Why the rollout is where it is.")
