"""`toolfleet validate`: what kubectl apply would refuse, found offline, with the fix."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.e2e.test_toolservice_validation import CASES, VALID

from .fixtures import CPU_SAMPLE, GPU_SAMPLE, REPO, SAMPLES, sample, toolfleet, write


def test_the_samples_are_valid_with_vendor_warnings() -> None:
    result = toolfleet("validate", "-f", SAMPLES)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert f"{CPU_SAMPLE} (document 1): ToolService/text-stats: 1 warning" in lines
    assert any(line.startswith("  warning (openai): spec.tools[0].inputSchema.properties.text"
                               ".maxLength: OpenAI strict mode is not possible") for line in lines)
    assert lines[-1] == "2 document(s) checked: 0 error(s), 2 warning(s)"


def test_the_services_own_manifests_are_valid() -> None:
    result = toolfleet("validate", "-f", REPO / "services")
    assert result.exit_code == 0, result.output
    assert "2 document(s) checked: 0 error(s)" in result.stdout


@pytest.mark.parametrize(("problem", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_what_the_api_server_refuses_fails_naming_the_field(
        tmp_path: Path, problem: str, mutate: Callable[[dict[str, Any]], None],
        expected: list[str]) -> None:
    manifest = copy.deepcopy(VALID)
    mutate(manifest)
    path = write(tmp_path, "broken.yaml", manifest)

    result = toolfleet("validate", "-f", path)

    assert result.exit_code == 1, f"{problem}: {result.output}"
    assert f"{path} (document 1): ToolService/{manifest['metadata']['name']}:" in result.stdout
    # The field kubectl names, or the object holding it (inputSchema for inputSchema.type).
    field = expected[0]
    named = [line.split(": ", 2)[1] for line in result.stdout.splitlines()
             if line.startswith("  error: ")]
    assert any(field == n or field.startswith(n + ".") or n.startswith(field) for n in named), \
        f"{problem}: {field} not among {named}"


def test_cross_field_rules_say_what_to_change(tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["autoscaling"] = {"minReplicas": 5, "maxReplicas": 2}
    manifest["spec"]["rollout"] = {"strategy": "canary", "trafficRouting": "gatewayAPI",
                                   "steps": [{"weight": 50}, {"weight": 10}]}
    result = toolfleet("validate", "-f", write(tmp_path, "ts.yaml", manifest))

    assert result.exit_code == 1
    assert "  error: spec.autoscaling.minReplicas: minReplicas must not exceed maxReplicas" \
        in result.stdout.splitlines()
    assert "  error: spec.rollout.steps: canary step weights must rise strictly from one step " \
        "to the next" in result.stdout
    assert "  error: spec.rollout.gatewayRef: gatewayRef is required when trafficRouting is " \
        "gatewayAPI" in result.stdout


def test_a_duplicate_tool_name_is_reported_once_where_it_is(tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["tools"] *= 2
    result = toolfleet("validate", "-f", write(tmp_path, "ts.yaml", manifest))

    assert result.exit_code == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("  error")]
    assert errors == ["  error: spec.tools[1].name: 'count_words' is already the name of "
                      "tools[0]; tool names must be unique within a ToolService"]


def test_each_document_of_a_file_is_named_by_position(tmp_path: Path) -> None:
    good, bad = sample(), sample()
    bad["metadata"]["name"] = "typo-in-field"
    bad["spec"]["imagee"] = bad["spec"].pop("image")
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    path = write(tmp_path, "fleet.yaml", good, config_map, bad)

    result = toolfleet("validate", "-f", path)

    assert result.exit_code == 1
    assert f"{path} (document 1): ToolService/text-stats: 1 warning" in result.stdout
    assert f"{path} (document 3): ToolService/typo-in-field: 2 errors, 1 warning" \
        in result.stdout
    assert "  error: spec.image: is required" in result.stdout
    assert "  error: spec.imagee: is not a known field; check its spelling" in result.stdout
    assert result.stdout.splitlines()[-1] == (
        "2 document(s) checked, 1 skipped (not ToolService or ToolCatalog): "
        "2 error(s), 2 warning(s)")


def test_a_tool_schema_error_says_how_to_fix_it(tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["tools"][0]["inputSchema"]["properties"]["text"]["type"] = "strng"
    result = toolfleet("validate", "-f", write(tmp_path, "ts.yaml", manifest))

    assert result.exit_code == 1
    assert "  error: spec.tools[0].inputSchema.properties.text.type: 'strng' is not a JSON " \
        "Schema type; use one of string, number" in result.stdout


def test_a_toolcatalog_is_checked_too(tmp_path: Path) -> None:
    catalog = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
               "metadata": {"name": "search"},
               "spec": {"exposures": ["public", "everyone"]}}
    result = toolfleet("validate", "-f", write(tmp_path, "tc.yaml", catalog))

    assert result.exit_code == 1
    assert "ToolCatalog/search: 1 error" in result.stdout
    assert "  error: spec.exposures[1]: Input should be 'public', 'internal' or 'private' " \
        "(got 'everyone')" in result.stdout


def test_a_valid_toolcatalog_passes(tmp_path: Path) -> None:
    catalog = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
               "metadata": {"name": "search", "namespace": "team-a"},
               "spec": {"selector": {"matchLabels": {"team": "search"}},
                        "formats": ["openai", "mcp"]}}
    result = toolfleet("validate", "-f", write(tmp_path, "tc.yaml", catalog))
    assert result.exit_code == 0, result.output
    assert "ToolCatalog/search: valid" in result.stdout


@pytest.mark.parametrize(("change", "expected"), [
    (lambda m: m.update(kind="ToolServce"),
     "  error: kind: ToolServce is not a kind of toolfleet.io/v1alpha1; use ToolService or "
     "ToolCatalog"),
    (lambda m: m.update(apiVersion="toolfleet.io/v1"),
     "  error: apiVersion: must be toolfleet.io/v1alpha1 (got 'toolfleet.io/v1')"),
    (lambda m: m["metadata"].pop("name"), "  error: metadata.name: is required"),
    (lambda m: m["metadata"].update(name="Text_Stats"),
     "  error: metadata.name: 'Text_Stats': metadata.name must be a DNS-1035 label (lowercase "
     "letters, digits and -, starting with a letter) of at most 52 characters"),
    (lambda m: m.pop("spec"),
     "  error: spec: is required; `kubectl explain toolservice.spec` lists its fields"),
], ids=["kind", "apiVersion", "no name", "bad name", "no spec"])
def test_the_envelope_is_checked(tmp_path: Path, change: Callable[[dict[str, Any]], Any],
                                 expected: str) -> None:
    manifest = sample()
    change(manifest)
    result = toolfleet("validate", "-f", write(tmp_path, "ts.yaml", manifest))
    assert result.exit_code == 1
    assert any(line.startswith(expected) for line in result.stdout.splitlines()), result.stdout


def test_stdin_and_lists() -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [sample(), sample(GPU_SAMPLE)]}
    result = toolfleet("validate", "-f", "-", input=yaml.safe_dump(listed))
    assert result.exit_code == 0, result.output
    assert "<stdin> (document 2): ToolService/doc-embedder: 1 warning" in result.stdout


def test_nothing_to_check_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "cm.yaml", {"apiVersion": "v1", "kind": "ConfigMap",
                                       "metadata": {"name": "x"}})
    result = toolfleet("validate", "-f", path)
    assert result.exit_code == 1
    assert f"error: no ToolService or ToolCatalog found in {path}" in result.stderr


def test_unreadable_yaml_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: [unclosed\n")
    result = toolfleet("validate", "-f", path)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}: 1 error\n  error: file: cannot be read as YAML "
                                    "or JSON: while parsing")


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = toolfleet("validate", "-f", tmp_path / "nope.yaml")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_a_toolcatalog_named_default_is_refused(tmp_path: Path) -> None:
    catalog = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
               "metadata": {"name": "default", "namespace": "team-a"}, "spec": {}}
    result = toolfleet("validate", "-f", write(tmp_path, "tc.yaml", catalog))

    assert result.exit_code == 1
    assert "metadata.name: 'default': metadata.name must not be default" in result.stdout


def test_the_sample_toolcatalog_is_valid() -> None:
    result = toolfleet("validate", "-f", REPO / "config" / "catalogs")
    assert result.exit_code == 0, result.output
    assert "ToolCatalog/search-tools: valid" in result.stdout


ODATA_TOOL = {"name": "list_users", "description": "List directory users.",
              "inputSchema": {"type": "object", "properties": {
                  "$top": {"type": "integer"}, "$filter": {"type": "string"},
                  "@odata.type": {"type": "string"},
                  "paths": {"type": "array", "description": "files to read"}}}}


def test_a_tool_that_only_needs_rewrites_and_renames_is_valid_and_each_format_is_named(
        tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["tools"] = [ODATA_TOOL]
    result = toolfleet("validate", "-f", write(tmp_path, "odata.yaml", manifest))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "  tools[0] list_users: openai: rewritten: inputSchema.properties.paths: items {} " \
        "added (an array without items)" in lines
    assert "  tools[0] list_users: anthropic: renamed: '$filter' published as '_filter'; " \
        "'@odata.type' published as '_odata.type'; '$top' published as '_top'" in lines
    assert any(line.startswith("  tools[0] list_users: gemini: rewritten: ") for line in lines)
    assert "  tools[0] list_users: mcp: as written" in lines


def test_a_tool_one_format_leaves_out_is_a_warning_naming_the_format(tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["tools"] = [{**ODATA_TOOL, "inputSchema": {
        "type": "object", "properties": {"$top": {"type": "integer"}},
        "patternProperties": {"^\\$": {"type": "integer"}}}}]
    result = toolfleet("validate", "-f", write(tmp_path, "odata.yaml", manifest))

    assert result.exit_code == 0, result.output
    assert "  warning (anthropic): spec.tools[0].inputSchema: left out of the anthropic " \
        "catalog, which has no exact form of it: inputSchema.patternProperties: " \
        "patternProperties match ['$top'], so renaming would change which schemas apply; " \
        "no reversible rename of the property keys Anthropic refuses" in result.stdout
    assert "  tools[0] list_users: anthropic: left out (" in result.stdout
