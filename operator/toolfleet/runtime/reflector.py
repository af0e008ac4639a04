"""List, then watch from the list's resourceVersion, until stopped: client-go's reflector.

A watch the server ends is resumed from the last version seen; a version too
old (410 Gone) starts over with a list; any other failure is retried after a
capped exponential backoff, and the reflector never gives up. What it sees
goes to a `Cache`: the full list (`relist`), then each event (`handle`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from toolfleet.runtime import kube
from toolfleet.runtime.scheduler import Backoff

log = logging.getLogger(__name__)

Lister = Callable[[str, str], tuple[list[dict[str, Any]], str]]
Watcher = Callable[[str, str, str], Iterator[tuple[str, dict[str, Any]]]]
# Waits after failures in a row: 1, 2, 4 ... 30 seconds.
BACKOFF = Backoff(base=1.0, cap=30.0)


class Cache(Protocol):
    """What a reflector feeds."""

    def relist(self, items: Iterable[dict[str, Any]]) -> None:
        """Start over from a full list of the objects."""

    def handle(self, kind: str, obj: dict[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""


class Reflector:
    """Keeps `cache` equal to the objects of `kind` in every namespace matching `selector`.

    `on_synced` is called after each complete list, e.g. to mark readiness.
    """

    def __init__(self, kind: str, selector: str, cache: Cache, *,
                 on_synced: Callable[[], None] = lambda: None,
                 backoff: Backoff = BACKOFF,
                 list_objects: Lister = kube.list_with_version,
                 watch_objects: Watcher = kube.watch_objects) -> None:
        self.kind, self.selector, self.cache = kind, selector, cache
        self.on_synced, self.backoff = on_synced, backoff
        self._list, self._watch = list_objects, watch_objects

    def run(self, stop: threading.Event) -> None:
        """List and watch until `stop` is set; see the module docstring."""
        what = f"{self.kind}s ({self.selector})"
        version: str | None = None
        failures = 0
        while not stop.is_set():
            try:
                if version is None:
                    items, version = self._list(self.kind, self.selector)
                    self.cache.relist(items)
                    self.on_synced()
                    failures = 0
                for kind, obj in self._watch(self.kind, version, self.selector):
                    if stop.is_set():
                        return
                    version = obj.get("metadata", {}).get("resourceVersion") or version
                    if kind != "BOOKMARK":
                        self.cache.handle(kind, obj)
                    failures = 0
                continue  # the server ended the watch: resume from `version`
            except kube.ApiError as err:
                if err.status == 410:
                    log.info("%s: watch expired (%s); listing again", what, err)
                    version = None
                    continue
                log.warning("following %s: %s", what, err)
            except Exception:
                # Whatever breaks (the connection, a malformed event, a bug), keep
                # following: log it with its traceback and try again.
                log.exception("following %s failed", what)
                version = None
            delay = self.backoff.delay(failures)
            failures += 1
            log.info("following %s again in %.0fs", what, delay)
            stop.wait(delay)

    def start(self, name: str) -> threading.Event:
        """Run on a daemon thread called `name`; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name=name, daemon=True).start()
        return stop
