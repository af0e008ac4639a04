"""Shared test configuration: e2e tests are marked by their folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis's per-example deadline (200 ms) measures the machine, not the code: on a
# shared 2-core CI runner it fails correct properties. Speed is measured in hack/bench.
settings.register_profile("toolfleet", deadline=None)
settings.load_profile("toolfleet")

E2E_DIR = Path(__file__).parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
