"""Running the gateway: `serve(settings)`, what `toolfleet gateway` will call.

Until the gateway follows the published catalog ConfigMaps (issue 11, item
1), `serve` takes the store to serve from; `python -m toolfleet.gateway
--catalog FILE` fills one from canonical catalog JSON files, for local use.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from toolfleet.catalog.model import Catalog
from toolfleet.gateway.app import build_app, build_gateway
from toolfleet.gateway.backends import AddressResolver
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.server.catalog import CatalogStore


def serve(settings: GatewaySettings, store: CatalogStore,
          resolver: AddressResolver | None = None) -> None:
    """Serve the catalogs of `store` on settings.host:settings.port until SIGTERM or SIGINT."""
    app = build_app(build_gateway(store, settings, resolver))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                access_log=False, lifespan="on", timeout_graceful_shutdown=30)


def load_catalogs(paths: Sequence[Path]) -> CatalogStore:
    """A store holding the canonical catalogs in `paths` (JSON files), marked synced.

    Raises ValueError naming the file that is not a canonical catalog.
    """
    store = CatalogStore()
    for path in paths:
        try:
            store.publish(Catalog.model_validate(json.loads(path.read_text())))
        except ValueError as error:
            raise ValueError(f"{path}: not a canonical catalog ({error})") from error
    store.mark_synced()
    return store


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m toolfleet.gateway --catalog FILE [--catalog FILE...]`."""
    parser = argparse.ArgumentParser(prog="python -m toolfleet.gateway",
                                     description="toolfleet's tool gateway")
    parser.add_argument("--catalog", action="append", type=Path, default=[],
                        help="a canonical catalog JSON file to serve (repeatable)")
    parser.add_argument("--host", help="overrides TOOLFLEET_GATEWAY_HOST")
    parser.add_argument("--port", type=int, help="overrides TOOLFLEET_GATEWAY_PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = GatewaySettings.from_env()
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = dataclasses.replace(settings, **overrides)
    serve(settings, load_catalogs(args.catalog))
