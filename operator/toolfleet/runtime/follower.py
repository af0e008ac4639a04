"""Serve the catalogs as published in ConfigMaps, on every replica.

A standby replica's kopf watches are paused by peering, so it has nothing to
build catalogs from; it serves what the active replica published instead, and
so keeps answering through a handover. Where this replica publishes a catalog
itself (`skip`), its own copy stands.

The follower lists the catalog ConfigMaps of its operator installation, then
watches them from the list's resourceVersion, as client-go's reflector does:
a watch the server ends is resumed from the last version seen, a version too
old (410 Gone) starts over with a list, and any other failure is retried after
a capped exponential backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from toolfleet.catalog.configmap_reader import read_configmaps
from toolfleet.catalog.configmaps import CATALOG_NAME_ANNOTATION
from toolfleet.catalog.model import Catalog
from toolfleet.reconcile.catalog import FORMATS_ANNOTATION
from toolfleet.runtime import kube
from toolfleet.runtime.scheduler import Backoff
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)

Lister = Callable[[str, str], tuple[list[dict[str, Any]], str]]
Watcher = Callable[[str, str, str], Iterator[tuple[str, dict[str, Any]]]]
# Waits after failures in a row: 1, 2, 4 ... 30 seconds; a follower never gives up.
BACKOFF = Backoff(base=1.0, cap=30.0)


class Follower:
    """The catalogs in the ConfigMaps selected by `selector`, kept served in `store`."""

    def __init__(self, store: CatalogStore, selector: str, *,
                 skip: Callable[[str], bool] = lambda name: False,
                 backoff: Backoff = BACKOFF,
                 list_objects: Lister = kube.list_with_version,
                 watch_objects: Watcher = kube.watch_objects) -> None:
        self.store, self.selector, self.skip, self.backoff = store, selector, skip, backoff
        self._list, self._watch = list_objects, watch_objects
        # Catalog name to its ConfigMaps by name, as last seen.
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}

    def relist(self, items: Iterable[dict[str, Any]]) -> None:
        """Start over from a full list: serve what it holds, drop what it no longer does."""
        before = set(self.groups)
        self.groups = {}
        for item in items:
            self._record("ADDED", item)
        for name in sorted(before | set(self.groups)):
            self._serve(name)

    def handle(self, kind: str, obj: dict[str, Any]) -> None:
        """Take one watch event (ADDED, MODIFIED, DELETED) into account."""
        self._serve(self._record(kind, obj))

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set; see the module docstring."""
        version: str | None = None
        failures = 0
        while not stop.is_set():
            try:
                if version is None:
                    items, version = self._list("ConfigMap", self.selector)
                    self.relist(items)
                    self.store.mark_synced()
                    failures = 0
                for kind, obj in self._watch("ConfigMap", version, self.selector):
                    if stop.is_set():
                        return
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    if kind != "BOOKMARK":
                        self.handle(kind, obj)
                    failures = 0
                continue  # the server ended the watch: resume from `version`
            except kube.ApiError as err:
                if err.status == 410:
                    log.info("catalog ConfigMaps: watch expired (%s); listing again", err)
                    version = None
                    continue
                log.warning("following catalog ConfigMaps: %s", err)
            except Exception:
                # Whatever breaks (the connection, a malformed event, a bug), a standby
                # must keep serving: log it with its traceback and try again.
                log.exception("following catalog ConfigMaps failed")
                version = None
            delay = self.backoff.delay(failures)
            failures += 1
            log.info("following catalog ConfigMaps again in %.0fs", delay)
            stop.wait(delay)

    def _record(self, kind: str, obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        name = str((meta.get("annotations") or {}).get(CATALOG_NAME_ANNOTATION, ""))
        group = self.groups.setdefault(name, {})
        if kind == "DELETED":
            group.pop(meta["name"], None)
            if not group:
                del self.groups[name]
        else:
            group[meta["name"]] = obj
        return name

    def _serve(self, name: str) -> None:
        if not name or self.skip(name):
            return
        group = self.groups.get(name)
        if not group:
            self.store.remove(name)
            return
        try:
            documents = read_configmaps(group.values())
            catalog = Catalog.model_validate_json(documents["canonical"])
        except (ValueError, KeyError):
            return  # mid-publish: shards of two versions; the last event completes it
        first = next(iter(group.values()))
        formats = (first["metadata"].get("annotations") or {}).get(FORMATS_ANNOTATION)
        self.store.publish(catalog, formats.split(",") if formats else list(documents))
