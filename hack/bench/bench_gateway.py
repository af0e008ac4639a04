#!/usr/bin/env python3
"""What the gateway adds to a tool call: latency and calls/s, against nginx proxying the same.

One trivial tool, `echo` of tests/services/tiny_backend.py (Starlette on
uvicorn, the smallest real tool service here; uvicorn takes uvloop and
httptools, the gateway's dependencies, so it answers ~10,000 calls/s on one
core), is called four ways on 127.0.0.1, in the same run and by the same load
generator:

- direct: `POST /tools/echo` on the service, the baseline;
- nginx: the same request through nginx as a plain reverse proxy (one worker,
  `proxy_pass` to a keep-alive upstream: `keepalive`, `proxy_http_version
  1.1`, an empty Connection header), the floor of what proxying costs;
- gateway /calls: an OpenAI `tool_calls[]` item to
  `POST /v1/catalogs/bench.echo/calls?format=openai`, through a real gateway
  process (`python -m toolfleet.gateway --catalog FILE`, auth off);
- gateway /mcp: a `tools/call` to `POST /mcp/bench.echo` in MCP's stateless
  2026-07-28 revision: one self-contained POST per call, no session, as a
  router spread over gateway replicas sends it.

Two phases, each alternating between the targets in rounds so that a change in
the machine's load falls on all alike: one call at a time (what a call costs,
with no queueing), then a fixed number of concurrent connections (calls/s).
Reported per target: p50 and p99 latency, calls/s, the p50 and p99 it adds to
a direct call, calls/s as a ratio to nginx's, and the CPU milliseconds per call
of the process serving it (the tool for direct calls, the proxy alone for the
others), which other load on a shared machine hardly moves. The aims are an added p99 of
at most 2 ms (one call at a time) and at least 0.3x nginx's calls/s on /calls.

The load generator is `wrk` (C, one thread, keep-alive connections, a POST
body from a Lua script): it is not the bottleneck on two cores, where a Python
client would be. Every answer is checked once before the load, wrk's errors
and non-2xx answers fail the run, and so does any call the gateway counts as
other than ok (a tool failure still answers 200).

    .venv/bin/python hack/bench/bench_gateway.py [--connections 16] [--seconds 15]
        [--rounds 3] [--tools 1] [--nginx /usr/sbin/nginx] [--before DIR] [--profile FILE]

`--before DIR` also runs a gateway from another checkout's source root (e.g.
`git worktree add /tmp/before HEAD~3`, then `--before /tmp/before/operator`),
measured in the same rounds: a change's effect on the same machine at the same
time. `--profile FILE` records the gateway with py-spy (`pip install py-spy`)
under a /calls load at the end, as a speedscope file.

nginx and wrk come from hack/deps.sh --bench.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = ("operator", "services/common", "services/cluster-analyzer",
                "services/anomaly-detector")
for source_root in reversed(SOURCE_ROOTS):
    sys.path.insert(0, str(REPO / source_root))
sys.path.insert(0, str(REPO))

from support import find_nginx, nginx_running  # noqa: E402
from tests.services.gateway_harness import (  # noqa: E402
    READY,
    GatewayProcess,
    catalog_of,
    sample,
    tiny_backend,
)

from toolfleet.catalog.model import Catalog  # noqa: E402
from toolfleet.catalog.source import ServiceEntry, entry_from_body  # noqa: E402
from toolfleet_service.local import LocalService  # noqa: E402

CATALOG = "bench.echo"
ARGUMENTS = {"text": "hello", "count": 3}
# A plain keep-alive reverse proxy (after support.NGINX_PRELUDE).
NGINX_HTTP = """\
    upstream tool {{
        server {upstream};
        keepalive 64;
        keepalive_requests 10000000;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tool;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
{headers}
"""
MCP_HEADERS = {"Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call",
               "Mcp-Name": "echo"}
MCP_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "0"},
            "io.modelcontextprotocol/clientCapabilities": {}}


@dataclass(frozen=True)
class Target:
    """One way of calling the tool: where, with what, and what its answer must hold."""

    name: str
    url: str
    body: bytes
    headers: dict[str, str]
    # The processes whose CPU time the call costs on the serving side: the tool for
    # direct calls, the proxy (not the tool behind it) for the others.
    pids: tuple[int, ...]


@dataclass(frozen=True)
class Result:
    """One target under one load: calls, seconds, latency percentiles in ms, and the CPU
    seconds its serving processes spent."""

    calls: int
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per call: unlike latency, hardly moved by other load on the
        machine."""
        return self.cpu_seconds * 1000 / self.calls


# --- the catalog and the servers


def echo_catalog(url: str, tools: int = 1) -> Catalog:
    """A catalog with the tiny backend's echo tool at `url`, and `tools - 1` others beside
    it that are never called (in ToolServices of at most 64 tools, the API's limit)."""
    echo = {"name": "echo", "description": "Answers its arguments.", "path": "/tools/echo",
            "timeoutSeconds": 5, "inputSchema": {"type": "object", "properties": {
                "text": {"type": "string"}, "count": {"type": "integer"}}}}
    others = [{"name": f"other_{i:04d}", "description": f"Tool {i}, never called here.",
               "path": f"/tools/other_{i}", "timeoutSeconds": 5,
               "inputSchema": {"type": "object", "properties": {
                   "records": {"type": "array", "items": {"type": "object", "properties": {
                       "id": {"type": "string"}, "value": {"type": "number"}}}},
                   "mode": {"type": "string", "enum": ["fast", "exact"]}},
                   "required": ["records"]}} for i in range(tools - 1)]
    services = {"tiny": [echo], **{f"others-{k // 64}": others[k:k + 64]
                                   for k in range(0, len(others), 64)}}
    return catalog_of(CATALOG, [_entry(name, url, spec_tools)
                                for name, spec_tools in services.items()])


def _entry(name: str, url: str, tools: list[dict[str, Any]]) -> ServiceEntry:
    body = {"metadata": {"name": name, "namespace": "bench"},
            "spec": {"version": "1.0.0", "image": "tiny:1", "access": {"exposure": "public"},
                     "tools": tools},
            "status": {"conditions": [READY], "endpoint": url, "stableVersion": "1.0.0"}}
    return entry_from_body(body, {}, cluster_domain="cluster.local")


def gateway(catalog: Catalog, source: str | None) -> GatewayProcess:
    """A gateway process serving `catalog`, from this checkout or from source root `source`."""
    roots = [source] if source else []
    path = os.pathsep.join([*roots, *(str(REPO / r) for r in SOURCE_ROOTS)])
    return GatewayProcess([catalog], env={"TOOLFLEET_GATEWAY_AUTH": "false",
                                          "PYTHONPATH": path})


@contextlib.contextmanager
def nginx_proxy(nginx: str, upstream: str) -> Iterator[tuple[str, tuple[int, ...]]]:
    """nginx proxying everything to `upstream` (host:port), while in the block; its URL and
    its workers' process ids."""
    with nginx_running(nginx, NGINX_HTTP, "/readyz", upstream=upstream) as (url, pid, _):
        yield url, children(pid)


# --- the calls


def direct_target(name: str, base: str, pids: tuple[int, ...]) -> Target:
    return Target(name, f"{base}/tools/echo", json.dumps(ARGUMENTS).encode(), {}, pids)


def calls_target(name: str, base: str, pids: tuple[int, ...]) -> Target:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "echo", "arguments": json.dumps(ARGUMENTS)}}
    return Target(name, f"{base}/v1/catalogs/{CATALOG}/calls?format=openai",
                  json.dumps(call).encode(), {}, pids)


def mcp_target(name: str, base: str, pids: tuple[int, ...]) -> Target:
    request = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "echo", "arguments": ARGUMENTS, "_meta": MCP_META}}
    return Target(name, f"{base}/mcp/{CATALOG}", json.dumps(request).encode(), MCP_HEADERS,
                  pids)


def cpu_seconds(pids: tuple[int, ...]) -> float:
    """User and system CPU seconds the processes `pids` have spent (Linux /proc)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: stat(5) fields 14, 15
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> tuple[int, ...]:
    """The child processes of `pid` (nginx's workers)."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return tuple(int(child) for child in found)


def echoed(target: Target) -> None:
    """Calls `target` once; raises unless the answer carries the echoed arguments."""
    request = urllib.request.Request(target.url, data=target.body, method="POST", headers={
        "Content-Type": "application/json", **target.headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    if response.status != 200 or "hello" not in text or '"isError":true' in text:
        raise RuntimeError(f"{target.name}: {target.url} answered {response.status}: "
                           f"{text[:500]}")


# --- the load generator


def run_wrk(wrk: str, target: Target, connections: int, seconds: float,
            scripts: Path) -> Result:
    """`connections` keep-alive connections calling `target` for `seconds` on one thread."""
    script = scripts / f"{re.sub(r'[^a-z]+', '-', target.name)}.lua"
    headers = {"Content-Type": "application/json", **target.headers}
    script.write_text(WRK_SCRIPT.format(
        body=json.dumps(target.body.decode()),
        headers="\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
                          for k, v in headers.items())))
    cpu_before = cpu_seconds(target.pids)
    output = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
         "-s", str(script), target.url], check=True, capture_output=True, text=True).stdout
    cpu = cpu_seconds(target.pids) - cpu_before
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {target.name}:\n{output}")
    calls = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    assert calls is not None, output
    taken = float(calls.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[calls.group(3)]
    return Result(int(calls.group(1)), taken, _percentile(output, "50"),
                  _percentile(output, "99"), cpu)


def _percentile(output: str, which: str) -> float:
    found = re.search(rf"\b{which}%\s+([\d.]+)(us|ms|s)", output)
    assert found is not None, output
    return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]


@dataclass(frozen=True)
class Load:
    """How every phase loads the targets."""

    wrk: str
    seconds: float  # per target and phase, over all rounds
    rounds: int
    scripts: Path

    def phase(self, targets: list[Target], connections: int) -> dict[str, Result]:
        """Every target at `connections`, round by round; per target, the rounds merged
        (calls and seconds summed, percentiles the median of the rounds')."""
        rounds: dict[str, list[Result]] = {t.name: [] for t in targets}
        for target in targets:  # warm-up: connections, caches, the MCP server's start
            run_wrk(self.wrk, target, connections, 1, self.scripts)
        for _ in range(self.rounds):
            for target in targets:
                rounds[target.name].append(run_wrk(self.wrk, target, connections,
                                                   self.seconds / self.rounds, self.scripts))
        return {name: Result(sum(r.calls for r in results), sum(r.seconds for r in results),
                             statistics.median(r.p50_ms for r in results),
                             statistics.median(r.p99_ms for r in results),
                             sum(r.cpu_seconds for r in results))
                for name, results in rounds.items()}


# --- the report


def table(connections: int, results: dict[str, Result]) -> list[dict[str, Any]]:
    """Prints one phase's rows; returns them for the JSON summary."""
    direct, floor = results["direct"], results["nginx"]
    rows = []
    print(f"\n{connections} connection{'s' if connections > 1 else ''}:")
    print(f"{'target':<20} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} "
          f"{'+p99 ms':>8} {'x nginx':>8} {'CPU ms':>7}")
    for name, result in results.items():
        added = name != "direct"
        row = {"target": name, "connections": connections, "calls_per_s": round(result.rate),
               "p50_ms": round(result.p50_ms, 3), "p99_ms": round(result.p99_ms, 3),
               "added_p50_ms": round(result.p50_ms - direct.p50_ms, 3) if added else None,
               "added_p99_ms": round(result.p99_ms - direct.p99_ms, 3) if added else None,
               "vs_nginx": round(result.rate / floor.rate, 2) if added else None,
               "cpu_ms_per_call": round(result.cpu_ms, 3)}
        rows.append(row)
        print(f"{name:<20} {result.rate:>9,.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
              f"{_cell(row['added_p50_ms'])} {_cell(row['added_p99_ms'])} "
              f"{_cell(row['vs_nginx'])} {result.cpu_ms:>7.3f}", flush=True)
    return rows


def _cell(value: float | None) -> str:
    return f"{'':>8}" if value is None else f"{value:>8.2f}"


def verdict(rows: list[dict[str, Any]], connections: int) -> None:
    """Prints whether gateway /calls meets the aims."""
    def row(target: str, conns: int) -> dict[str, Any]:
        return next(r for r in rows if r["target"] == target and r["connections"] == conns)

    added = row("gateway /calls", 1)["added_p99_ms"]
    ratio = row("gateway /calls", connections)["vs_nginx"]
    print(f"\naims, gateway /calls: added p99 {added:.2f} ms (aim <= 2, one call at a time): "
          f"{'met' if added <= 2 else 'NOT met'}; calls/s {ratio:.2f}x nginx's (aim >= 0.3, "
          f"{connections} connections): {'met' if ratio >= 0.3 else 'NOT met'}")


# --- the run


def check_counted_ok(gateways: dict[str, GatewayProcess]) -> None:
    """Raises if a gateway counted any call other than ok."""
    for name, process in gateways.items():
        with urllib.request.urlopen(f"{process.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = sample(text, "toolfleet_gateway_tool_calls_total")
        ok = sample(text, "toolfleet_gateway_tool_calls_total", outcome="ok")
        if total != ok:
            raise RuntimeError(f"{name}: {total - ok:.0f} of {total:.0f} calls were not ok; "
                               f"its log: {process.output()[-2000:]}")


def profile(wrk: str, process: GatewayProcess, target: Target, connections: int,
            seconds: float, out: Path, scripts: Path) -> None:
    """Records `process` with py-spy while wrk loads `target`."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    assert process.process is not None
    recorder = subprocess.Popen([py_spy, "record", "--pid", str(process.process.pid),
                                 "--duration", f"{seconds:g}", "--format", "speedscope",
                                 "--output", str(out), "--nonblocking"])
    time.sleep(0.5)
    run_wrk(wrk, target, connections, seconds, scripts)
    recorder.wait(timeout=seconds + 60)
    print(f"profile of the gateway under {target.name}: {out}")


def _pid(service: LocalService) -> tuple[int]:
    assert service.process is not None
    return (service.process.pid,)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16,
                        help="concurrent keep-alive connections in the calls/s phase")
    parser.add_argument("--seconds", type=float, default=15,
                        help="per target and phase, over all rounds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="each phase alternates between the targets this many times")
    parser.add_argument("--tools", type=int, default=1,
                        help="tools in the catalog: echo and this many less one beside it, to "
                        "show per-call costs that grow with the catalog")
    parser.add_argument("--nginx", help="the nginx binary (default: found on PATH or in sbin)")
    parser.add_argument("--before", help="also a gateway from this source root (another "
                        "checkout's operator/ folder), measured alike")
    parser.add_argument("--profile", type=Path, help="record the gateway with py-spy under "
                        "a /calls load at the end, into this speedscope file")
    return parser.parse_args()


def tools(explicit_nginx: str | None) -> tuple[str, str]:
    """The nginx and wrk binaries; SystemExit saying how to install what is missing."""
    nginx = find_nginx(explicit_nginx)
    wrk = shutil.which("wrk")
    if nginx is None or wrk is None:
        missing = " and ".join(n for n, p in (("nginx", nginx), ("wrk", wrk)) if p is None)
        raise SystemExit(f"{missing} missing: they are this benchmark's baseline and load "
                         "generator; install them with hack/deps.sh --bench (Debian: "
                         "apt-get install nginx wrk)")
    return nginx, wrk


def main() -> int:
    args = arguments()
    nginx, wrk = tools(args.nginx)
    print(f"tool: tiny_backend echo, in a catalog of {args.tools}; load: wrk, 1 thread, "
          f"keep-alive; {os.cpu_count()} CPUs; {args.seconds:g}s per target and phase in "
          f"{args.rounds} rounds")
    with tiny_backend("bench", TINY_FAIL_STATUS="500") as backend, \
            tempfile.TemporaryDirectory(prefix="bench-gateway-wrk-") as scripts, \
            contextlib.ExitStack() as stack:
        catalog = echo_catalog(backend.url, args.tools)
        gateways = {"gateway": stack.enter_context(gateway(catalog, None))}
        if args.before:
            gateways["before"] = stack.enter_context(gateway(catalog, args.before))
        proxy, workers = stack.enter_context(nginx_proxy(nginx,
                                                         backend.url.removeprefix("http://")))
        targets = [direct_target("direct", backend.url, _pid(backend)),
                   direct_target("nginx", proxy, workers)]
        for name, process in gateways.items():
            targets += [calls_target(f"{name} /calls", process.url, _pid(process)),
                        mcp_target(f"{name} /mcp", process.url, _pid(process))]
        for target in targets:
            echoed(target)
        load = Load(wrk, args.seconds, args.rounds, Path(scripts))
        rows = table(1, load.phase(targets, 1))
        rows += table(args.connections, load.phase(targets, args.connections))
        check_counted_ok(gateways)
        verdict(rows, args.connections)
        if args.profile:
            profile(wrk, gateways["gateway"], targets[2], args.connections, args.seconds,
                    args.profile, Path(scripts))
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
