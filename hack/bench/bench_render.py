#!/usr/bin/env python3
"""CPU seconds to build and render a catalog, against serializing the same tools.

A publish builds the catalog from the fleet's ToolServices (selection, checks of
every tool's schemas, the per-format dialect decisions) and renders it in every
format. Measured in one process, each phase alternating over rounds so that a
change in the machine's load falls on all alike:

- baseline: `json.dumps` of the tools as the ToolServices declare them, once per
  format (what writing the same bytes costs with no work at all);
- cold: build and render with every per-tool cache emptied first (the first
  publish after a start);
- warm: build and render again with the caches kept (every later publish,
  when a service's status changes but its tools do not).

Reported: seconds per publish (process CPU time) and each as a ratio to the
baseline, with its range over the rounds.

    .venv/bin/python hack/bench/bench_render.py [--services 32] [--tools-per-service 63]
        [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "operator"), str(REPO / "services" / "common"), str(REPO)]

from tests.e2e.test_catalog import realistic_tool  # noqa: E402
from tests.unit.catalog.fixtures import entry  # noqa: E402

from toolfleet.api.toolcatalog import ToolCatalogSpec  # noqa: E402
from toolfleet.catalog.build import build_catalog  # noqa: E402
from toolfleet.catalog.render import FORMATS, render  # noqa: E402


def clear_caches() -> None:
    """Empty every functools cache of the catalog code: a cold start."""
    import functools
    import gc

    for obj in gc.get_objects():
        if isinstance(obj, functools._lru_cache_wrapper) and getattr(
                obj, "__module__", "").startswith("toolfleet."):
            obj.cache_clear()


def cpu(work: Callable[[], Any]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=32)
    parser.add_argument("--tools-per-service", type=int, default=63)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    entries = [entry(f"bulk-{s:02d}", tools=[realistic_tool(s, i)
                                             for i in range(args.tools_per_service)])
               for s in range(args.services)]
    declared = [t for s in range(args.services)
                for t in (realistic_tool(s, i) for i in range(args.tools_per_service))]
    spec = ToolCatalogSpec()

    def publish() -> None:
        catalog = build_catalog("bench", entries, spec, "team-a")
        for fmt in FORMATS:
            render(catalog, fmt)

    def baseline() -> None:
        for _ in FORMATS:
            json.dumps(declared, separators=(",", ":")).encode()

    def cold() -> None:
        clear_caches()
        publish()

    times: dict[str, list[float]] = {"baseline": [], "cold": [], "warm": []}
    for _ in range(args.rounds):
        times["baseline"].append(cpu(baseline))
        times["cold"].append(cpu(cold))
        times["warm"].append(cpu(publish))

    tools = args.services * args.tools_per_service
    print(f"catalog of {tools} tools, {len(FORMATS)} formats, {args.rounds} round(s); "
          "CPU seconds per publish")
    base = statistics.median(times["baseline"])
    for phase, values in times.items():
        ratios = [v / b for v, b in zip(values, times["baseline"], strict=True)]
        print(f"  {phase:8} {statistics.median(values):8.3f} s   "
              f"{statistics.median(values) / base:7.1f}x baseline "
              f"(range {min(ratios):.1f}-{max(ratios):.1f}x)   "
              f"{statistics.median(values) / tools * 1000:.2f} ms per tool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
