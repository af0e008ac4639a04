"""The offline commands agree with the API server: what `toolfleet validate` refuses,
`kubectl apply` refuses; what `toolfleet render` prints, the API server accepts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from tests.e2e.support import REPO, Cluster
from tests.e2e.test_toolservice_validation import CASES, VALID
from tests.unit.api.test_rules import EDGES

from toolfleet.cli import main

SAMPLES = REPO / "config" / "samples"


def with_spec(spec: dict[str, Any]) -> dict[str, Any]:
    manifest = copy.deepcopy(VALID)
    manifest["spec"] = spec
    return manifest


def mutated(mutate: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(VALID)
    mutate(manifest)
    return manifest


INPUTS: list[tuple[str, dict[str, Any]]] = (
    [(f"edge: {case}", with_spec(spec)) for case, spec, _ in EDGES]
    + [(f"case: {problem}", mutated(mutate)) for problem, mutate, _ in CASES]
)


@pytest.mark.parametrize(("case", "manifest"), INPUTS, ids=[i[0] for i in INPUTS])
def test_validate_refuses_what_the_api_server_refuses(
        cluster: Cluster, crds: None, namespace: str, tmp_path: Path, case: str,
        manifest: dict[str, Any]) -> None:
    path = tmp_path / "toolservice.yaml"
    path.write_text(yaml.safe_dump(manifest))

    server = cluster.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", str(path),
                             check=False)
    offline = CliRunner().invoke(main, ["validate", "-f", str(path)])

    assert (offline.exit_code == 0) == (server.returncode == 0), (
        f"{case}: API server {'accepts' if server.returncode == 0 else 'refuses'} "
        f"({server.stderr.strip()}), toolfleet validate says:\n{offline.output}")


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.yaml")))
def test_what_render_prints_the_api_server_accepts(
        cluster: Cluster, namespace: str, sample: str) -> None:
    rendered = CliRunner().invoke(main, ["render", "-f", str(SAMPLES / sample),
                                         "-n", namespace])
    assert rendered.exit_code == 0, rendered.output

    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-",
                             input=rendered.stdout, check=False)

    assert result.returncode == 0, result.stderr
    kinds = [json.loads(json.dumps(d))["kind"] for d in yaml.safe_load_all(rendered.stdout) if d]
    assert len(result.stdout.splitlines()) == len(kinds)
