"""The ToolService API (toolfleet.io/v1alpha1): a specialist model service and its tools.

These models are the single source of truth: `hack/gen-crds.py` turns them into
the CRD in `crds/` and the chart. `x-kubernetes-validations` entries are CEL rules
the API server enforces at `kubectl apply` time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import ConfigDict, Field

from toolfleet.api.common import (
    TOOL_NAME_PATTERN,
    ApiModel,
    Condition,
    LabelSelector,
)

# Re-exported (`X as X`): the API of a ToolService reads as one module to most code.
from toolfleet.api.gpu import GPU as GPU
from toolfleet.api.gpu import GPUSharing as GPUSharing
from toolfleet.api.gpu import GPUStatus as GPUStatus
from toolfleet.api.rollout import Analysis as Analysis
from toolfleet.api.rollout import CanaryStep as CanaryStep
from toolfleet.api.rollout import CapacityMode as CapacityMode
from toolfleet.api.rollout import CapacityStatus as CapacityStatus
from toolfleet.api.rollout import GatewayRef as GatewayRef
from toolfleet.api.rollout import Rollout as Rollout
from toolfleet.api.rollout import RolloutPhase as RolloutPhase
from toolfleet.api.rollout import RolloutStatus as RolloutStatus
from toolfleet.api.rollout import RolloutStrategy as RolloutStrategy
from toolfleet.api.rollout import TrafficRouting as TrafficRouting
from toolfleet.api.scheduling import (
    MAX_NODE_SELECTOR_LABELS,
    MAX_TOLERATIONS,
    NODE_SELECTOR_KEYS_RULE,
    LabelValue,
    Toleration,
)

KIND = "ToolService"
PLURAL = "toolservices"
SINGULAR = "toolservice"
SHORT_NAMES = ["ts"]
CATEGORIES = ["ai"]

SEMVER_PATTERN = (
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
)
QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$"
MAX_TOOLS = 64


class Protocol(StrEnum):
    """How routers call the service's tools."""

    http = "http"
    mcp = "mcp"


class Exposure(StrEnum):
    """Who may discover and call a service's tools."""

    public = "public"
    internal = "internal"
    private = "private"


class SecretKeyRef(ApiModel):
    """A key of a Secret in the service's namespace."""

    name: str = Field(description="Name of the Secret.", min_length=1, max_length=253)
    key: str = Field(description="Key within the Secret.", min_length=1, max_length=253)


class EnvVar(ApiModel):
    """An environment variable for the service container."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "has(self.value) != has(self.secretKeyRef)",
        "message": "set exactly one of value or secretKeyRef",
    }]})

    name: str = Field(
        description="Variable name.", min_length=1, max_length=256,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.-]*$",
    )
    value: str | None = Field(default=None, description="Literal value.", max_length=32768)
    secret_key_ref: SecretKeyRef | None = Field(
        default=None, description="Take the value from a Secret key instead of a literal."
    )


class Resources(ApiModel):
    """CPU and memory for each service pod. Memory is both request and limit."""

    cpu: str = Field(
        default="250m", description="CPU request, e.g. 500m or 2.", pattern=QUANTITY_PATTERN,
        max_length=32,
    )
    memory: str = Field(
        default="256Mi", description="Memory request and limit, e.g. 512Mi or 4Gi.",
        pattern=QUANTITY_PATTERN, max_length=32,
    )


class ModelRef(ApiModel):
    """The model artifact the service loads at start-up."""

    uri: str = Field(
        description="Where the artifact lives (s3://, gs://, https://, pvc://<claim>/<path>, "
        "or file:// inside the image). Passed to the container as TOOLFLEET_MODEL_URI.",
        min_length=1, max_length=2048,
    )
    format: str | None = Field(
        default=None, description="Artifact format, e.g. onnx, safetensors, joblib. "
        "Passed as TOOLFLEET_MODEL_FORMAT.", max_length=64,
    )


class ToolAnnotations(ApiModel):
    """MCP tool hints. They describe the tool to routers; they are not enforced."""

    read_only_hint: bool | None = Field(
        default=None, description="The tool does not modify its environment."
    )
    destructive_hint: bool | None = Field(
        default=None, description="The tool may perform destructive updates."
    )
    idempotent_hint: bool | None = Field(
        default=None, description="Calling the tool twice with the same input has no extra effect."
    )
    open_world_hint: bool | None = Field(
        default=None, description="The tool interacts with entities outside the service."
    )


class InputSchema(ApiModel):
    """A JSON Schema (2020-12) for a tool's arguments. Its root must be an object."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )

    type: Literal["object"] = Field(
        description="Must be object: every vendor passes tool arguments as one JSON object."
    )


class Tool(ApiModel):
    """One function-calling tool the service offers."""

    name: str = Field(
        description="Tool name, unique in the service; letters, digits, _ and -, "
        "at most 64 characters, not starting with a digit or -.",
        pattern=TOOL_NAME_PATTERN, max_length=64,
    )
    title: str | None = Field(default=None, description="Human-readable name.", max_length=128)
    description: str = Field(
        description="What the tool does and when to use it; routers show this to the model.",
        min_length=1, max_length=4096,
    )
    path: str | None = Field(
        default=None, description="HTTP path of the tool on the service (protocol http); "
        "defaults to /tools/<name>.", pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*$",
        max_length=512,
    )
    input_schema: InputSchema = Field(description="JSON Schema of the arguments.")
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the result, if the tool returns structured data."
    )
    annotations: ToolAnnotations | None = Field(default=None, description="MCP hints.")
    timeout_seconds: int = Field(
        default=30, ge=1, le=3600, description="How long a router should wait for a result."
    )

    def http_path(self) -> str:
        """The path routers POST to for this tool."""
        return self.path or f"/tools/{self.name}"


class Autoscaling(ApiModel):
    """Replica bounds and the targets of the HorizontalPodAutoscaler."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "self.minReplicas <= self.maxReplicas",
        "message": "minReplicas must not exceed maxReplicas",
        "fieldPath": ".minReplicas", "reason": "FieldValueInvalid",
    }]})

    min_replicas: int = Field(default=1, ge=1, le=1000, description="Fewest replicas.")
    max_replicas: int = Field(default=3, ge=1, le=1000, description="Most replicas.")
    target_cpu_utilization: int | None = Field(
        default=None, ge=1, le=100, alias="targetCPUUtilization",
        description="Average CPU utilisation (% of request) to hold. When no target at all is "
        "set, 80 is used.",
    )
    target_in_flight_requests: int | None = Field(
        default=None, ge=1, le=10000,
        description="Average in-flight requests per pod to hold, read from the Pods metric "
        "toolfleet_inflight_requests that the service exports (needs a custom metrics adapter).",
    )
    target_gpu_utilization: int | None = Field(
        default=None, ge=1, le=100, alias="targetGPUUtilization",
        description="Average GPU utilisation (%) to hold, read from the DCGM_FI_DEV_GPU_UTIL "
        "Pods metric (needs DCGM exporter and a custom metrics adapter).",
    )
    scale_down_stabilization_seconds: int = Field(
        default=300, ge=0, le=3600,
        description="How long the autoscaler waits before removing replicas.",
    )


class Caller(ApiModel):
    """Pods allowed to call the service: both selectors must match."""

    namespace_selector: LabelSelector | None = Field(
        default=None, description="Namespaces of the callers; unset means the service's own."
    )
    pod_selector: LabelSelector | None = Field(
        default=None, description="Caller pods; unset means every pod in those namespaces."
    )


class Access(ApiModel):
    """Who may discover and call the service."""

    exposure: Exposure = Field(
        default=Exposure.internal,
        description="public: in the default catalog, callable by any pod. internal: only in "
        "catalogs that select internal tools, callable from allowedCallers and the same "
        "namespace. private: in no catalog unless one selects private, callable only by "
        "allowedCallers. Default: internal, so a new service is not in the built-in "
        "default catalog until it says public.",
    )
    allowed_callers: list[Caller] = Field(
        default_factory=list, max_length=32,
        description="Pods that may call the service in addition to the exposure's defaults.",
    )


class ToolServiceSpec(ApiModel):
    """The desired state of a ToolService."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [{
        "rule": "self.tools.all(t, self.tools.exists_one(u, u.name == t.name))",
        "message": "tool names must be unique within a ToolService",
        "fieldPath": ".tools", "reason": "FieldValueInvalid",
    }, NODE_SELECTOR_KEYS_RULE]})

    version: str = Field(
        description="Semantic version of the service, e.g. 1.4.0; shown in the catalog.",
        pattern=SEMVER_PATTERN, max_length=128,
    )
    image: str = Field(description="Container image of the service.", min_length=1,
                       max_length=1024)
    port: int = Field(default=8080, ge=1, le=65535, description="Port the service listens on.")
    args: list[str] = Field(default_factory=list, max_length=64,
                            description="Arguments to the container's entrypoint.")
    env: list[EnvVar] = Field(default_factory=list, max_length=128,
                              description="Environment variables.")
    resources: Resources = Field(default_factory=Resources, description="CPU and memory.")
    model: ModelRef | None = Field(default=None, description="Model artifact to load.")
    protocol: Protocol = Field(
        default=Protocol.http,
        description="http: each tool is POST <path>. mcp: the service speaks MCP over "
        "streamable HTTP at /mcp.",
    )
    health_path: str = Field(default="/healthz", pattern=r"^/", max_length=256,
                             description="Liveness probe path.")
    readiness_path: str = Field(default="/readyz", pattern=r"^/", max_length=256,
                                description="Readiness probe path.")
    tools: list[Tool] = Field(min_length=1, max_length=MAX_TOOLS,
                              description="The tools the service offers.")
    gpu: GPU | None = Field(default=None, description="GPUs per replica; unset for CPU only.")
    node_selector: dict[str, LabelValue] = Field(
        default_factory=dict, max_length=MAX_NODE_SELECTOR_LABELS,
        description="Node labels the pods' nodes must have (the PodSpec's nodeSelector), "
        "e.g. {kubernetes.io/arch: amd64}. With spec.gpu, both hold.",
    )
    tolerations: list[Toleration] = Field(
        default_factory=list, max_length=MAX_TOLERATIONS,
        description="Taints the pods tolerate (the PodSpec's tolerations), in addition to "
        "the nvidia.com/gpu taint tolerated with spec.gpu.",
    )
    autoscaling: Autoscaling = Field(default_factory=Autoscaling,
                                     description="Replica bounds and autoscaling targets.")
    priority_class_name: str | None = Field(
        default=None, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="PriorityClass of the pods (the PodSpec's priorityClassName). Whether a "
        "pod of higher priority preempts others for their GPUs is the scheduler's decision, "
        "not the operator's: a swap frees GPUs without preempting anything.",
    )
    rollout: Rollout = Field(default_factory=Rollout, description="How new revisions roll out.")
    access: Access = Field(default_factory=Access, description="Exposure and allowed callers.")


class ToolServiceStatus(ApiModel):
    """The observed state of a ToolService."""

    observed_generation: int | None = Field(default=None,
                                            description="The generation last reconciled.")
    conditions: list[Condition] = Field(default_factory=list,
                                        description="Ready, Progressing, Degraded, Schedulable, "
                                        "RolloutHealthy.")
    stable_version: str | None = Field(default=None, description="Version serving stable traffic.")
    stable_revision: str | None = Field(default=None,
                                        description="Revision hash serving stable traffic.")
    canary_version: str | None = Field(default=None,
                                       description="Version of the canary, while one runs.")
    rollout: RolloutStatus | None = Field(default=None, description="The current canary rollout.")
    replicas: int = Field(default=0, ge=0, description="Pods of all revisions.")
    ready_replicas: int = Field(default=0, ge=0, description="Ready pods of all revisions.")
    endpoint: str | None = Field(default=None, description="In-cluster URL of the service.")
    tools: list[str] = Field(default_factory=list, description="Names of the tools offered.")
    tool_count: int = Field(default=0, ge=0, description="How many tools are offered.")
    gpu: GPUStatus | None = Field(default=None, description="GPU placement, for GPU services.")


# A ToolService's name becomes its Service's and its children's (with suffixes).
NAME_RULES: list[dict[str, Any]] = [
    {"rule": "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && "
             "size(self.metadata.name) <= 52",
     "message": "metadata.name must be a DNS-1035 label (lowercase letters, digits and -, "
                "starting with a letter) of at most 52 characters: it names the Service and "
                "the other children, some with a suffix"},
    {"rule": "!self.metadata.name.endsWith('-canary') && "
             "!self.metadata.name.endsWith('-stable') && "
             "!self.metadata.name.endsWith('-revisions')",
     "message": "metadata.name must not end in -canary, -stable or -revisions: such names "
                "belong to the children of another ToolService"},
]

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Version", "type": "string", "jsonPath": ".status.stableVersion",
     "description": "Version serving stable traffic."},
    {"name": "Ready", "type": "string",
     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status",
     "description": "Whether the service is ready."},
    {"name": "Reason", "type": "string",
     "jsonPath": ".status.conditions[?(@.type==\"Ready\")].reason",
     "description": "Why it is or is not ready (the Ready condition's reason)."},
    {"name": "Canary", "type": "string", "jsonPath": ".status.canaryVersion",
     "description": "Version under canary, if any."},
    {"name": "Tools", "type": "integer", "jsonPath": ".status.toolCount",
     "description": "Number of tools offered."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

ScopeName = Literal["Namespaced"]
