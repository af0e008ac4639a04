"""Running the gateway: where its catalogs come from, and `serve`.

`toolfleet gateway` (cli/gateway.py; also `python -m toolfleet.gateway`)
follows the catalog ConfigMaps an operator installation publishes, exactly as
a standby operator replica does (runtime/follower.py): a list, then a watch
from its resourceVersion. `--catalog FILE` serves canonical catalog JSON files
instead, with no cluster at all.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import uvicorn

from toolfleet.catalog.model import Catalog, Endpoint
from toolfleet.gateway.app import build_app, build_gateway
from toolfleet.gateway.backends import AddressResolver
from toolfleet.gateway.settings import GatewaySettings
from toolfleet.reconcile.catalog import published_selector
from toolfleet.runtime.follower import Follower
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)


def serve(settings: GatewaySettings, store: CatalogStore,
          resolver: AddressResolver | None = None) -> None:
    """Serve the catalogs of `store` on settings.host:settings.port until SIGTERM or SIGINT.

    Uvicorn drains calls in flight for up to 30 s after SIGTERM, less than the
    chart's terminationGracePeriodSeconds.
    """
    app = build_app(build_gateway(store, settings, resolver))
    # uvloop and httptools (C) rather than asyncio's loop and h11 (Python): on a trivial
    # tool they take a third of the gateway's CPU per call (hack/bench/bench_gateway.py).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                access_log=False, lifespan="on", timeout_graceful_shutdown=30,
                loop="uvloop", http="httptools")


def load_catalogs(paths: Sequence[Path]) -> CatalogStore:
    """A store holding the canonical catalogs in `paths` (JSON files), marked synced.

    Raises ValueError naming the file that is not a canonical catalog.
    """
    store = CatalogStore()
    for path in paths:
        try:
            store.publish(Catalog.model_validate(json.loads(path.read_text())))
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: not a canonical catalog ({error})") from error
    store.mark_synced()
    return store


def follow_published(operator_namespace: str) -> tuple[CatalogStore, threading.Event]:
    """A store kept equal to the catalogs published by the operator in `operator_namespace`.

    The ConfigMaps are followed on a daemon thread until the returned event is
    set; the store is marked synced (so /readyz answers 200) after the first
    complete list. Reads need get, list and watch on configmaps in every
    namespace a catalog is published to (the chart's gateway ClusterRole).
    """
    store = CatalogStore()
    stop = Follower(store, published_selector(operator_namespace)).start()
    log.info("following the catalogs published by the operator in namespace %s",
             operator_namespace)
    return store, stop


class MappedResolver:
    """Endpoint URLs mapped to other base URLs, for a gateway outside the cluster.

    `mapping` is {in-catalog base URL: base URL to call instead}, e.g.
    {"http://segmenter.team-a.svc.cluster.local:8080": "http://127.0.0.1:9001"};
    URLs not in it are called as they are.
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.mapping = {k.rstrip("/"): v.rstrip("/") for k, v in mapping.items()}

    def addresses(self, endpoint: Endpoint) -> Sequence[str]:
        """`[mapping[endpoint.url]]`, or `[endpoint.url]` when it is not mapped."""
        url = endpoint.url.rstrip("/")
        return [self.mapping.get(url, url)]
