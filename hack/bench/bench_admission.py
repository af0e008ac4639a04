#!/usr/bin/env python3
"""CPU time of one admission decision as the fleet grows, against checking the object alone.

The validating webhook answers every create and update of a ToolService. Its
decision (`catalog.admission.admit_toolservice`) checks the object's tools and
then looks for its tool names in the catalogs that reject collisions, among
what the watches hold of the fleet. Measured in one process, phases alternating
over rounds so a change in the machine's load falls on all alike:

- baseline: `validate_toolservice_spec` of the object alone (what admission
  costs with no fleet at all);
- fleet N: the whole decision with N other ToolServices of one tool each, none
  of them sharing a name with the object (so admitted), for each N in --sizes.

Reported: milliseconds of process CPU per decision and the ratio to the baseline.
A decision whose cost grows with N shows as a ratio growing with N.

    .venv/bin/python hack/bench/bench_admission.py [--sizes 100,1000,5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "operator")]

from toolfleet.api.toolcatalog import CollisionStrategy  # noqa: E402
from toolfleet.catalog.admission import admit_toolservice  # noqa: E402
from toolfleet.catalog.validate import validate_toolservice_spec  # noqa: E402

NAMESPACE = "fleet"


def toolservice(index: int) -> dict[str, Any]:
    """ToolService `index`: one tool of its own name, with a small schema."""
    return {
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
        "metadata": {"name": f"svc-{index:05d}", "namespace": NAMESPACE, "generation": 1},
        "spec": {
            "version": "1.0.0", "image": "toolfleet/bench:1.0.0",
            "access": {"exposure": "public"},
            "tools": [{"name": f"echo_{index}", "description": "Echo the input.",
                       "inputSchema": {"type": "object",
                                       "properties": {"text": {"type": "string"},
                                                      "times": {"type": "integer"}},
                                       "required": ["text"]}}],
        },
    }


def per_call_ms(work: Callable[[], Any], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        work()
    return 1000 * (time.process_time() - started) / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000",
                        help="comma-separated fleet sizes (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every phase (default %(default)s)")
    parser.add_argument("--calls", type=int, default=50,
                        help="decisions per phase per round (default %(default)s)")
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes numbers separated by commas (got {args.sizes!r})")

    candidate = toolservice(10**6)
    fleets = {n: [toolservice(i) for i in range(n)] for n in sizes}

    def decide(fleet: list[dict[str, Any]]) -> None:
        verdict = admit_toolservice(
            candidate, toolservices=fleet, toolcatalogs=[], namespace_labels={},
            operator_namespace="toolfleet-system", cluster_domain="cluster.local",
            default_strategy=CollisionStrategy.reject)
        assert verdict.allowed, verdict.message

    phases: dict[str, Callable[[], Any]] = {
        "baseline": lambda: validate_toolservice_spec(candidate["spec"])}
    for n, fleet in fleets.items():
        phases[f"fleet {n}"] = lambda fleet=fleet: decide(fleet)  # type: ignore[misc]
    results: dict[str, list[float]] = {name: [] for name in phases}
    for _ in range(args.rounds):
        for name, work in phases.items():
            results[name].append(per_call_ms(work, args.calls))

    base = statistics.median(results["baseline"])
    print(f"One admission decision, process CPU per call (median of {args.rounds} rounds "
          f"of {args.calls})")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"  {name:>12}: {median:8.3f} ms  {median / base:8.1f}x baseline  "
              f"(range {min(times):.3f}-{max(times):.3f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
