#!/usr/bin/env python3
"""A fleet at once: N ToolServices through the operator against their children applied directly.

For each size N (--sizes, default 100,1000,5000), each run in a clean cluster of
its own (hack/cluster.sh, TOOLFLEET_CLUSTER_DIR=.cluster/bench-fleet, with a
scale pool of fake nodes where N pods fit), started and torn down here:

- direct, the baseline: this script applies the children the operator would
  write for N simple CPU-only services (resources.children.build_children:
  ServiceAccount, Deployment, Service, HPA, PDB, NetworkPolicy) by server-side
  apply, with the operator's client settings (QPS, burst, as many workers), and
  times until every Deployment is available;
- operator: a fresh operator process; N ToolServices applied at once
  (server-side apply from many threads, no client limit); the time until all
  are Ready and until all are in the default catalog, and the process's peak
  RSS (VmHWM). Then, settled, the next periodic resync: the requests and
  writes it sent (toolfleet_api_requests_total, toolfleet_api_writes_total) and
  the CPU seconds of the process (utime + stime).

It prints the ratios and how time, memory and a resync grow with N. Goals:
1,000 converge within 1.5x direct with a peak RSS of at most 250 MiB (5,000: 600
MiB), and a resync of an unchanged fleet writes nothing.

    .venv/bin/python hack/bench/bench_fleet.py [--sizes 100,1000,5000] [--qps 50]
        [--burst 100] [--workers 16] [--resync-seconds 60] [--timeline]

To see where the operator's time goes while it runs (its log names the port):
`.venv/bin/py-spy record -p $(pgrep -f 'toolfleet.cli run --namespace fleet') -d 30`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from support import free_port, local_cluster, operator_process, stop_cluster, wait_for  # noqa: E402

from toolfleet.api.toolservice import ToolServiceSpec  # noqa: E402
from toolfleet.resources.children import build_children  # noqa: E402
from toolfleet.resources.meta import MANAGED_BY, Owner  # noqa: E402
from toolfleet.runtime import kube  # noqa: E402
from toolfleet.runtime.reflector import Reflector  # noqa: E402
from toolfleet.settings import Settings  # noqa: E402

CLUSTER_DIR = REPO / ".cluster" / "bench-fleet"
NAMESPACE = "fleet"
OPERATOR_NAMESPACE = "toolfleet-system"
# One pod each (minReplicas 1), 250m CPU: a scale node of 32 CPUs takes 110 (its pods).
PODS_PER_NODE = 110
MIB = 1024 * 1024


def spec(index: int) -> dict[str, Any]:
    """The spec of service `index`: CPU only, one replica, one tool of its own name, public
    (so in the default catalog)."""
    return {
        "version": "1.0.0", "image": "toolfleet/bench:1.0.0",
        "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
        "access": {"exposure": "public"},
        "tools": [{"name": f"echo_{index}", "description": "Echo the input.",
                   "inputSchema": {"type": "object",
                                   "properties": {"text": {"type": "string"}}}}],
    }


def name(index: int) -> str:
    return f"svc-{index:05d}"


class Count:
    """A reflector's cache that counts the objects of one namespace satisfying `done`,
    and notes when that count first reaches `target`."""

    def __init__(self, done: Callable[[dict[str, Any]], bool], target: int) -> None:
        self.done, self.target = done, target
        self.state: dict[str, bool] = {}
        self.count = 0
        self.reached_at: float | None = None
        self.reached = threading.Event()
        self.lock = threading.Lock()

    def relist(self, items: Iterable[dict[str, Any]]) -> None:
        with self.lock:
            self.state, self.count = {}, 0
        for item in items:
            self.handle("ADDED", item)

    def handle(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if meta.get("namespace") != NAMESPACE:
            return
        now = kind != "DELETED" and self.done(obj)
        with self.lock:
            before = self.state.pop(meta["name"], False)
            if kind != "DELETED":
                self.state[meta["name"]] = now
            self.count += int(now) - int(before)
            if self.count >= self.target and self.reached_at is None:
                self.reached_at = time.monotonic()
                self.reached.set()

    def wait(self, what: str, timeout: float) -> float:
        if not self.reached.wait(timeout):
            raise TimeoutError(f"{what}: {self.count} of {self.target} after {timeout:.0f}s")
        assert self.reached_at is not None
        return self.reached_at


def ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def available(obj: dict[str, Any]) -> bool:
    return int((obj.get("status") or {}).get("availableReplicas") or 0) >= 1


def follow(kind: str, selector: str, count: Count) -> threading.Event:
    return Reflector(kind, selector, count).start(f"follow-{kind}")


def create_namespace(namespace: str) -> None:
    kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
               "bench")


# ---- the baseline -------------------------------------------------------------------------

def direct(size: int, qps: float, burst: int, workers: int, timeout: float) -> dict[str, Any]:
    """Apply the children of `size` services as the operator would, time until all serve."""
    create_namespace(NAMESPACE)
    deployments = Count(available, size)
    stop = follow("Deployment", f"app.kubernetes.io/managed-by={MANAGED_BY}", deployments)
    settings = Settings()
    kube.limit_requests(qps, burst)

    def children(index: int) -> list[dict[str, Any]]:
        owner = Owner(name=name(index), namespace=NAMESPACE, uid="0",
                      spec=ToolServiceSpec.model_validate(spec(index)))
        built = build_children(owner, settings)
        for child in built:
            child["metadata"].pop("ownerReferences")  # no owner object in the baseline
        return built

    def apply_children(index: int) -> None:
        for child in children(index):
            kube.apply(child, "bench")

    started = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(apply_children, range(size)))
    applied = time.monotonic() - started
    done = deployments.wait("Deployments available", timeout) - started
    stop.set()
    return {"ready_s": done, "applied_s": applied, "requests": size * len(children(0))}


# ---- the operator -------------------------------------------------------------------------

class Operator:
    """What this script reads of the operator process: its metrics, CPU and memory."""

    def __init__(self, pid: int, port: int) -> None:
        self.pid, self.url = pid, f"http://127.0.0.1:{port}"

    def metrics(self) -> dict[str, float]:
        """Each metric's samples summed by name, requests also by verb (`requests:get`)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as response:
            text = response.read().decode()
        sums: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
                if sample.name == "toolfleet_api_requests_total":
                    key = f"requests:{sample.labels['verb']}"
                    sums[key] = sums.get(key, 0.0) + sample.value
        return sums

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mib(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024 / MIB
        raise KeyError(field)

    def catalog_tools(self, catalog: str = "default") -> int:
        with urllib.request.urlopen(f"{self.url}/v1/catalogs", timeout=30) as response:
            listed = json.load(response)["catalogs"]
        return next((int(c["tools"]) for c in listed if c["name"] == catalog), 0)

    def wait(self, check: Callable[[], bool], what: str, timeout: float,
             interval: float = 0.5) -> float:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} after {timeout:.0f}s")
            time.sleep(interval)
        return time.monotonic()


class Timeline(threading.Thread):
    """Every 2 s while the fleet converges, one line on stderr: what was sent, what waited
    for tokens, the backlog, and how many Deployments are available and ToolServices Ready
    (--timeline): where the operator's time goes against the token bucket's pace."""

    def __init__(self, operator: Operator, toolservices: Count, deployments: Count,
                 started: float) -> None:
        super().__init__(daemon=True)
        self.operator, self.toolservices, self.deployments = operator, toolservices, deployments
        self.started, self.stop = started, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(2):
            m = self.operator.metrics()
            print(f"t={time.monotonic() - self.started:6.1f}s "
                  f"requests={m.get('toolfleet_api_requests_total', 0):6.0f} "
                  f"throttled={m.get('toolfleet_api_rate_limiter_duration_seconds_sum', 0):8.1f}s "
                  f"depth={m.get('toolfleet_workqueue_depth', 0):5.0f} "
                  f"available={self.deployments.count:5d} ready={self.toolservices.count:5d}",
                  file=sys.stderr, flush=True)


def request_counts(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if k.startswith("requests:")}


def through_operator(size: int, qps: float, burst: int, workers: int, resync_seconds: int,
                     timeout: float, timeline_wanted: bool = False) -> dict[str, Any]:
    """`size` ToolServices at once through a fresh operator; see the module docstring."""
    for namespace in (NAMESPACE, OPERATOR_NAMESPACE):
        create_namespace(namespace)
    port = free_port()
    env = {"TOOLFLEET_API_QPS": str(qps), "TOOLFLEET_API_BURST": str(burst),
           "TOOLFLEET_RECONCILE_WORKERS": str(workers),
           "TOOLFLEET_RESYNC_SECONDS": str(resync_seconds),
           "TOOLFLEET_NAMESPACE": OPERATOR_NAMESPACE}
    with operator_process(NAMESPACE, port, f"operator-bench-fleet-{size}.log", env,
                          log_dir=CLUSTER_DIR / "logs") as process:
        wait_for(f"http://127.0.0.1:{port}/readyz")
        operator = Operator(process.pid, port)
        idle_mib = operator.memory_mib("VmRSS")
        toolservices = Count(ready, size)
        stop = follow("ToolService", "", toolservices)
        deployments = Count(available, size)
        stop_deployments = follow("Deployment", f"app.kubernetes.io/managed-by={MANAGED_BY}",
                                  deployments)

        def apply_toolservice(index: int) -> None:
            kube.apply({"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
                        "metadata": {"name": name(index), "namespace": NAMESPACE},
                        "spec": spec(index)}, "bench")

        cpu_before = operator.cpu_seconds()
        started = time.monotonic()
        timeline = Timeline(operator, toolservices, deployments, started)
        if timeline_wanted:
            timeline.start()
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(apply_toolservice, range(size)))
        applied = time.monotonic() - started
        in_catalog = operator.wait(lambda: operator.catalog_tools() >= size,
                                   "the default catalog to list every tool", timeout) - started
        all_ready = toolservices.wait("ToolServices Ready", timeout) - started
        available_s = deployments.wait("Deployments available", timeout) - started
        stop.set()
        stop_deployments.set()
        timeline.stop.set()
        converged = operator.metrics()
        cpu_converged = operator.cpu_seconds() - cpu_before
        resync = one_resync(operator, size, resync_seconds, 2 * resync_seconds + timeout)
        return {"ready_s": all_ready, "catalog_s": in_catalog, "applied_s": applied,
                "available_s": available_s,
                "requests": converged.get("toolfleet_api_requests_total", 0.0),
                "requests_by_verb": request_counts(converged),
                "writes": converged.get("toolfleet_api_writes_total", 0.0),
                "cpu_s": cpu_converged, "idle_mib": idle_mib,
                "peak_mib": operator.memory_mib("VmHWM"), "resync": resync}


def one_resync(operator: Operator, size: int, every: int, timeout: float) -> dict[str, Any]:
    """One periodic resync of the settled fleet: from just before a round starts until
    `size` more reconciles ran and the queue is empty again."""

    def depth() -> float:
        return operator.metrics().get("toolfleet_workqueue_depth", 1.0)

    def rounds() -> float:
        return operator.metrics().get("toolfleet_resyncs_total", 0.0)

    def quiet() -> bool:
        # Nothing queued, and no request for 3 s: the Events of the convergence, which
        # give way to it, are all sent too.
        sent = operator.metrics().get("toolfleet_api_requests_total", 0.0)
        time.sleep(3)
        return depth() == 0 and operator.metrics().get("toolfleet_api_requests_total") == sent

    operator.wait(quiet, "the operator to settle", timeout)
    # A round to learn when the next one starts (`every` seconds after it), then a snapshot
    # a second before that one, so that the window holds the round and little idle time.
    first = rounds()
    ticked = operator.wait(lambda: rounds() > first, "a resync", timeout, interval=0.1)
    operator.wait(lambda: depth() == 0, "the first resync to finish", timeout)
    time.sleep(max(0.0, ticked + every - 1.0 - time.monotonic()))
    before, cpu = operator.metrics(), operator.cpu_seconds()
    started = operator.wait(lambda: rounds() > first + 1, "the next resync", timeout,
                            interval=0.05)

    def finished() -> bool:
        now = operator.metrics()
        return (now["toolfleet_reconciles_total"] >= before["toolfleet_reconciles_total"] + size
                and now.get("toolfleet_workqueue_depth", 1.0) == 0)

    took = operator.wait(finished, "the resync to finish", timeout, interval=0.05) - started
    after = operator.metrics()
    return {
        "took_s": took, "cpu_s": operator.cpu_seconds() - cpu,
        "reconciles": after["toolfleet_reconciles_total"] - before["toolfleet_reconciles_total"],
        "requests": after["toolfleet_api_requests_total"] - before["toolfleet_api_requests_total"],
        "writes": after.get("toolfleet_api_writes_total", 0.0)
        - before.get("toolfleet_api_writes_total", 0.0),
        "requests_by_verb": {k: v - before.get(k, 0.0)
                             for k, v in request_counts(after).items()
                             if v - before.get(k, 0.0)},
    }


# ---- one run per size and phase, each in a clean cluster ----------------------------------

def run_phase(phase: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Start a clean cluster, run `phase` in a process of its own against it, tear it down."""
    nodes = math.ceil(size / (PODS_PER_NODE - 10)) + 1
    local_cluster(CLUSTER_DIR, {"TOOLFLEET_SCALE_NODES": str(nodes),
                                "TOOLFLEET_SCALE_NODE_PODS": str(PODS_PER_NODE)})
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--phase", phase, "--sizes", str(size),
             "--qps", str(args.qps), "--burst", str(args.burst), "--workers", str(args.workers),
             "--resync-seconds", str(args.resync_seconds)]
            + (["--timeline"] if args.timeline else []),
            env={**os.environ, "KUBECONFIG": str(CLUSTER_DIR / "kubeconfig")},
            stdout=subprocess.PIPE, text=True, check=False)  # its stderr goes to ours
        if child.returncode != 0:
            raise RuntimeError(f"the {phase} run of {size} failed (exit {child.returncode}); "
                               "its stderr is above")
        result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        return result
    finally:
        stop_cluster(CLUSTER_DIR)


def report(args: argparse.Namespace, results: dict[int, dict[str, Any]]) -> None:
    print(f"A fleet at once: N CPU-only ToolServices, client QPS {args.qps:g} burst "
          f"{args.burst}, {args.workers} workers, resync every {args.resync_seconds}s")
    print(f"{'N':>6} {'direct':>9} {'operator':>9} {'ratio':>6} {'catalog':>9} "
          f"{'peak RSS':>9} {'req/svc':>13} {'resync: req':>12} {'writes':>7} {'CPU':>7} "
          f"{'took':>7}")
    for size, r in results.items():
        d, o, s = r["direct"], r["operator"], r["operator"]["resync"]
        print(f"{size:>6} {d['ready_s']:>8.1f}s {o['ready_s']:>8.1f}s "
              f"{o['ready_s'] / d['ready_s']:>5.2f}x {o['catalog_s']:>8.1f}s "
              f"{o['peak_mib']:>5.0f} MiB {o['requests'] / size:>5.1f} ({d['requests'] / size:.0f})"
              f" {s['requests']:>12.0f} {s['writes']:>7.0f} {s['cpu_s']:>6.1f}s "
              f"{s['took_s']:>6.1f}s")
    print("per ToolService:")
    for size, r in results.items():
        o, s = r["operator"], r["operator"]["resync"]
        print(f"{size:>6}: converge {1000 * o['ready_s'] / size:6.1f} ms (direct "
              f"{1000 * r['direct']['ready_s'] / size:.1f}; its Deployments available "
              f"after {o['available_s']:.1f}s), operator CPU "
              f"{1000 * o['cpu_s'] / size:5.1f} ms, memory "
              f"{1024 * (o['peak_mib'] - o['idle_mib']) / size:5.1f} KiB above idle "
              f"({o['idle_mib']:.0f} MiB); resync {s['requests'] / size:.2f} requests, "
              f"{1000 * s['cpu_s'] / size:.1f} ms CPU")
        print(f"        requests while converging: {fmt(o['requests_by_verb'])}; "
              f"in the resync: {fmt(s['requests_by_verb'])}")
    goals(results)
    print(json.dumps({str(k): v for k, v in results.items()}))


def fmt(counts: dict[str, float]) -> str:
    return ", ".join(f"{k.split(':', 1)[1]} {v:.0f}" for k, v in sorted(counts.items())) or "none"


def goals(results: dict[int, dict[str, Any]]) -> None:
    for size, ratio_goal, rss_goal in ((1000, 1.5, 250), (5000, None, 600)):
        r = results.get(size)
        if r is None:
            continue
        o = r["operator"]
        ratio = o["ready_s"] / r["direct"]["ready_s"]
        if ratio_goal is not None:
            print(f"goal {size}: converge within {ratio_goal}x direct: {ratio:.2f}x "
                  f"{'met' if ratio <= ratio_goal else 'NOT met'}")
        print(f"goal {size}: peak RSS <= {rss_goal} MiB: {o['peak_mib']:.0f} MiB "
              f"{'met' if o['peak_mib'] <= rss_goal else 'NOT met'}")
    if 1000 in results:
        writes = results[1000]["operator"]["resync"]["writes"]
        print(f"goal 1000: a no-op resync writes nothing: {writes:.0f} writes "
              f"{'met' if writes == 0 else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000",
                        help="comma-separated numbers of ToolServices (default %(default)s)")
    parser.add_argument("--qps", type=float, default=Settings.api_qps,
                        help="client requests a second, both runs (TOOLFLEET_API_QPS; "
                             "default %(default)s)")
    parser.add_argument("--burst", type=int, default=Settings.api_burst,
                        help="client burst, both runs (TOOLFLEET_API_BURST; default %(default)s)")
    parser.add_argument("--workers", type=int, default=Settings.reconcile_workers,
                        help="reconcile workers, and the baseline's threads "
                             "(TOOLFLEET_RECONCILE_WORKERS; default %(default)s)")
    parser.add_argument("--resync-seconds", type=int, default=60,
                        help="the operator's resync period (TOOLFLEET_RESYNC_SECONDS; "
                             "default %(default)s)")
    parser.add_argument("--timeline", action="store_true",
                        help="while the operator converges, print every 2 s on stderr what it "
                             "sent, what waited for the rate limit, its backlog, and how many "
                             "Deployments are available and ToolServices Ready")
    parser.add_argument("--phase", choices=("direct", "operator"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes numbers separated by commas (got {args.sizes!r})")
    if any(s < 1 for s in sizes):
        parser.error("--sizes: every size must be at least 1")

    if args.phase is not None:  # one run, in a cluster the parent started
        size, timeout = sizes[0], 300 + 0.6 * sizes[0]
        result = (direct(size, args.qps, args.burst, args.workers, timeout)
                  if args.phase == "direct" else
                  through_operator(size, args.qps, args.burst, args.workers,
                                   args.resync_seconds, timeout, args.timeline))
        print(json.dumps(result))
        return 0

    results: dict[int, dict[str, Any]] = {}
    for size in sizes:
        results[size] = {phase: run_phase(phase, size, args) for phase in ("direct", "operator")}
        print(f"{size}: {json.dumps(results[size])}", file=sys.stderr)
    report(args, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
