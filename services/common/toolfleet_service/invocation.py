"""The one place a tool call is carried out, for HTTP and MCP alike.

A call goes: count it in flight, maybe inject a fault (TOOLFLEET_FAULT_RATE),
read its arguments, check the row limit, validate them with the tool's input
model, run the tool on a worker thread (at most TOOLFLEET_WORKER_THREADS at a
time; the rest wait, still counted in flight), and answer with a status and a
JSON body. The transports only translate that answer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from pydantic import ValidationError

from toolfleet_service.errors import (
    InjectedFaultError,
    LimitExceededError,
    ToolError,
    from_validation_error,
)
from toolfleet_service.metrics import ServiceMetrics
from toolfleet_service.settings import ServiceSettings
from toolfleet_service.threads import NativeThreads
from toolfleet_service.tool import ServiceDefinition, ToolDefinition

log = logging.getLogger(__name__)

ArgumentsLoader = Callable[[], Awaitable[Any]]


@dataclass(frozen=True)
class ToolResponse:
    """A tool call's answer: an HTTP status and a JSON body."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Whether the tool produced a result."""
        return self.status == 200


class ToolInvoker:
    """Runs a service's tools under its settings, recording metrics."""

    def __init__(
        self,
        service: ServiceDefinition,
        settings: ServiceSettings,
        metrics: ServiceMetrics,
        *,
        chance: Callable[[], float] = random.random,
    ) -> None:
        self.service = service
        self.settings = settings
        self.metrics = metrics
        self._chance = chance
        self._native_threads = NativeThreads()
        self._workers: anyio.CapacityLimiter | None = None  # made in the event loop
        metrics.prepare([tool.name for tool in service.tools])

    async def invoke(
        self, tool: ToolDefinition[Any, Any], load_arguments: ArgumentsLoader, transport: str
    ) -> ToolResponse:
        """Serve one call from a client: metrics, fault injection, then `execute`.

        `load_arguments` reads the arguments (for HTTP, the request body); it runs
        inside the in-flight window and may raise a ToolError such as a body over
        the size limit.
        """
        started = time.perf_counter()
        self.metrics.inflight.inc()
        try:
            response = await self._serve(tool, load_arguments)
        finally:
            self.metrics.inflight.dec()
        seconds = time.perf_counter() - started
        self.metrics.record(tool.name, response.status, seconds)
        log.info(
            "tool=%s transport=%s status=%d seconds=%.4f",
            tool.name, transport, response.status, seconds,
        )
        return response

    async def _serve(
        self, tool: ToolDefinition[Any, Any], load_arguments: ArgumentsLoader
    ) -> ToolResponse:
        settings = self.settings
        if settings.fault_delay_seconds:
            await anyio.sleep(settings.fault_delay_seconds)
        if settings.fault_rate and self._chance() < settings.fault_rate:
            return _answer(InjectedFaultError(settings.fault_rate))
        try:
            arguments = await load_arguments()
        except ToolError as error:
            return _answer(error)
        return await self.execute(tool, arguments)

    async def execute(self, tool: ToolDefinition[Any, Any], arguments: Any) -> ToolResponse:
        """Check limits, validate and run the tool; no metrics, no injected faults.

        The start-up warm-up calls this directly.
        """
        try:
            self._check_rows(tool, arguments)
            try:
                parsed = tool.input_model.model_validate(arguments)
            except ValidationError as error:
                raise from_validation_error(error) from None
            if self._workers is None:
                self._workers = anyio.CapacityLimiter(self.settings.worker_threads)
            result = await anyio.to_thread.run_sync(
                partial(self._compute, tool, parsed), limiter=self._workers
            )
        except ToolError as error:
            return _answer(error)
        except Exception as error:
            # The request boundary: a bug in a tool becomes a 500 that names it and
            # a logged traceback, and the process keeps serving other calls.
            log.exception("tool %s failed", tool.name)
            return ToolResponse(
                500, {"error": f"internal error in tool {tool.name}: "
                               f"{type(error).__name__}: {error}"},
            )
        return ToolResponse(200, result.model_dump(mode="json"))

    def _compute(self, tool: ToolDefinition[Any, Any], parsed: Any) -> Any:
        with self._native_threads.one_thread():
            return tool.run(parsed)

    def _check_rows(self, tool: ToolDefinition[Any, Any], arguments: Any) -> None:
        # Counted before validation, so an oversized call costs no validation work.
        if not isinstance(arguments, Mapping):
            return
        rows = arguments.get(tool.rows_field)
        if isinstance(rows, list) and len(rows) > self.settings.max_rows:
            raise LimitExceededError(
                limit="TOOLFLEET_MAX_ROWS", maximum=self.settings.max_rows,
                actual=len(rows), field=tool.rows_field, what="rows",
            )


def _answer(error: ToolError) -> ToolResponse:
    return ToolResponse(error.status, error.body())
