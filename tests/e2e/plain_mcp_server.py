"""A plain MCP server built with the `mcp` SDK alone: no toolfleet code, no metrics of its own.

    POST /mcp     streamable HTTP; one tool, `lookup(key)` -> {"key", "value", "version"}
    GET  /readyz  200, for the test harness

PLAIN_VERSION names the version in results; PLAIN_IS_ERROR=1 makes every call
answer an `isError` result, as a broken release of an ordinary image would.

Run: `python -m plain_mcp_server --host 127.0.0.1 --port N` with tests/e2e on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

VERSION = os.environ.get("PLAIN_VERSION", "1.0.0")
BROKEN = os.environ.get("PLAIN_IS_ERROR", "") == "1"

server: MCPServer[Any] = MCPServer("plain-lookup", version=VERSION)


@server.tool(description="Look a key up.")
def lookup(key: str) -> dict[str, str]:
    if BROKEN:
        raise ToolError(f"lookup {VERSION} cannot read its table")
    return {"key": key, "value": key.upper(), "version": VERSION}


@server.custom_route("/readyz", methods=["GET"])
async def ready(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=2)
