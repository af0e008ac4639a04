"""services/*/deploy/toolservice.yaml: generated from the code, valid ToolServices."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from toolfleet.api.toolservice import ToolServiceSpec

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "hack" / "gen-service-manifests.py"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_service_manifests", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GENERATED: dict[str, str] = load_generator().manifest_files()


def test_one_manifest_per_service() -> None:
    assert sorted(GENERATED) == [
        "services/anomaly-detector/deploy/toolservice.yaml",
        "services/cluster-analyzer/deploy/toolservice.yaml",
    ]


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_committed_manifest_matches_the_code(path: str) -> None:
    committed = ROOT / path
    assert committed.exists(), f"{path} is missing: run hack/gen-service-manifests.py"
    assert committed.read_text() == GENERATED[path], (
        f"{path} differs from what the service's code generates: "
        "run hack/gen-service-manifests.py and commit the result"
    )


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_manifest_is_a_valid_toolservice(path: str) -> None:
    manifest = yaml.safe_load(GENERATED[path])
    name = path.split("/")[1]

    assert (manifest["apiVersion"], manifest["kind"]) == ("toolfleet.io/v1alpha1", "ToolService")
    assert manifest["metadata"]["name"] == name
    assert manifest["metadata"]["labels"]["app.kubernetes.io/name"] == name
    spec = ToolServiceSpec.model_validate(manifest["spec"])
    assert spec.image == f"toolfleet/{name}:{spec.version}"
    assert [(env.name, env.value) for env in spec.env] == [("TOOLFLEET_VERSION", spec.version)]
    assert spec.port == 8080
    assert spec.autoscaling.target_in_flight_requests is not None
    assert spec.rollout.strategy == "canary" and len(spec.rollout.steps) >= 2
    assert spec.access.exposure == "public"
    assert [tool.path for tool in spec.tools] == [f"/tools/{tool.name}" for tool in spec.tools]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [k for k in node if k in ("$ref", "$defs")] + [
            ref for value in node.values() for ref in _refs(value)
        ]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


@pytest.mark.parametrize("path", sorted(GENERATED))
def test_tool_schemas_are_self_contained_json_schema(path: str) -> None:
    for tool in yaml.safe_load(GENERATED[path])["spec"]["tools"]:
        for key in ("inputSchema", "outputSchema"):
            schema = tool[key]
            Draft202012Validator.check_schema(schema)
            assert schema["type"] == "object", f"{tool['name']}.{key}"
            assert _refs(schema) == [], f"{tool['name']}.{key} is not self-contained"


def test_the_example_inputs_satisfy_the_published_schemas() -> None:
    from anomaly_detector.service import SERVICE as anomaly_detector
    from cluster_analyzer.service import SERVICE as cluster_analyzer

    for service in (cluster_analyzer, anomaly_detector):
        [tool] = service.tools
        manifest = yaml.safe_load(GENERATED[f"services/{service.name}/deploy/toolservice.yaml"])
        [published] = manifest["spec"]["tools"]
        Draft202012Validator(published["inputSchema"]).validate(dict(tool.example))
