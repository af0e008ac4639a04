"""The GPU part of the ToolService API: what each replica needs, and what fits now.

Part of toolfleet.io/v1alpha1 (see `api.toolservice`). Labels and resource names
are those of the NVIDIA GPU operator (gpu-feature-discovery: nvidia.com/gpu.product,
nvidia.com/gpu.memory; the device plugin: nvidia.com/gpu, nvidia.com/mig-<profile>).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field

from toolfleet.api.common import ApiModel

MIG_PROFILE_PATTERN = r"^[1-7]g\.[0-9]+gb$"


class GPUSharing(StrEnum):
    """How a pod shares the GPUs it is given."""

    exclusive = "exclusive"
    time_slicing = "timeSlicing"
    mig = "mig"


class GPU(ApiModel):
    """The GPUs each replica needs, and which nodes may provide them."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": [
        {"rule": "(self.sharing == 'mig') == has(self.migProfile)",
         "message": "migProfile is required when sharing is mig, and only then",
         "fieldPath": ".migProfile", "reason": "FieldValueInvalid"},
        {"rule": "self.sharing != 'mig' || self.count == 1",
         "message": "with sharing mig, count must be 1 (one MIG slice per replica)",
         "fieldPath": ".count", "reason": "FieldValueInvalid"},
    ]})

    count: int = Field(default=1, ge=1, le=16, description="GPUs (or MIG slices) per replica.")
    products: list[str] = Field(
        default_factory=list, max_length=16,
        description="Acceptable values of the nvidia.com/gpu.product node label, "
        "e.g. NVIDIA-A100-SXM4-80GB. Empty: any product.",
    )
    min_memory_mi_b: int | None = Field(
        default=None, alias="minMemoryMiB", ge=1,
        description="Least GPU memory in MiB, compared with the nvidia.com/gpu.memory node label.",
    )
    sharing: GPUSharing = Field(
        default=GPUSharing.exclusive,
        description="exclusive: whole GPUs (nvidia.com/gpu). timeSlicing: GPUs advertised by the "
        "device plugin's time-slicing replicas (nvidia.com/gpu). mig: a MIG slice "
        "(nvidia.com/mig-<migProfile>).",
    )
    mig_profile: str | None = Field(
        default=None, pattern=MIG_PROFILE_PATTERN, max_length=16,
        description="MIG profile such as 1g.10gb; required when sharing is mig.",
    )
    runtime_class_name: str | None = Field(
        default=None, max_length=253,
        description="RuntimeClass for the pods, e.g. nvidia, where the cluster uses one.",
    )

    def resource_name(self) -> str:
        """The extended resource each replica requests."""
        if self.sharing == GPUSharing.mig.value:
            return f"nvidia.com/mig-{self.mig_profile}"
        return "nvidia.com/gpu"


class GPUStatus(ApiModel):
    """What the GPU inventory says about this service."""

    matching_nodes: list[str] = Field(default_factory=list,
                                      description="Ready nodes that satisfy spec.gpu.")
    schedulable_replicas: int = Field(default=0, ge=0,
                                      description="Replicas that fit on those nodes now.")
