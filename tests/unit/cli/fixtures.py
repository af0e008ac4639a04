"""Manifests as users write them, and a way to run the command as they do."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from toolfleet.cli import main

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "config" / "samples"
CPU_SAMPLE = SAMPLES / "cpu-toolservice.yaml"
GPU_SAMPLE = SAMPLES / "gpu-toolservice.yaml"


def sample(path: Path = CPU_SAMPLE) -> dict[str, Any]:
    """A sample manifest, to change and write elsewhere."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return copy.deepcopy(loaded)


def write(directory: Path, name: str, *documents: Any) -> Path:
    """Write documents as one multi-document YAML file; return its path."""
    path = directory / name
    path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return path


def toolfleet(*args: str | Path, input: str | None = None,
              env: dict[str, str] | None = None) -> Result:
    """Run `toolfleet ARGS` as a user would, stdout and stderr apart."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input, env=env,
                              catch_exceptions=False)
