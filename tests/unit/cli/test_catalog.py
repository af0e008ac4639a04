"""`toolfleet catalog`: the catalog routers would read, rendered offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from toolfleet.api.toolcatalog import CatalogFormat

from .fixtures import CPU_SAMPLE, GPU_SAMPLE, SAMPLES, sample, toolfleet, write


def rendered(*args: str | Path) -> Any:
    result = toolfleet("catalog", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_openai_tools_of_the_public_sample() -> None:
    tools = rendered("-f", CPU_SAMPLE, "--format", "openai")

    assert [t["function"]["name"] for t in tools] == ["count_words"]
    assert tools[0]["type"] == "function"
    assert tools[0]["function"]["parameters"]["required"] == ["text"]


@pytest.mark.parametrize("format_", [str(f) for f in CatalogFormat])
def test_every_format_renders(format_: str) -> None:
    assert rendered("-f", CPU_SAMPLE, "--format", format_)


def test_canonical_names_where_to_call_each_tool() -> None:
    document = rendered("-f", CPU_SAMPLE, "-n", "search")

    tool = document["tools"][0]
    assert tool["endpoints"][0]["url"] == "http://text-stats.search.svc.cluster.local:8080"
    assert tool["ready"] is True
    assert tool["path"] == "/tools/count_words"
    assert document["name"] == "default"


def test_services_not_public_are_left_out_saying_how_to_include_them() -> None:
    result = toolfleet("catalog", "-f", SAMPLES, "--format", "mcp")

    assert [t["name"] for t in json.loads(result.stdout)["tools"]] == ["count_words"]
    assert "left out: default/doc-embedder: exposure internal; pass --exposure internal to " \
        "include it" in result.stderr

    both = rendered("-f", SAMPLES, "--format", "mcp", "--exposure", "public",
                    "--exposure", "internal")
    assert sorted(t["name"] for t in both["tools"]) == ["count_words", "embed_documents"]


def test_colliding_names_are_prefixed_or_rejected(tmp_path: Path) -> None:
    twin = sample()
    twin["metadata"]["name"] = "word-counter"
    path = write(tmp_path, "twins.yaml", sample(), twin)

    prefixed = toolfleet("catalog", "-f", path, "--format", "anthropic")
    assert sorted(t["name"] for t in json.loads(prefixed.stdout)) == [
        "text-stats_count_words", "word-counter_count_words"]
    assert "renamed: count_words of default/text-stats, default/word-counter published as " \
        "text-stats_count_words, word-counter_count_words" in prefixed.stderr

    rejected = toolfleet("catalog", "-f", path, "--collision-strategy", "reject",
                         "--format", "anthropic")
    assert json.loads(rejected.stdout) == []
    assert "left out: count_words is offered by default/text-stats, default/word-counter; " \
        "rename one, or use --collision-strategy prefix" in rejected.stderr

    # By default, as the operator's built-in catalog is configured.
    configured = toolfleet("catalog", "-f", path, "--format", "anthropic",
                           env={"TOOLFLEET_DEFAULT_COLLISION_STRATEGY": "reject"})
    assert json.loads(configured.stdout) == []
    misconfigured = toolfleet("catalog", "-f", path,
                              env={"TOOLFLEET_DEFAULT_COLLISION_STRATEGY": "merge"})
    assert misconfigured.exit_code == 1
    assert "use one of reject, prefix" in misconfigured.stderr


def test_compact_is_what_the_endpoint_serves() -> None:
    result = toolfleet("catalog", "-f", CPU_SAMPLE, "--format", "gemini", "--compact")
    assert result.exit_code == 0
    assert result.stdout == json.dumps(json.loads(result.stdout), sort_keys=True,
                                       separators=(",", ":"), ensure_ascii=False)


def test_broken_manifests_are_refused(tmp_path: Path) -> None:
    manifest = sample(GPU_SAMPLE)
    manifest["spec"]["gpu"]["sharing"] = "mig"
    result = toolfleet("catalog", "-f", write(tmp_path, "ts.yaml", manifest))

    assert result.exit_code == 1
    assert "  error: spec.gpu.migProfile: migProfile is required when sharing is mig" \
        in result.stderr
    assert result.stdout == ""


def test_an_unknown_format_is_a_usage_error() -> None:
    result = toolfleet("catalog", "-f", CPU_SAMPLE, "--format", "yaml")
    assert result.exit_code == 2
    assert "'yaml' is not one of 'canonical', 'openai', 'anthropic', 'gemini', 'mcp'" \
        in result.stderr


def _odata_manifest() -> dict[str, Any]:
    manifest = sample()
    manifest["spec"]["tools"] = [{
        "name": "list_users", "description": "List directory users.",
        "inputSchema": {"type": "object", "properties": {
            "$top": {"type": "integer"}, "$filter": {"type": "string"},
            "@odata.type": {"type": "string"},
            "paths": {"type": "array", "description": "files to read"}}}}]
    return manifest


def test_each_vendor_gets_a_form_it_accepts_and_stderr_says_which(tmp_path: Path) -> None:
    path = write(tmp_path, "odata.yaml", _odata_manifest())

    anthropic = toolfleet("catalog", "-f", path, "--format", "anthropic")
    schema = json.loads(anthropic.stdout)[0]["input_schema"]
    assert sorted(schema["properties"]) == ["_filter", "_odata.type", "_top", "paths"]
    assert "renamed for anthropic: list_users: property '$filter' published as '_filter'" \
        in anthropic.stderr

    openai = toolfleet("catalog", "-f", path, "--format", "openai")
    parameters = json.loads(openai.stdout)[0]["function"]["parameters"]
    assert parameters["properties"]["paths"] == {
        "type": "array", "description": "files to read", "items": {}}
    assert "rewritten for openai: list_users: inputSchema.properties.paths: items {} added" \
        in openai.stderr

    canonical = rendered("-f", path)
    assert canonical["tools"][0]["dialects"]["anthropic"]["renames"] == [{"at": [], "keys": {
        "_filter": "$filter", "_odata.type": "@odata.type", "_top": "$top"}}]


def test_more_tools_than_an_openai_request_carries_is_a_warning_naming_128(
        tmp_path: Path) -> None:
    manifests = []
    for part in range(3):  # a ToolService carries at most 64 tools
        manifest = sample()
        manifest["metadata"]["name"] = f"part-{part}"
        manifest["spec"]["tools"] = [
            {"name": f"tool_{i:03d}", "description": "A tool.", "path": f"/t{i}",
             "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}}}
            for i in range(part * 50, min(130, part * 50 + 50))]
        manifests.append(manifest)
    result = toolfleet("catalog", "-f", write(tmp_path, "many.yaml", *manifests),
                       "--format", "openai")

    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 130
    assert "warning: openai: 130 tools, over the 128 tools one OpenAI Chat Completions " \
        "(function tools) request may carry" in result.stderr
    assert "give each consumer a ToolCatalog" in result.stderr
