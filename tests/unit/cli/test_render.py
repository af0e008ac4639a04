"""`toolfleet render`: the objects the operator would apply, like `helm template`."""

from __future__ import annotations

from pathlib import Path

import yaml

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.cli.render import PLACEHOLDER_UID
from toolfleet.resources.children import build_children
from toolfleet.resources.meta import Owner
from toolfleet.settings import Settings

from .fixtures import CPU_SAMPLE, SAMPLES, sample, toolfleet, write

CHILD_KINDS = ["ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler",
               "PodDisruptionBudget", "NetworkPolicy"]


def test_the_children_are_what_the_operator_builds() -> None:
    result = toolfleet("render", "-f", CPU_SAMPLE)

    assert result.exit_code == 0, result.output
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    manifest = sample()
    owner = Owner(name="text-stats", namespace="default", uid=PLACEHOLDER_UID,
                  spec=ToolServiceSpec.model_validate(manifest["spec"]))
    assert rendered == build_children(owner, Settings.from_env())
    assert [d["kind"] for d in rendered] == CHILD_KINDS
    assert all(d["metadata"]["ownerReferences"][0]["uid"] == PLACEHOLDER_UID for d in rendered)
    assert result.stdout.count(f"# Source: {CPU_SAMPLE} (document 1): ToolService/text-stats") \
        == len(CHILD_KINDS)


def test_the_namespace_comes_from_the_flag_or_the_manifest(tmp_path: Path) -> None:
    flagged = toolfleet("render", "-f", CPU_SAMPLE, "-n", "team-a")
    assert {d["metadata"]["namespace"] for d in yaml.safe_load_all(flagged.stdout)
            if d} == {"team-a"}

    manifest = sample()
    manifest["metadata"]["namespace"] = "team-b"
    written = toolfleet("render", "-f", write(tmp_path, "ts.yaml", manifest))
    assert {d["metadata"]["namespace"] for d in yaml.safe_load_all(written.stdout)
            if d} == {"team-b"}


def test_namespaces_that_disagree_are_refused(tmp_path: Path) -> None:
    manifest = sample()
    manifest["metadata"]["namespace"] = "team-b"
    result = toolfleet("render", "-f", write(tmp_path, "ts.yaml", manifest), "-n", "team-a")

    assert result.exit_code == 1
    assert "  error: metadata.namespace: is 'team-b' but --namespace is 'team-a'; drop one " \
        "of them or make them agree" in result.stderr
    assert result.stdout == ""


def test_every_toolservice_of_a_directory_is_rendered() -> None:
    result = toolfleet("render", "-f", SAMPLES)
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(result.stdout) if d}
    assert result.exit_code == 0 and names == {"text-stats", "doc-embedder"}


def test_a_broken_toolservice_is_not_rendered(tmp_path: Path) -> None:
    manifest = sample()
    manifest["spec"]["autoscaling"]["minReplicas"] = 9
    result = toolfleet("render", "-f", write(tmp_path, "ts.yaml", manifest))

    assert result.exit_code == 1
    assert "  error: spec.autoscaling.minReplicas: minReplicas must not exceed maxReplicas" \
        in result.stderr
    assert result.stdout == ""


def test_no_toolservice_is_an_error(tmp_path: Path) -> None:
    catalog = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog",
               "metadata": {"name": "c"}, "spec": {}}
    result = toolfleet("render", "-f", write(tmp_path, "tc.yaml", catalog))
    assert result.exit_code == 1
    assert "Error: no ToolService found in" in result.stderr


def test_a_bad_setting_names_the_variable() -> None:
    result = toolfleet("render", "-f", CPU_SAMPLE, env={"TOOLFLEET_HTTP_PORT": "http"})
    assert result.exit_code == 1
    assert "TOOLFLEET_HTTP_PORT must be an integer (got 'http')" in result.stderr
