"""A tiny tool backend for the gateway's fault tests: it counts its calls and misbehaves on cue.

    POST /tools/echo   {"arguments": <body>, "backend": TINY_NAME, "traceparent": ...}
    POST /tools/fail   answers TINY_FAIL_STATUS (503 by default) with a JSON error
    POST /tools/hang   never answers (until the caller goes away)
    GET  /calls        how many calls each path received
    GET  /readyz, /healthz

Run: `python -m tiny_backend --host 127.0.0.1 --port N` with tests/services on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

NAME = os.environ.get("TINY_NAME", "tiny")
FAIL_STATUS = int(os.environ.get("TINY_FAIL_STATUS", "503"))
calls: Counter[str] = Counter()


async def echo(request: Request) -> Response:
    calls[request.url.path] += 1
    body = json.loads(await request.body() or b"null")
    return JSONResponse({"arguments": body, "backend": NAME,
                         "traceparent": request.headers.get("traceparent")})


async def fail(request: Request) -> Response:
    calls[request.url.path] += 1
    return JSONResponse({"error": f"{NAME} answers {FAIL_STATUS} on purpose", "backend": NAME},
                        FAIL_STATUS)


async def hang(request: Request) -> Response:
    calls[request.url.path] += 1
    # Until the caller goes away, so that a shutdown does not wait for it.
    while not await request.is_disconnected():
        await anyio.sleep(0.1)
    return JSONResponse({})


async def counts(_request: Request) -> Response:
    return JSONResponse(dict(calls))


async def ok(_request: Request) -> Response:
    return JSONResponse({"status": "ok", "backend": NAME})


app = Starlette(routes=[
    Route("/tools/echo", echo, methods=["POST"]),
    Route("/tools/fail", fail, methods=["POST"]),
    Route("/tools/hang", hang, methods=["POST"]),
    Route("/calls", counts, methods=["GET"]),
    Route("/readyz", ok, methods=["GET"]),
    Route("/healthz", ok, methods=["GET"]),
])

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=2)
