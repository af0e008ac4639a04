"""Malformed ToolServices are refused by `kubectl apply`, with the field named."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from tests.e2e.support import REPO, Cluster

VALID: dict[str, Any] = yaml.safe_load(
    (REPO / "config" / "samples" / "gpu-toolservice.yaml").read_text())


def tool(**overrides: Any) -> dict[str, Any]:
    base = copy.deepcopy(VALID["spec"]["tools"][0])
    base.update(overrides)
    return base


def set_path(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(obj: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = obj
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return mutate


DELETE = object()

# (what is wrong, mutation, text the error must contain: the field, and what is expected)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    ("negative min replicas", set_path("spec.autoscaling.minReplicas", -1),
     ["spec.autoscaling.minReplicas", "greater than or equal to 1"]),
    ("min above max", set_path("spec.autoscaling", {"minReplicas": 5, "maxReplicas": 2}),
     ["spec.autoscaling.minReplicas", "must not exceed maxReplicas"]),
    ("mig without a profile", set_path("spec.gpu", {"count": 1, "sharing": "mig"}),
     ["spec.gpu.migProfile", "required when sharing is mig"]),
    ("profile without mig", set_path("spec.gpu", {"count": 1, "migProfile": "1g.10gb"}),
     ["spec.gpu.migProfile"]),
    ("unknown sharing mode", set_path("spec.gpu.sharing", "shared"),
     ["spec.gpu.sharing", "supported values"]),
    ("zero GPUs", set_path("spec.gpu.count", 0), ["spec.gpu.count"]),
    ("duplicate tool names", set_path("spec.tools", [tool(), tool()]),
     ["spec.tools", "unique"]),
    ("schema root is an array",
     set_path("spec.tools", [tool(inputSchema={"type": "array", "items": {"type": "string"}})]),
     ["spec.tools[0].inputSchema.type", "object"]),
    ("schema without a type", set_path("spec.tools", [tool(inputSchema={"properties": {}})]),
     ["spec.tools[0].inputSchema.type", "Required value"]),
    ("missing image", set_path("spec.image", DELETE), ["spec.image", "Required value"]),
    ("empty image", set_path("spec.image", ""), ["spec.image"]),
    ("tool name with a space", set_path("spec.tools", [tool(name="embed documents")]),
     ["spec.tools[0].name", "should match"]),
    ("tool name too long", set_path("spec.tools", [tool(name="t" * 65)]),
     ["spec.tools[0].name"]),
    ("no tools", set_path("spec.tools", []), ["spec.tools"]),
    ("version not semver", set_path("spec.version", "latest"), ["spec.version"]),
    ("port out of range", set_path("spec.port", 70000), ["spec.port"]),
    ("canary weights falling",
     set_path("spec.rollout", {"strategy": "canary", "steps": [{"weight": 50}, {"weight": 10}]}),
     ["spec.rollout.steps", "rise"]),
    ("canary weight over 100",
     set_path("spec.rollout", {"strategy": "canary", "steps": [{"weight": 150}]}),
     ["spec.rollout.steps[0].weight"]),
    ("gateway routing without a gateway",
     set_path("spec.rollout", {"strategy": "canary", "trafficRouting": "gatewayAPI"}),
     ["spec.rollout.gatewayRef", "required"]),
    ("unknown exposure", set_path("spec.access.exposure", "everyone"),
     ["spec.access.exposure", "supported values"]),
    ("env with value and secret",
     set_path("spec.env", [{"name": "A", "value": "x", "secretKeyRef": {"name": "s", "key": "k"}}]),
     ["spec.env[0]", "exactly one of value or secretKeyRef"]),
    ("bad memory quantity", set_path("spec.resources.memory", "lots"),
     ["spec.resources.memory"]),
    ("name starting with a digit", set_path("metadata.name", "2fast"),
     ["metadata.name", "must be a DNS-1035 label"]),
    ("name too long for its children", set_path("metadata.name", "x" * 53),
     ["metadata.name", "at most 52 characters"]),
    ("name of another service's canary", set_path("metadata.name", "embedder-canary"),
     ["metadata.name", "must not end in -canary"]),
    ("tool timeout of zero", set_path("spec.tools", [tool(timeoutSeconds=0)]),
     ["spec.tools[0].timeoutSeconds"]),
]


@pytest.mark.parametrize(("problem", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed_toolservice_is_rejected_naming_the_field(
        cluster: Cluster, crds: None, namespace: str, problem: str,
        mutate: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    manifest = copy.deepcopy(VALID)
    mutate(manifest)

    result = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest),
                             check=False)

    assert result.returncode != 0, f"{problem}: accepted"
    for text in expected:
        assert text in result.stderr, f"{problem}: {text!r} not in {result.stderr}"


def test_the_valid_manifest_itself_is_accepted(
        cluster: Cluster, crds: None, namespace: str) -> None:
    result = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-",
                             input=json.dumps(VALID), check=False)
    assert result.returncode == 0, result.stderr
