"""The gateway: toolfleet's data plane.

Each published catalog becomes one MCP server (`/mcp/{catalog}`) and one
tool-call API in the vendors' own shapes (`/v1/catalogs/{catalog}/calls`).
Calls are routed to a service's stable or canary revision by the step's exact
weight, with the tool's timeout, bounded retries for idempotent tools,
passive outlier ejection and per-backend in-flight limits, and counted per
catalog, service, tool, revision and outcome.

The pure decisions live in `names`, `calls`, `routing` and `backends`; the I/O
in `upstream` (calls to services), `mcp` and `app` (the HTTP server).
"""
