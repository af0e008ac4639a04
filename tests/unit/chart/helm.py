"""Running helm on the chart, and reading what it renders strictly."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "charts" / "toolfleet"
RELEASE, NAMESPACE = "tf", "tf-system"
FULLNAME = "tf-toolfleet"
GATEWAY = "tf-toolfleet-gateway"


def helm_binary() -> str:
    """helm from PATH, else from the binaries hack/binaries.sh provides; skip if neither."""
    found = shutil.which("helm")
    if found:
        return found
    check = subprocess.run([str(REPO / "hack" / "binaries.sh"), "--check"],
                           capture_output=True, text=True)
    candidate = Path(check.stdout.strip()) / "helm"
    if check.returncode == 0 and candidate.exists():
        return str(candidate)
    pytest.skip("helm not found: run `make binaries` (or put helm on PATH)")


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm without any cluster (rendering and linting need none)."""
    env = {**os.environ, "KUBECONFIG": os.devnull}
    return subprocess.run([helm_binary(), *args], capture_output=True, text=True, env=env,
                          timeout=60)


def schema_refusal(sets: list[str]) -> str:
    """What helm says refusing to render with these `--set` values (fails if it renders)."""
    args = ["template", RELEASE, str(CHART)]
    for item in sets:
        args += ["--set", item]
    result = helm(*args)
    assert result.returncode != 0, f"{sets} rendered"
    assert "values don't meet the specifications of the schema" in result.stderr
    return result.stderr


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys, which kubectl would silently merge."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
    if duplicates:
        raise AssertionError(f"duplicate keys {duplicates} at line {node.start_mark.line + 1}")
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def template(*sets: str, values: dict[str, Any] | None = None,
             tmp_path: Path | None = None) -> list[dict[str, Any]]:
    """The objects `helm template` renders with these --set flags (and values file)."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for item in sets:
        args += ["--set", item]
    if values is not None:
        assert tmp_path is not None
        path = tmp_path / "values.yaml"
        path.write_text(yaml.safe_dump(values))
        args += ["--values", str(path)]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.load_all(result.stdout, Loader=_StrictLoader) if d]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The rendered objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The single rendered object of a kind (with this name, when given)."""
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} objects" + (f" named {name}" if name else "")
    return found[0]


def container(objects: list[dict[str, Any]], deployment: str = FULLNAME) -> dict[str, Any]:
    """The first container of a rendered Deployment: the operator's, or the gateway's."""
    found: dict[str, Any] = one(objects, "Deployment", deployment)["spec"]["template"]["spec"][
        "containers"][0]
    return found


def env(objects: list[dict[str, Any]], deployment: str = FULLNAME) -> dict[str, Any]:
    """A container's environment (the operator's by default): name to value (or valueFrom)."""
    return {e["name"]: e.get("value", e.get("valueFrom"))
            for e in container(objects, deployment)["env"]}
