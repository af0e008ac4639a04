#!/usr/bin/env python3
"""Requests/s and p99 of the catalog endpoint, against nginx serving the same bytes.

A 1,000-tool catalog is served two ways on 127.0.0.1, in the same run and
measured by the same load generator:

- toolfleet: the operator's own app (build_app over a CatalogStore), in a
  process of its own, so the load generator does not share its event loop;
- nginx: one worker process serving the very same rendering from a file, with
  `etag on`, `sendfile on` and the precompressed file for gzip (gzip_static);
  nginx is the baseline of what serving these bytes costs.

Phases, each after a warm-up: the full body; the full body gzip; and 304 (the
client sends back the ETag). Each phase alternates between the servers in
rounds, so a change in the machine's load falls on both alike. The load
generator is `wrk` when installed (one thread, keep-alive connections),
otherwise the bounded asyncio client below (a fixed number of requests over
keep-alive connections). Reported: requests/s and p99 latency of each server,
and toolfleet/nginx as a ratio, with its range over the rounds.

    .venv/bin/python hack/bench/bench_catalog.py [--tools 1000] [--format openai]
        [--client auto|wrk|builtin] [--connections 8] [--requests 5000] [--seconds 10]
        [--rounds 5]
        [--nginx /usr/sbin/nginx]

nginx must be installed (Debian: apt-get install nginx); the script does not
install it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "operator"))
sys.path.insert(0, str(REPO))

from support import find_nginx, free_port, nginx_running, stop, wait_for  # noqa: E402
from tests.unit.catalog.realistic import realistic_catalog  # noqa: E402

from toolfleet.catalog.render import FORMATS, render  # noqa: E402

CATALOG_NAME = "default"
# Static files, as a CDN would serve the catalog (after support.NGINX_PRELUDE).
NGINX_HTTP = """\
    default_type application/json;
    sendfile on;
    tcp_nopush on;
    etag on;
    gzip_static on;
    gzip_vary on;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/root;
        location / {{ add_header Cache-Control no-cache; }}
    }}
}}
"""


@dataclass
class Result:
    """One phase against one server."""

    requests: int
    seconds: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def probe(url: str, headers: dict[str, str]) -> tuple[int, str]:
    """Status and ETag of one request, to check what a phase will measure."""
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match is not None
    connection = http.client.HTTPConnection(match.group(1), int(match.group(2)), timeout=30)
    try:
        connection.request("GET", match.group(3), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, str(response.getheader("ETag"))
    finally:
        connection.close()


# --- the servers


def serve_toolfleet(port: int, tools: int) -> None:
    """The child process: the operator's app over a store holding the catalog."""
    from aiohttp import web

    from toolfleet.server.app import READY_KEY, build_app
    from toolfleet.server.catalog import CatalogStore

    store = CatalogStore()
    store.publish(realistic_catalog(tools, name=CATALOG_NAME))
    store.mark_synced()
    app = build_app(store)
    app[READY_KEY]["ready"] = True
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                handle_signals=True)


@contextlib.contextmanager
def toolfleet_server(tools: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port),
                                "--tools", str(tools)])
    try:
        wait_for(f"http://127.0.0.1:{port}/readyz")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process, signal.SIGINT)


@contextlib.contextmanager
def nginx_server(nginx: str, body: bytes, path: str) -> Iterator[str]:
    def prepare(tmp: str) -> None:
        target = Path(tmp, "root", path.lstrip("/"))
        target.parent.mkdir(parents=True)
        for directory in [Path(tmp, "root"), *Path(tmp, "root").rglob("*")]:
            directory.chmod(0o755)
        target.write_bytes(body)
        target.with_name(target.name + ".gz").write_bytes(gzip.compress(body, mtime=0))

    with nginx_running(nginx, NGINX_HTTP, path, prepare) as (url, _, _):
        yield url


# --- the load generators


def run_wrk(wrk: str, url: str, headers: dict[str, str], connections: int,
            seconds: float) -> Result:
    args = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    output = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    duration = re.search(r"requests in ([\d.]+)(ms|s|m)", output)
    assert duration is not None, output
    seconds_taken = float(duration.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[
        duration.group(2)]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None, output
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw errors against {url}:\n{output}")
    return Result(requests, seconds_taken, p99_ms)


class _Connection(asyncio.Protocol):
    """One keep-alive connection reading HTTP/1.1 responses with a Content-Length."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._check()

    def connection_lost(self, error: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def _check(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        match = re.search(rb"\r\ncontent-length: *(\d+)", head)
        length = int(match.group(1)) if match else 0
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        del self.buffer[:end + 4 + length]
        self.waiter.set_result(status)

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def _builtin(url: str, headers: dict[str, str], connections: int, requests: int,
                   warmup: int) -> Result:
    match = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    assert match is not None
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}",
             *(f"{k}: {v}" for k, v in headers.items())]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    loop = asyncio.get_running_loop()
    pool = [(await loop.create_connection(_Connection, host, port))[1]
            for _ in range(connections)]
    latencies: list[float] = []
    expected = 304 if "If-None-Match" in headers else 200

    async def worker(connection: _Connection, count: int, record: bool) -> None:
        for _ in range(count):
            started = time.perf_counter()
            status = await connection.request(data)
            if status != expected:
                raise RuntimeError(f"{url} answered {status}, expected {expected}")
            if record:
                latencies.append(time.perf_counter() - started)

    async def phase(total: int, record: bool) -> float:
        share = [total // connections + (i < total % connections) for i in range(connections)]
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, n, record) for c, n in zip(pool, share, strict=True)))
        return time.perf_counter() - started

    await phase(warmup, record=False)
    seconds = await phase(requests, record=True)
    for connection in pool:
        assert connection.transport is not None
        connection.transport.close()
    latencies.sort()
    return Result(requests, seconds, latencies[int(0.99 * (len(latencies) - 1))] * 1000)


def run_builtin(url: str, headers: dict[str, str], connections: int, requests: int,
                warmup: int) -> Result:
    return asyncio.run(_builtin(url, headers, connections, requests, warmup))


# --- the run

PHASES = {
    "full body": ({"Accept-Encoding": "identity"}, True),
    "full body, gzip": ({"Accept-Encoding": "gzip"}, True),
    "304 (If-None-Match)": ({"Accept-Encoding": "gzip"}, False),
}


@dataclass(frozen=True)
class Load:
    """How a phase loads a server: with wrk when there is one, else the built-in client."""

    wrk: str | None
    connections: int
    requests: int  # per phase, built-in client
    seconds: float  # per phase, wrk
    rounds: int

    def measure(self, url: str, headers: dict[str, str], full: bool, warm_up: bool) -> Result:
        """One round of one phase against `url`, after a warm-up in the first round."""
        if self.wrk:
            if warm_up:
                run_wrk(self.wrk, url, headers, self.connections, 1)
            return run_wrk(self.wrk, url, headers, self.connections, self.seconds / self.rounds)
        count = max(100, self.requests // 10) if full else self.requests
        count = max(20, count // self.rounds)
        return run_builtin(url, headers, self.connections, count,
                           max(50, count // 10) if warm_up else 0)


def phase_headers(url: str, headers: dict[str, str], full: bool) -> dict[str, str]:
    """The headers a phase sends to `url`, checked to get the answer the phase measures."""
    status, etag = probe(url, headers)
    if not full:
        # The ETag of exactly this representation (nginx's differs for its .gz file).
        headers = {**headers, "If-None-Match": etag}
        status, _ = probe(url, headers)
    if status != (200 if full else 304):
        raise RuntimeError(f"{url} answered {status} to {headers}; the phase would not "
                           "measure what it says")
    return headers


def run_phase(name: str, urls: dict[str, str], headers: dict[str, str], full: bool,
              load: Load) -> dict[str, Any]:
    """One phase against both servers (`urls`: toolfleet and nginx); prints and returns it."""
    sent = {server: phase_headers(url, headers, full) for server, url in urls.items()}
    # Rounds alternate between the servers, so a change in the machine's load
    # falls on both alike.
    rounds: dict[str, list[Result]] = {server: [] for server in urls}
    for index in range(load.rounds):
        for server, url in urls.items():
            rounds[server].append(load.measure(url, sent[server], full, index == 0))
    ours, theirs = (Result(sum(r.requests for r in rounds[server]),
                           sum(r.seconds for r in rounds[server]),
                           statistics.median(r.p99_ms for r in rounds[server]))
                    for server in urls)
    ratio = ours.rate / theirs.rate
    spread = sorted(a.rate / b.rate for a, b in zip(rounds["toolfleet"],
                                                    rounds["nginx"], strict=True))
    print(f"{name:20} toolfleet {ours.rate:8,.0f} req/s p99 {ours.p99_ms:6.2f} ms | "
          f"nginx {theirs.rate:8,.0f} req/s p99 {theirs.p99_ms:6.2f} ms | "
          f"ratio {ratio:.2f} (rounds {spread[0]:.2f}-{spread[-1]:.2f})", flush=True)
    return {"toolfleet_rps": round(ours.rate),
            "toolfleet_p99_ms": round(ours.p99_ms, 2),
            "nginx_rps": round(theirs.rate),
            "nginx_p99_ms": round(theirs.p99_ms, 2),
            "ratio": round(ratio, 2),
            "ratio_by_round": [round(r, 2) for r in spread]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--format", choices=FORMATS, default="openai")
    parser.add_argument("--client", choices=["auto", "wrk", "builtin"], default="auto")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=5000,
                        help="per phase, built-in client (full-body phases take a tenth)")
    parser.add_argument("--seconds", type=float, default=10, help="per phase, wrk")
    parser.add_argument("--rounds", type=int, default=5,
                        help="each phase alternates between the servers this many times")
    parser.add_argument("--nginx", help="the nginx binary (default: found on PATH or in sbin)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_toolfleet(args.serve, args.tools)
        return 0

    nginx = find_nginx(args.nginx)
    if nginx is None:
        print(f"nginx {'is not at ' + args.nginx if args.nginx else 'is not installed'}; it "
              "is the baseline of this benchmark. On Debian or Ubuntu: sudo apt-get update && "
              "sudo apt-get install -y nginx", file=sys.stderr)
        return 2
    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        print("wrk is not installed (Debian: apt-get install wrk); or use --client builtin",
              file=sys.stderr)
        return 2
    load = Load(wrk, args.connections, args.requests, args.seconds, args.rounds)

    catalog = realistic_catalog(args.tools, name=CATALOG_NAME)
    body = render(catalog, args.format)
    path = f"/v1/catalogs/{CATALOG_NAME}"
    client = "wrk (1 thread)" if wrk else "built-in asyncio client"
    print(f"catalog: {args.tools} tools, format {args.format}, {len(body):,} bytes "
          f"({len(gzip.compress(body)):,} gzip); load: {client}, {args.connections} "
          f"keep-alive connections; {os.cpu_count()} CPUs")

    target = f"{path}?format={args.format}"
    with toolfleet_server(args.tools) as toolfleet, nginx_server(nginx, body, path) as baseline:
        urls = {"toolfleet": toolfleet + target, "nginx": baseline + target}
        report = {name: run_phase(name, urls, headers, full, load)
                  for name, (headers, full) in PHASES.items()}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
