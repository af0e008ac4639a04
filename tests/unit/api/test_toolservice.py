"""The ToolService models (operator/toolfleet/api/toolservice.py): defaults, errors, wire format."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from toolfleet.api.common import TOOL_NAME_PATTERN, Condition
from toolfleet.api.toolservice import (
    GPU,
    GPUStatus,
    RolloutStatus,
    Tool,
    ToolServiceSpec,
    ToolServiceStatus,
)

PROPERTIES = settings(max_examples=50, deadline=None)


def minimal() -> dict[str, Any]:
    """The smallest ToolService spec a user can apply."""
    return {
        "version": "1.0.0",
        "image": "registry.example/forecaster:1.0.0",
        "tools": [{"name": "forecast", "description": "Forecast a time series.",
                   "inputSchema": {"type": "object"}}],
    }


def full() -> dict[str, Any]:
    """A spec that sets every section, as a user writes it (camelCase)."""
    return {
        "version": "2.1.0-rc.1+build.7",
        "image": "registry.example/detector:2.1.0",
        "port": 9000,
        "args": ["--workers", "2"],
        "env": [{"name": "LOG_LEVEL", "value": "debug"},
                {"name": "API_KEY", "secretKeyRef": {"name": "detector", "key": "api-key"}}],
        "resources": {"cpu": "2", "memory": "4Gi"},
        "model": {"uri": "s3://models/detector/2.1.0", "format": "onnx"},
        "protocol": "mcp",
        "healthPath": "/live",
        "readinessPath": "/ready",
        "tools": [{
            "name": "detect_anomalies", "title": "Detect anomalies",
            "description": "Score rows for anomalies.", "path": "/v1/detect",
            "inputSchema": {"type": "object", "properties": {"rows": {"type": "array"}},
                            "required": ["rows"], "additionalProperties": False},
            "outputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": True, "openWorldHint": False},
            "timeoutSeconds": 120,
        }],
        "gpu": {"count": 2, "products": ["NVIDIA-A100-SXM4-80GB"], "minMemoryMiB": 40000,
                "sharing": "exclusive", "runtimeClassName": "nvidia"},
        "autoscaling": {"minReplicas": 2, "maxReplicas": 8, "targetCPUUtilization": 70,
                        "targetInFlightRequests": 4, "targetGPUUtilization": 60,
                        "scaleDownStabilizationSeconds": 120},
        "rollout": {"strategy": "canary", "steps": [{"weight": 10, "pauseSeconds": 30},
                                                    {"weight": 50}],
                    "analysis": {"prometheusURL": "http://prometheus.monitoring:9090",
                                 "maxErrorRate": 0.01, "maxP95LatencyMs": 250},
                    "trafficRouting": "gatewayAPI", "gatewayRef": {"name": "public"},
                    "allowBreakingSchemaChange": True},
        "access": {"exposure": "private", "allowedCallers": [{
            "namespaceSelector": {"matchLabels": {"team": "router"}},
            "podSelector": {"matchExpressions": [
                {"key": "app", "operator": "In", "values": ["router"]}]}}]},
    }


def keys(value: Any, skip: frozenset[str] = frozenset({"inputSchema", "outputSchema"})) -> set[str]:
    """Every mapping key in a wire object, leaving out user-written JSON Schemas."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            found.add(key)
            if key not in skip:
                found |= keys(sub, skip)
    elif isinstance(value, list):
        for item in value:
            found |= keys(item, skip)
    return found


# -- defaults ---------------------------------------------------------------

def test_a_minimal_spec_gets_the_documented_defaults() -> None:
    spec = ToolServiceSpec.model_validate(minimal())
    assert spec.port == 8080
    assert (spec.resources.cpu, spec.resources.memory) == ("250m", "256Mi")
    assert spec.protocol == "http"
    assert (spec.health_path, spec.readiness_path) == ("/healthz", "/readyz")
    assert spec.gpu is None and spec.model is None
    assert (spec.autoscaling.min_replicas, spec.autoscaling.max_replicas) == (1, 3)
    assert spec.autoscaling.scale_down_stabilization_seconds == 300
    assert spec.autoscaling.target_cpu_utilization is None
    assert spec.rollout.strategy == "rolling"
    assert [s.weight for s in spec.rollout.steps] == [20, 50]
    assert spec.rollout.traffic_routing == "replicas"
    assert spec.rollout.allow_breaking_schema_change is False
    assert spec.access.exposure == "internal"
    assert spec.access.allowed_callers == []
    assert spec.tools[0].timeout_seconds == 30


def test_gpu_defaults_to_one_whole_gpu_of_any_product() -> None:
    gpu = GPU.model_validate({})
    assert (gpu.count, gpu.products, gpu.sharing) == (1, [], "exclusive")
    assert gpu.resource_name() == "nvidia.com/gpu"


def test_default_steps_are_not_shared_between_specs() -> None:
    first = ToolServiceSpec.model_validate(minimal())
    second = ToolServiceSpec.model_validate(minimal())
    first.rollout.steps.append(first.rollout.steps[0])
    assert len(second.rollout.steps) == 2


# -- validation errors name the field ----------------------------------------

def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    target: Any = out
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return out


@pytest.mark.parametrize(("path", "value"), [
    ("version", "1.0"),
    ("image", ""),
    ("port", 0),
    ("port", 70000),
    ("tools.0.name", "9lives"),
    ("tools.0.name", "has space"),
    ("tools.0.name", "x" * 65),
    ("tools.0.description", ""),
    ("tools.0.inputSchema.type", "array"),
    ("tools.0.path", "no-leading-slash"),
    ("tools.0.timeoutSeconds", 0),
    ("resources.memory", "lots"),
    ("env", [{"name": "1BAD", "value": "x"}]),
    ("gpu", {"count": 0}),
    ("gpu", {"sharing": "mig", "migProfile": "10g.1tb"}),
    ("gpu", {"minMemoryMiB": 0}),
    ("autoscaling", {"minReplicas": 0}),
    ("autoscaling", {"targetCPUUtilization": 101}),
    ("rollout", {"steps": [{"weight": 0}]}),
    ("rollout", {"analysis": {"prometheusURL": "prometheus:9090"}}),
    ("access", {"exposure": "everyone"}),
])
def test_an_invalid_value_is_reported_at_its_camel_case_path(path: str, value: Any) -> None:
    body = _set(minimal(), path, value)
    with pytest.raises(ValidationError) as caught:
        ToolServiceSpec.model_validate(body)
    locations = [".".join(str(p) for p in e["loc"]) for e in caught.value.errors()]
    # The error points into the field the user set (a nested one for objects).
    assert any(loc == path or loc.startswith(path + ".") for loc in locations), locations
    assert any(loc in str(caught.value) for loc in locations)


def test_a_missing_required_field_is_named() -> None:
    body = minimal()
    del body["tools"][0]["inputSchema"]
    with pytest.raises(ValidationError) as caught:
        ToolServiceSpec.model_validate(body)
    assert "tools.0.inputSchema" in str(caught.value)
    assert "Field required" in str(caught.value)


def test_a_misspelt_field_is_refused_by_name() -> None:
    body = {**minimal(), "autoScaling": {"maxReplicas": 5}}
    with pytest.raises(ValidationError) as caught:
        ToolServiceSpec.model_validate(body)
    assert "autoScaling" in str(caught.value)


def test_a_spec_needs_at_least_one_tool() -> None:
    with pytest.raises(ValidationError) as caught:
        ToolServiceSpec.model_validate({**minimal(), "tools": []})
    assert [e["loc"] for e in caught.value.errors()] == [("tools",)]


def test_input_schema_keeps_every_json_schema_keyword() -> None:
    spec = ToolServiceSpec.model_validate(full())
    schema = spec.tools[0].input_schema.to_wire()
    assert schema == full()["tools"][0]["inputSchema"]


# -- GPU.resource_name -------------------------------------------------------

@pytest.mark.parametrize(("gpu", "resource"), [
    ({}, "nvidia.com/gpu"),
    ({"sharing": "exclusive", "count": 4}, "nvidia.com/gpu"),
    ({"sharing": "timeSlicing"}, "nvidia.com/gpu"),
    ({"sharing": "mig", "migProfile": "1g.10gb"}, "nvidia.com/mig-1g.10gb"),
    ({"sharing": "mig", "migProfile": "3g.40gb"}, "nvidia.com/mig-3g.40gb"),
])
def test_the_gpu_resource_follows_the_sharing_mode(gpu: dict[str, Any], resource: str) -> None:
    assert GPU.model_validate(gpu).resource_name() == resource


@PROPERTIES
@given(slices=st.integers(1, 7), memory=st.integers(1, 999))
def test_every_mig_profile_names_its_own_resource(slices: int, memory: int) -> None:
    profile = f"{slices}g.{memory}gb"
    gpu = GPU.model_validate({"sharing": "mig", "migProfile": profile})
    assert gpu.resource_name() == f"nvidia.com/mig-{profile}"


# -- Tool.http_path -----------------------------------------------------------

def test_a_tool_without_a_path_is_posted_to_tools_slash_its_name() -> None:
    tool = Tool.model_validate(minimal()["tools"][0])
    assert tool.http_path() == "/tools/forecast"


def test_a_tool_path_given_by_the_user_is_used_as_is() -> None:
    tool = Tool.model_validate({**minimal()["tools"][0], "path": "/v2/forecast"})
    assert tool.http_path() == "/v2/forecast"


@PROPERTIES
@given(name=st.from_regex(TOOL_NAME_PATTERN, fullmatch=True))
def test_the_default_path_is_one_a_user_could_have_written(name: str) -> None:
    tool = Tool.model_validate({"name": name, "description": "d",
                                "inputSchema": {"type": "object"}})
    path = tool.http_path()
    assert path == f"/tools/{name}"
    # The default passes the same validation as an explicit path.
    assert Tool.model_validate({**tool.to_wire(), "path": path}).http_path() == path


# -- wire format ----------------------------------------------------------------

def contains(wire: Any, written: Any) -> bool:
    """Whether everything the user wrote is in `wire` unchanged (defaults may sit beside it)."""
    if isinstance(written, dict):
        return isinstance(wire, dict) and all(
            key in wire and contains(wire[key], sub) for key, sub in written.items())
    if isinstance(written, list):
        return (isinstance(wire, list) and len(wire) == len(written)
                and all(contains(w, u) for w, u in zip(wire, written, strict=True)))
    return bool(wire == written)


def test_to_wire_gives_back_what_the_user_wrote() -> None:
    spec = ToolServiceSpec.model_validate(full())
    wire = spec.to_wire()
    assert contains(wire, full())
    assert ToolServiceSpec.model_validate(wire) == spec


def test_the_subset_check_notices_a_changed_value() -> None:
    changed = _set(full(), "gpu.minMemoryMiB", 1)
    assert not contains(changed, full())


def test_to_wire_uses_the_camel_case_names_of_the_crd() -> None:
    wire = ToolServiceSpec.model_validate(full()).to_wire()
    assert {"healthPath", "readinessPath", "inputSchema", "outputSchema", "timeoutSeconds",
            "secretKeyRef", "minMemoryMiB", "runtimeClassName", "minReplicas", "maxReplicas",
            "targetCPUUtilization", "targetInFlightRequests", "targetGPUUtilization",
            "scaleDownStabilizationSeconds", "pauseSeconds", "prometheusURL", "maxErrorRate",
            "maxP95LatencyMs", "trafficRouting", "gatewayRef", "allowBreakingSchemaChange",
            "allowedCallers", "namespaceSelector", "podSelector", "matchLabels",
            "matchExpressions", "readOnlyHint", "openWorldHint"} <= keys(wire)
    assert not {k for k in keys(wire) if "_" in k}


def test_to_wire_leaves_unset_optional_fields_out() -> None:
    wire = ToolServiceSpec.model_validate(minimal()).to_wire()
    assert "gpu" not in wire and "model" not in wire
    assert "analysis" not in wire["rollout"] and "gatewayRef" not in wire["rollout"]
    assert {"title", "path", "outputSchema", "annotations"}.isdisjoint(wire["tools"][0])
    assert "targetCPUUtilization" not in wire["autoscaling"]


def test_python_names_build_the_same_spec_as_wire_names() -> None:
    by_wire = ToolServiceSpec.model_validate(full())
    by_python = ToolServiceSpec.model_validate(by_wire.model_dump())
    assert by_python == by_wire


def test_enums_reach_the_wire_as_plain_strings() -> None:
    wire = ToolServiceSpec.model_validate(full()).to_wire()
    assert type(wire["protocol"]) is str and wire["protocol"] == "mcp"
    assert type(wire["gpu"]["sharing"]) is str
    assert type(wire["access"]["exposure"]) is str


def test_status_is_written_in_camel_case() -> None:
    status = ToolServiceStatus(
        observed_generation=3,
        conditions=[Condition(type="Ready", status="True", reason="ReplicasReady",
                              last_transition_time="2025-01-01T00:00:00Z",
                              observed_generation=3)],
        stable_version="1.0.0", stable_revision="abc", canary_version="1.1.0",
        rollout=RolloutStatus(revision="def", version="1.1.0", weight=20, step=0,
                              phase="Progressing", step_started_at="2025-01-01T00:00:00Z"),
        replicas=2, ready_replicas=2, tools=["forecast"], tool_count=1,
        gpu=GPUStatus(matching_nodes=["gpu-0"], schedulable_replicas=4),
    )
    wire = status.to_wire()
    assert {"observedGeneration", "lastTransitionTime", "stableVersion", "stableRevision",
            "canaryVersion", "stepStartedAt", "readyReplicas", "toolCount", "matchingNodes",
            "schedulableReplicas"} <= keys(wire)
    assert not {k for k in keys(wire) if "_" in k}
    assert ToolServiceStatus.model_validate(wire) == status


def test_an_empty_status_reads_back_as_the_defaults() -> None:
    status = ToolServiceStatus.model_validate({})
    assert status.conditions == [] and status.replicas == 0 and status.stable_version is None
    assert status.to_wire() == {"conditions": [], "replicas": 0, "readyReplicas": 0,
                                "tools": [], "toolCount": 0}
