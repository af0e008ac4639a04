"""The contract every toolfleet specialist service keeps, as one small library.

A service declares its tools (`ServiceDefinition`, `ToolDefinition`: typed
functions with pydantic input and output models) and calls `run`. This package
does the rest the same way for every service: `POST /tools/<name>` and MCP at
`/mcp` from one process, `/healthz`, `/readyz` after a warm-up call, `/metrics`
with the names the operator's autoscaler and canary analysis query, input
limits, errors that name the field, fault injection for canary demos, and a
graceful shutdown on SIGTERM.
"""

from toolfleet_service.errors import FieldProblem, ToolInputError
from toolfleet_service.runner import run
from toolfleet_service.settings import ServiceSettings
from toolfleet_service.tool import ServiceDefinition, ToolDefinition, ToolHints, ToolModel

__all__ = [
    "FieldProblem",
    "ServiceDefinition",
    "ServiceSettings",
    "ToolDefinition",
    "ToolHints",
    "ToolInputError",
    "ToolModel",
    "run",
]
