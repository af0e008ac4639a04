"""The CEL rules' Python twins (operator/toolfleet/api/rules.py) agree with the CRDs.

The e2e test tests/e2e/test_toolservice_validation.py shows which malformed
ToolServices the API server refuses and which field it names; the same inputs
must be refused offline, naming the same field.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from tests.e2e.test_toolservice_validation import CASES, VALID

from toolfleet.api import rules
from toolfleet.api.crd import build_crd
from toolfleet.api.registry import ALL
from toolfleet.api.toolservice import NAME_RULES, ToolServiceSpec
from toolfleet.jsonschema.paths import format_path


def declared_rules() -> set[tuple[type[BaseModel], str]]:
    return {(model, rule["rule"]) for spec in ALL for model in rules.nested_models(spec.spec_model)
            for rule in rules.cel_rules(model)}


def root_rules() -> set[str]:
    return {rule["rule"] for spec in ALL for rule in spec.root_validations}


def crd_rules(node: Any) -> list[str]:
    """Every CEL rule text anywhere in a generated CRD."""
    found: list[str] = []
    if isinstance(node, dict):
        found += [rule["rule"] for rule in node.get("x-kubernetes-validations", [])]
        for value in node.values():
            found += crd_rules(value)
    elif isinstance(node, list):
        for value in node:
            found += crd_rules(value)
    return found


def offline_paths(manifest: Any) -> list[str]:
    """The fields refused offline: by the name rules, the models' schema, the CEL twins."""
    spec = manifest["spec"]
    paths = [v.path for v in rules.name_violations(NAME_RULES, manifest["metadata"]["name"])]
    try:
        ToolServiceSpec.model_validate(spec)
    except ValidationError as error:
        paths += [format_path("spec", tuple(e["loc"])) for e in error.errors()]
    paths += [v.path for v in rules.violations(ToolServiceSpec, spec)]
    return paths


def test_every_cel_rule_has_a_python_twin_and_every_twin_a_rule() -> None:
    assert declared_rules() == set(rules.CHECKS)
    assert root_rules() == set(rules.NAME_CHECKS)


def test_the_walk_finds_every_rule_the_generated_crds_carry() -> None:
    in_crds = sorted(rule for spec in ALL for rule in crd_rules(build_crd(spec)))
    assert in_crds == sorted([*(rule for _, rule in declared_rules()), *root_rules()])


def test_the_valid_sample_breaks_no_rule() -> None:
    assert rules.violations(ToolServiceSpec, VALID["spec"]) == []


@pytest.mark.parametrize(("problem", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_what_the_api_server_refuses_is_refused_offline_naming_the_field(
        problem: str, mutate: Callable[[dict[str, Any]], None], expected: list[str]) -> None:
    manifest = copy.deepcopy(VALID)
    mutate(manifest)
    field = expected[0]

    paths = offline_paths(manifest)

    assert paths, f"{problem}: accepted offline, refused by the API server"
    # The API server may name a field below the one the models name (inputSchema.type
    # against inputSchema), or the same one.
    assert any(field == path or field.startswith(path + ".") or path.startswith(field)
               for path in paths), f"{problem}: {field} not among {paths}"


def spec_with(**sections: Any) -> dict[str, Any]:
    spec = copy.deepcopy(VALID["spec"])
    spec.update(sections)
    return spec


# Inputs at the edges of each rule, and what the API server's CEL says of them.
EDGES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("min equal to max", spec_with(autoscaling={"minReplicas": 3, "maxReplicas": 3}), []),
    ("min above the default max",
     spec_with(autoscaling={"minReplicas": 4}), ["spec.autoscaling.minReplicas"]),
    ("mig with a profile and one slice",
     spec_with(gpu={"sharing": "mig", "migProfile": "1g.10gb", "count": 1}), []),
    ("mig with two slices",
     spec_with(gpu={"sharing": "mig", "migProfile": "1g.10gb", "count": 2}),
     ["spec.gpu.count"]),
    ("time slicing with a profile",
     spec_with(gpu={"sharing": "timeSlicing", "migProfile": "1g.10gb"}),
     ["spec.gpu.migProfile"]),
    ("one canary step", spec_with(rollout={"strategy": "canary", "steps": [{"weight": 40}]}), []),
    ("no canary steps", spec_with(rollout={"strategy": "canary", "steps": []}), []),
    ("rising weights to 100",
     spec_with(rollout={"steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}]}), []),
    ("a repeated weight",
     spec_with(rollout={"steps": [{"weight": 20}, {"weight": 20}]}), ["spec.rollout.steps"]),
    ("gateway routing with a gateway",
     spec_with(rollout={"trafficRouting": "gatewayAPI", "gatewayRef": {"name": "gw"}}), []),
    ("a gateway without gateway routing", spec_with(rollout={"gatewayRef": {"name": "gw"}}), []),
    ("env with a secret only",
     spec_with(env=[{"name": "A", "secretKeyRef": {"name": "s", "key": "k"}}]), []),
    ("env with an empty value", spec_with(env=[{"name": "A", "value": ""}]), []),
    ("env with neither value nor secret", spec_with(env=[{"name": "A"}]), ["spec.env[0]"]),
    ("the second of two env vars broken",
     spec_with(env=[{"name": "A", "value": "x"}, {"name": "B"}]), ["spec.env[1]"]),
    ("a node selector of label keys",
     spec_with(nodeSelector={"toolfleet.io/real-node": "true", "disk": "ssd"}), []),
    ("a node selector key with a space", spec_with(nodeSelector={"real node": "true"}),
     ["spec.nodeSelector"]),
    ("a node selector key with an empty name", spec_with(nodeSelector={"toolfleet.io/": "x"}),
     ["spec.nodeSelector"]),
    ("a toleration of every taint", spec_with(tolerations=[{"operator": "Exists"}]), []),
    ("a toleration of every taint by value", spec_with(tolerations=[{"value": "x"}]),
     ["spec.tolerations[0].operator"]),
    ("Exists with a value",
     spec_with(tolerations=[{"key": "k", "operator": "Exists", "value": "x"}]),
     ["spec.tolerations[0].value"]),
    ("tolerationSeconds for NoExecute",
     spec_with(tolerations=[{"key": "k", "effect": "NoExecute", "tolerationSeconds": 0}]), []),
    ("tolerationSeconds for NoSchedule",
     spec_with(tolerations=[{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]),
     ["spec.tolerations[0].tolerationSeconds"]),
    ("two tools of one name",
     spec_with(tools=[VALID["spec"]["tools"][0]] * 2), ["spec.tools"]),
]


@pytest.mark.parametrize(("case", "spec", "expected"), EDGES, ids=[e[0] for e in EDGES])
def test_rules_at_their_edges(case: str, spec: dict[str, Any], expected: list[str]) -> None:
    assert [v.path for v in rules.violations(ToolServiceSpec, spec)] == expected


def test_messages_are_the_cel_rules_own() -> None:
    found = rules.violations(ToolServiceSpec, spec_with(
        autoscaling={"minReplicas": 5, "maxReplicas": 2}))
    assert [str(v) for v in found] == [
        "spec.autoscaling.minReplicas: minReplicas must not exceed maxReplicas"]


def test_an_object_of_the_wrong_type_is_left_to_the_schema() -> None:
    # minReplicas is not a number: the schema says so; the rule has nothing to compare.
    spec = spec_with(autoscaling={"minReplicas": "many", "maxReplicas": 2})
    assert rules.violations(ToolServiceSpec, spec) == []
    assert "spec.autoscaling.minReplicas" in offline_paths({**VALID, "spec": spec})


def test_a_rule_without_a_twin_is_reported_with_the_fix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = next(k for k in rules.CHECKS if k[0] is ToolServiceSpec)
    monkeypatch.delitem(rules.CHECKS, key)
    with pytest.raises(LookupError, match=r"no Python twin; add one to toolfleet\.api\.rules"):
        rules.violations(ToolServiceSpec, VALID["spec"])
