"""`python -m <service>`: parse the command line and serve with uvicorn until SIGTERM.

On SIGTERM (what Kubernetes sends first when it stops a pod) the service stops
accepting connections, reports not-ready, lets in-flight calls finish for up to
TOOLFLEET_SHUTDOWN_TIMEOUT_SECONDS, and exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from types import FrameType

import uvicorn

from toolfleet_service.app import ServiceState, build_app
from toolfleet_service.settings import ServiceSettings, SettingsError
from toolfleet_service.tool import ServiceDefinition

log = logging.getLogger(__name__)

LOG_LEVELS = ["debug", "info", "warning", "error"]


class _DrainingServer(uvicorn.Server):
    """A uvicorn server that turns readiness off as soon as shutdown begins."""

    def __init__(self, config: uvicorn.Config, state: ServiceState) -> None:
        super().__init__(config)
        self._state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self._state.draining:
            log.info("signal %d: draining in-flight calls, then exiting", sig)
        self._state.draining = True
        super().handle_exit(sig, frame)


def run(
    service: ServiceDefinition,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Serve `service` until stopped; the exit status for the process."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog=f"python -m {service.name.replace('-', '_')}",
        description=f"{service.description} Settings are read from the environment; see "
        "services/README.md.",
    )
    parser.add_argument("--host", help="address to listen on (env TOOLFLEET_HOST; "
                        "default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (env PORT; default 8080)")
    parser.add_argument("--log-level", default=env.get("TOOLFLEET_LOG_LEVEL", "info").lower(),
                        choices=LOG_LEVELS,
                        help="log level (env TOOLFLEET_LOG_LEVEL; default info)")
    args = parser.parse_args(argv)
    if args.log_level not in LOG_LEVELS:  # argparse checks choices on the command line only
        parser.error(f"TOOLFLEET_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)} "
                     f"(got {args.log_level!r})")

    overrides = dict(env)
    if args.port is not None:
        overrides["PORT"] = str(args.port)
    if args.host:
        overrides["TOOLFLEET_HOST"] = args.host
    try:
        settings = ServiceSettings.from_env(overrides, default_version=service.version)
    except SettingsError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2

    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.log_level != "debug":
        # The MCP SDK logs every stateless request's session at INFO.
        logging.getLogger("mcp").setLevel(logging.WARNING)
    app = build_app(service, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        log_config=None,  # uvicorn's loggers go through the root logger configured above
        access_log=False,  # each tool call is logged once, with its outcome, by the invoker
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        server_header=False,
    )
    server = _DrainingServer(config, app.state.service_state)
    # uvicorn re-raises the signal that stopped it once it has shut down; a
    # drained shutdown is a clean one, so make that re-raise exit with 0.
    for handled in (signal.SIGTERM, signal.SIGINT):
        signal.signal(handled, _exit_cleanly)
    log.info("%s %s listening on %s:%d", service.name, settings.version, settings.host,
             settings.port)
    server.run()
    return 0 if server.started else 1


def _exit_cleanly(_sig: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)
