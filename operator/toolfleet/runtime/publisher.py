"""The one place that publishes catalogs: serve them, write their ConfigMaps and statuses.

`CatalogPublisher.publish` applies `reconcile.catalog` to the fleet: each new or
changed catalog is served from memory first (routers see it at once, even when
the API server does not answer), then its ConfigMaps are written, stale ones
deleted, its ToolCatalog's status patched and events recorded. It remembers
what it published: a publish that sees nothing new writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from toolfleet.catalog.render import FORMATS
from toolfleet.catalog.source import ServiceKey
from toolfleet.metrics import CATALOG_PUBLISHES
from toolfleet.reconcile import catalog as reconcile
from toolfleet.runtime import kube
from toolfleet.runtime.scheduler import Backoff
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings

log = logging.getLogger(__name__)
# After failed publishes in a row, wait 1, 2, 4 ... 30 seconds, ten times at most.
BACKOFF = Backoff(base=1.0, cap=30.0, max_attempts=10)


class CatalogPublisher:
    """Publishes the fleet's catalogs into a store and ConfigMaps; called by one task only."""

    def __init__(self, store: CatalogStore, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.published: dict[str, reconcile.Published] = {}
        self.settled: dict[ServiceKey, Mapping[str, Any]] = {}
        self.served: set[str] = set()

    def publishes(self, name: str) -> bool:
        """Whether this replica serves catalog `name` from its own publish (not the follower's)."""
        return name in self.served

    def publish(self, fleet: reconcile.Fleet) -> list[str]:
        """Publish every catalog of `fleet`; what could not be written (empty: everything was)."""
        now = datetime.now(UTC)
        plan = reconcile.plan(reconcile.World(
            settings=self.settings, fleet=fleet, settled=self.settled,
            published=self.published), now)
        self.settled = plan.settled
        for problem in plan.left_out:
            log.warning("left out of every catalog: %s", problem)
        failures = [f for removal in plan.removals for f in self._remove(removal)]
        for publication in plan.publications:
            self.store.publish(publication.catalog, publication.formats)
            self.served.add(publication.key)
        self.store.mark_synced()
        for publication in plan.publications:
            failures += self._write(publication, now)
        for update in plan.statuses:
            failures += self._write_status(update)
        return failures

    def _remove(self, removal: reconcile.Removal) -> list[str]:
        self.store.remove(removal.key)
        self.served.discard(removal.key)
        try:
            for name in removal.config_maps:
                kube.delete("ConfigMap", removal.namespace, name)
        except kube.ApiError as err:
            return [f"deleting the ConfigMaps of catalog {removal.key}: {err}"]
        del self.published[removal.key]
        log.info("removed catalog %s: its ToolCatalog is gone", removal.key)
        return []

    def _write(self, publication: reconcile.Publication, now: datetime) -> list[str]:
        key = publication.key
        # The store rendered these bytes already; a catalog of 2,000 tools takes seconds.
        renderings = {f: r.body for f in FORMATS if (r := self.store.get(key, f)) is not None}
        try:
            existing = publication.written
            if existing is None:
                existing = tuple(cm["metadata"]["name"] for cm in kube.list_objects(
                    "ConfigMap", publication.namespace, reconcile.catalog_selector(key)))
            write = reconcile.write(publication, renderings, existing, now)
            for config_map in write.config_maps:
                kube.apply_if_changed(config_map, self.settings.field_manager)
            for name in write.stale:
                kube.delete("ConfigMap", publication.namespace, name)
        except kube.ApiError as err:
            if err.status == 404:
                # The ToolCatalog's namespace is gone or going (a watch may still hold
                # the ToolCatalog): nothing to retry, and no reason to hold back the
                # other catalogs' retries.
                log.info("not writing catalog %s: %s", key, err)
                return []
            CATALOG_PUBLISHES.labels(catalog=key, result="error").inc()
            # Served from memory all the same; the ConfigMaps are written on the retry.
            return [f"writing the ConfigMaps of catalog {key}: {err}"]
        CATALOG_PUBLISHES.labels(catalog=key, result="ok").inc()
        log.info("published catalog %s: %d tool(s), hash %s", key,
                 len(publication.catalog.tools), publication.catalog.hash[:12])
        # Published, even if its status is not written: the next plan finds the status
        # behind and writes it.
        self.published[key] = write.published
        return [] if write.status is None else self._write_status(write.status)

    def _write_status(self, update: reconcile.StatusUpdate) -> list[str]:
        try:
            kube.patch_status("ToolCatalog", update.namespace, update.name,
                              update.status.model_dump(by_alias=True, mode="json"))
        except kube.ApiError as err:
            if err.status == 404:
                return []  # deleted meanwhile: the next publish removes its catalog
            return [f"writing the status of ToolCatalog {update.namespace}/{update.name}: {err}"]
        for event in update.events:
            kube.emit_event(update.toolcatalog, event.type, event.reason, event.message)
        return []


async def run_publisher(publisher: CatalogPublisher, observe: Callable[[], reconcile.Fleet],
                        dirty: asyncio.Event, *, debounce: float,
                        backoff: Backoff = BACKOFF) -> None:
    """Publish the fleet `observe` returns each time `dirty` is set, until cancelled.

    Changes within `debounce` seconds, or within as long as the last publish took
    if that is longer, are published together: a publish builds every catalog of
    the fleet again (seconds for thousands of tools), and a fleet that changes
    all the time (thousands of ToolServices becoming Ready) would otherwise have
    the operator publish without a pause, leaving its reconciles little of the
    CPU. A publish that failed to write something is tried again after
    `backoff.delay(n)` or at the next change, whichever comes first, at most
    `backoff.max_attempts` times in a row, then left to the next change.
    """
    failed = 0
    window = debounce
    while True:
        await dirty.wait()
        await asyncio.sleep(window)
        dirty.clear()
        fleet = observe()  # on the event loop, where the watches change the indices
        started = time.monotonic()
        try:
            failures = await asyncio.to_thread(publisher.publish, fleet)
        except Exception:
            # Whatever breaks (the connection, a bug), publishing must go on: it is
            # logged with its traceback and retried like a failed write.
            log.exception("publishing catalogs failed")
            failures = ["an unexpected error, logged above"]
        window = max(debounce, time.monotonic() - started)
        if not failures:
            failed = 0
        elif failed < backoff.max_attempts:
            delay = backoff.delay(failed)
            failed += 1
            log.warning("publishing catalogs again in %.0fs: %s", delay, "; ".join(failures))
            # A change meanwhile (a new ToolCatalog, say) is published at once, not after
            # the failing write's backoff.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(dirty.wait(), delay)
            dirty.set()
        else:
            log.error("publishing catalogs failed %d times in a row; waiting for the next "
                      "change: %s", failed + 1, "; ".join(failures))
            failed = 0
