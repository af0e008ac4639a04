"""Serve the catalogs as published in ConfigMaps, on every replica.

A standby replica's kopf watches are paused by peering, so it has nothing to
build catalogs from; it serves what the active replica published instead, and
so keeps answering through a handover. Where this replica publishes a catalog
itself (`skip`), its own copy stands.

The follower lists the catalog ConfigMaps of its operator installation, then
watches them from the list's resourceVersion (runtime/reflector.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from toolfleet.catalog.configmap_reader import read_configmaps
from toolfleet.catalog.configmaps import CATALOG_NAME_ANNOTATION
from toolfleet.catalog.model import Catalog
from toolfleet.reconcile.catalog import FORMATS_ANNOTATION
from toolfleet.runtime import kube
from toolfleet.runtime.reflector import BACKOFF, Lister, Reflector, Watcher
from toolfleet.runtime.scheduler import Backoff
from toolfleet.server.catalog import CatalogStore

log = logging.getLogger(__name__)



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
        """List and watch until `stop` is set (runtime/reflector.py), serving what is seen."""
        self._reflector().run(stop)

    def start(self, name: str = "catalog-follower") -> threading.Event:
        """Run on a daemon thread called `name`; set the returned event to stop it."""
        return self._reflector().start(name)

    def _reflector(self) -> Reflector:
        return Reflector("ConfigMap", self.selector, self, on_synced=self.store.mark_synced,
                         backoff=self.backoff, list_objects=self._list,
                         watch_objects=self._watch)

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
