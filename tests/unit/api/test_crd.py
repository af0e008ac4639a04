"""CRD generation (operator/toolfleet/api/crd.py): what the API server and kubectl need."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from toolfleet.api.crd import CrdSpec, build_crd
from toolfleet.api.registry import ALL, TOOLSERVICE
from toolfleet.api.toolservice import (
    GPU,
    Access,
    Autoscaling,
    Resources,
    Rollout,
    ToolServiceSpec,
)

# The fields of apiextensions.k8s.io/v1 JSONSchemaProps: anything else is an
# unknown field that `kubectl apply` warns about or refuses.
JSON_SCHEMA_PROPS = {
    "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum",
    "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems",
    "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
    "required", "items", "allOf", "oneOf", "anyOf", "not", "properties",
    "additionalProperties", "patternProperties", "dependencies", "additionalItems",
    "definitions", "externalDocs", "example", "nullable", "$schema", "$ref", "id",
}
# Structural schemas may not use these at all (or, for the combinators, only in
# a restricted form the generator has no reason to emit).
FORBIDDEN = {"$ref", "anyOf", "oneOf", "allOf", "not", "definitions", "dependencies",
             "additionalItems", "patternProperties"}
SELF_FIELD = re.compile(r"\bself\.([A-Za-z_][A-Za-z0-9_]*)")


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path: properties by name, array items as []."""
    yield path, node
    for name, sub in (node.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{*}}")


def at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The schema node at a dotted path such as .spec.gpu."""
    node = schema
    for part in path.strip(".").split("."):
        node = node["properties"][part]
    return node


TOOLSERVICE_CRD = build_crd(TOOLSERVICE)
TOOLSERVICE_SCHEMA = openapi_schema(TOOLSERVICE_CRD)
CRDS = {spec.kind: build_crd(spec) for spec in ALL}


@pytest.fixture(params=sorted(CRDS))
def crd(request: pytest.FixtureRequest) -> dict[str, Any]:
    return CRDS[request.param]


# -- structural -----------------------------------------------------------------

def test_every_node_is_typed_or_marked_free_form(crd: dict[str, Any]) -> None:
    untyped = [path or "<root>" for path, node in walk(openapi_schema(crd))
               if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields")]
    assert untyped == []


def test_no_node_uses_what_a_structural_schema_forbids(crd: dict[str, Any]) -> None:
    offending = [(path, sorted(FORBIDDEN & set(node))) for path, node in walk(openapi_schema(crd))
                 if FORBIDDEN & set(node)]
    assert offending == []
    closed = [path for path, node in walk(openapi_schema(crd))
              if node.get("additionalProperties") is False]
    assert closed == []


def test_properties_and_additional_properties_never_meet(crd: dict[str, Any]) -> None:
    both = [path for path, node in walk(openapi_schema(crd))
            if "properties" in node and "additionalProperties" in node]
    assert both == []


def test_every_key_is_a_field_the_api_server_knows(crd: dict[str, Any]) -> None:
    unknown = [(path, key) for path, node in walk(openapi_schema(crd)) for key in node
               if key not in JSON_SCHEMA_PROPS and not key.startswith("x-kubernetes-")]
    assert unknown == []


def test_types_are_openapi_types(crd: dict[str, Any]) -> None:
    types = {node["type"] for _, node in walk(openapi_schema(crd)) if "type" in node}
    assert types <= {"object", "array", "string", "integer", "number", "boolean"}


def test_required_names_only_declared_properties(crd: dict[str, Any]) -> None:
    for path, node in walk(openapi_schema(crd)):
        assert set(node.get("required", [])) <= set(node.get("properties", {})), path


def test_every_default_satisfies_its_own_schema(crd: dict[str, Any]) -> None:
    for path, node in walk(openapi_schema(crd)):
        if "default" in node:
            errors = list(Draft202012Validator(node).iter_errors(node["default"]))
            assert errors == [], f"{path}: {errors[0].message if errors else ''}"


# -- nested defaults ------------------------------------------------------------

def _missing_from_default(default: Any, node: dict[str, Any], path: str) -> list[str]:
    """Properties a default leaves out although they are required or have a default."""
    missing: list[str] = []
    if isinstance(default, dict):
        required = set(node.get("required", []))
        for name, sub in (node.get("properties") or {}).items():
            if name not in default:
                if name in required or "default" in sub:
                    missing.append(f"{path}.{name}")
                continue
            missing += _missing_from_default(default[name], sub, f"{path}.{name}")
    elif isinstance(default, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(default):
            missing += _missing_from_default(item, node["items"], f"{path}[{i}]")
    return missing


def test_object_defaults_are_complete_objects(crd: dict[str, Any]) -> None:
    # The API server checks a default against CEL rules before nested defaults
    # apply, so `default: {}` on an object with rules would be refused.
    missing = [m for path, node in walk(openapi_schema(crd)) if "default" in node
               for m in _missing_from_default(node["default"], node, path)]
    assert missing == []


@pytest.mark.parametrize(("path", "model"), [
    (".spec.resources", Resources),
    (".spec.autoscaling", Autoscaling),
    (".spec.rollout", Rollout),
    (".spec.access", Access),
])
def test_an_omitted_section_defaults_to_the_models_defaults(path: str, model: type) -> None:
    assert at(TOOLSERVICE_SCHEMA, path)["default"] == model().to_wire()


def test_the_default_rollout_already_satisfies_its_rules() -> None:
    default = at(TOOLSERVICE_SCHEMA, ".spec.rollout")["default"]
    weights = [step["weight"] for step in default["steps"]]
    assert weights == sorted(set(weights))
    default_scaling = at(TOOLSERVICE_SCHEMA, ".spec.autoscaling")["default"]
    assert default_scaling["minReplicas"] <= default_scaling["maxReplicas"]


def test_an_optional_section_has_no_default() -> None:
    for path in (".spec.gpu", ".spec.model", ".spec.rollout.analysis", ".status.gpu"):
        assert "default" not in at(TOOLSERVICE_SCHEMA, path), path


# -- the schema accepts what the models accept ---------------------------------

def test_a_full_spec_written_by_a_user_passes_the_crd_schema() -> None:
    from .test_toolservice import full, minimal

    validator = Draft202012Validator(at(TOOLSERVICE_SCHEMA, ".spec"))
    for body in (minimal(), full(), ToolServiceSpec.model_validate(full()).to_wire()):
        assert [e.message for e in validator.iter_errors(body)] == []


def test_the_crd_schema_refuses_what_the_models_refuse() -> None:
    from .test_toolservice import minimal

    validator = Draft202012Validator(at(TOOLSERVICE_SCHEMA, ".spec"))
    bad_name = minimal()
    bad_name["tools"][0]["name"] = "9lives"
    array_root = minimal()
    array_root["tools"][0]["inputSchema"] = {"type": "array"}
    for body in (bad_name, array_root, {**minimal(), "port": 0}, {**minimal(), "tools": []}):
        assert list(validator.iter_errors(body)), body


# -- kubectl: names, columns, subresource, explain -------------------------------

def test_names_a_user_types() -> None:
    names = TOOLSERVICE_CRD["spec"]["names"]
    assert TOOLSERVICE_CRD["metadata"]["name"] == "toolservices.toolfleet.io"
    assert (names["kind"], names["plural"], names["singular"]) == (
        "ToolService", "toolservices", "toolservice")
    assert names["shortNames"] == ["ts"]
    assert "ai" in names["categories"]
    assert TOOLSERVICE_CRD["spec"]["scope"] == "Namespaced"


def test_status_is_a_subresource(crd: dict[str, Any]) -> None:
    version = crd["spec"]["versions"][0]
    assert version["subresources"]["status"] == {}
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_kubectl_get_shows_version_ready_reason_canary_tools_age() -> None:
    columns = TOOLSERVICE_CRD["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"].upper() for c in columns] == ["VERSION", "READY", "REASON", "CANARY",
                                                    "TOOLS", "AGE"]
    by_name = {c["name"].upper(): c for c in columns}
    assert by_name["AGE"]["jsonPath"] == ".metadata.creationTimestamp"
    assert by_name["READY"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert by_name["REASON"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].reason'


def test_every_printer_column_reads_a_field_the_status_has(crd: dict[str, Any]) -> None:
    schema = openapi_schema(crd)
    for column in crd["spec"]["versions"][0].get("additionalPrinterColumns", []):
        path = column["jsonPath"]
        if path.startswith(".metadata."):
            continue
        field = re.match(r"^(\.status\.[A-Za-z]+)", path)
        assert field, path
        node = at(schema, field.group(1))
        if column["type"] == "integer":
            assert node["type"] == "integer", path


def test_every_spec_field_is_described_for_kubectl_explain(crd: dict[str, Any]) -> None:
    spec = at(openapi_schema(crd), ".spec")
    undescribed = [f".spec{path}" for path, node in walk(spec)
                   if not path.endswith(("[]", "{*}")) and not node.get("description")]
    assert undescribed == []


def test_kubectl_explain_spec_gpu_describes_each_field() -> None:
    gpu = at(TOOLSERVICE_SCHEMA, ".spec.gpu")
    assert gpu["description"]
    fields = {name: node.get("description", "") for name, node in gpu["properties"].items()}
    assert set(fields) == {(info.alias or name) for name, info in GPU.model_fields.items()}
    assert all(fields.values()), fields
    assert "nvidia.com/gpu.product" in fields["products"]
    assert "nvidia.com/gpu.memory" in fields["minMemoryMiB"]


def test_the_root_says_what_the_kind_is(crd: dict[str, Any]) -> None:
    schema = openapi_schema(crd)
    assert schema["description"]
    assert schema["required"] == ["spec"]
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}


# -- CEL rules -------------------------------------------------------------------

def rules(path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = at(TOOLSERVICE_SCHEMA, path).get("x-kubernetes-validations", [])
    return found


def test_cel_min_replicas_not_above_max() -> None:
    assert [r["rule"] for r in rules(".spec.autoscaling")] == [
        "self.minReplicas <= self.maxReplicas"]


def test_cel_mig_profile_goes_with_mig_sharing() -> None:
    texts = [r["rule"] for r in rules(".spec.gpu")]
    assert "(self.sharing == 'mig') == has(self.migProfile)" in texts
    assert "self.sharing != 'mig' || self.count == 1" in texts


def test_cel_tool_names_are_unique() -> None:
    assert "self.tools.all(t, self.tools.exists_one(u, u.name == t.name))" in [
        r["rule"] for r in rules(".spec")]


def test_cel_node_selector_keys_are_label_keys() -> None:
    assert any("self.nodeSelector.all(k, k.matches(" in r["rule"] for r in rules(".spec"))


def test_cel_canary_weights_rise() -> None:
    texts = [r["rule"] for r in rules(".spec.rollout")]
    assert any("isSorted()" in t and "exists_one" in t and "weight" in t for t in texts)
    assert "self.trafficRouting != 'gatewayAPI' || has(self.gatewayRef)" in texts


def _rule_nodes(crd: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for path, node in walk(openapi_schema(crd)):
        for rule in node.get("x-kubernetes-validations", []):
            yield path, node, rule


def test_every_cel_rule_has_a_message_and_names_real_fields(crd: dict[str, Any]) -> None:
    for path, node, rule in _rule_nodes(crd):
        assert rule.get("message"), (path, rule)
        props = set(node.get("properties", {}))
        assert set(SELF_FIELD.findall(rule["rule"])) <= props, (path, rule["rule"])
        if "fieldPath" in rule:
            assert rule["fieldPath"].lstrip(".") in props, (path, rule["fieldPath"])
        if "reason" in rule:
            assert rule["reason"] in {"FieldValueInvalid", "FieldValueRequired",
                                      "FieldValueDuplicate", "FieldValueForbidden"}


def test_lists_a_cel_rule_iterates_are_bounded(crd: dict[str, Any]) -> None:
    # The API server estimates a rule's cost from maxItems; unbounded lists refuse the CRD.
    for path, node, rule in _rule_nodes(crd):
        for name in SELF_FIELD.findall(rule["rule"]):
            sub = node["properties"][name]
            if sub.get("type") == "array":
                assert "maxItems" in sub, (path, name)


def test_crd_spec_carries_its_names_into_the_object() -> None:
    spec = CrdSpec(kind="Thing", plural="things", singular="thing",
                   spec_model=Resources, status_model=Resources, description="A thing.")
    crd = build_crd(spec)
    assert crd["metadata"]["name"] == "things.toolfleet.io"
    assert crd["spec"]["names"]["listKind"] == "ThingList"
    assert "shortNames" not in crd["spec"]["names"]
    assert "additionalPrinterColumns" not in crd["spec"]["versions"][0]
