"""The catalogs every operator replica serves: rendered once, read without locks.

`CatalogStore.publish` is called from kopf's worker threads; the HTTP server
reads on the asyncio loop. A publish renders every format, gzips it and
derives its ETag outside any lock, then swaps in a new mapping of catalogs: a
reader picks up one reference and sees one complete publish, never half of
one. Subscribers (the change stream) are told on their own event loop through
`call_soon_threadsafe`, once per change of a catalog's hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import TracebackType
from typing import Any

from toolfleet.catalog.configmaps import gzip_bytes
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.render import FORMATS, render
from toolfleet.metrics import CATALOG_BYTES, CATALOG_TOOLS

# Changes a subscriber may have waiting; past it the oldest is dropped, as the
# newest says all a router needs (what the catalog is now).
SUBSCRIBER_QUEUE_LIMIT = 64
# Hex digits of a rendering's sha256 in its ETag.
ETAG_DIGEST_LENGTH = 32


@dataclass(frozen=True)
class Rendering:
    """One format of a published catalog, ready to send as it is: bodies and headers."""

    format: str
    body: bytes
    gzip_body: bytes
    etag: str  # strong, quoted: "<sha256 of body>-<format>"

    @cached_property
    def not_modified_headers(self) -> Mapping[str, str]:
        """Headers of a 304: what a cache needs to keep using its copy."""
        return {"ETag": self.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}

    @cached_property
    def headers(self) -> Mapping[str, str]:
        """Headers of the body sent as it is."""
        return {**self.not_modified_headers, "Content-Type": "application/json"}

    @cached_property
    def gzip_headers(self) -> Mapping[str, str]:
        """Headers of the gzip body."""
        return {**self.headers, "Content-Encoding": "gzip"}


@dataclass(frozen=True)
class PublishedCatalog:
    """A catalog as served: its document and every published format."""

    catalog: Catalog
    renderings: Mapping[str, Rendering]

    @property
    def name(self) -> str:
        return self.catalog.name

    @property
    def hash(self) -> str:
        return self.catalog.hash

    @property
    def tools(self) -> int:
        return len(self.catalog.tools)


@dataclass(frozen=True)
class CatalogChange:
    """What a subscriber is told: a catalog's hash now (None once removed)."""

    name: str
    hash: str | None
    tools: int

    def to_wire(self) -> dict[str, Any]:
        """The change as the event stream sends it."""
        return {"name": self.name, "hash": self.hash, "tools": self.tools}


def render_for_serving(catalog: Catalog, format: str) -> Rendering:
    """A format's body, its gzip and its ETag, derived from the bytes themselves.

    The ETag comes from the body, not only the catalog hash: the canonical format
    also holds conflicts and exclusions, and a new operator version may render the
    same tools differently.
    """
    body = render(catalog, format)
    digest = hashlib.sha256(body).hexdigest()[:ETAG_DIGEST_LENGTH]
    return Rendering(format=format, body=body, gzip_body=gzip_bytes(body),
                     etag=f'"{digest}-{format}"')


class Subscription:
    """Changes of one catalog, as an async iterator, from the moment of subscribing.

    `current` is the catalog's state when the subscription began; every later
    change of its hash follows, in order. Use it on the event loop it was made
    on, and close it (or use `with`) when done.
    """

    def __init__(self, store: CatalogStore, name: str, current: CatalogChange,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.current = current
        self.loop = loop
        self._store = store
        self._queue: asyncio.Queue[CatalogChange | None] = asyncio.Queue(
            SUBSCRIBER_QUEUE_LIMIT)
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> CatalogChange:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        change = await self._queue.get()
        if change is None:
            raise StopAsyncIteration
        return change

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stop receiving changes; an iteration in progress ends. Call on its loop."""
        if self._closed:
            return
        self._closed = True
        self._store._unsubscribe(self)
        self._put(None)

    def _deliver(self, change: CatalogChange) -> None:
        """On the subscriber's loop: queue a change."""
        if not self._closed:
            self._put(change)

    def _put(self, item: CatalogChange | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)


class CatalogStore:
    """The catalogs this replica serves, and who wants to hear of their changes."""

    def __init__(self) -> None:
        # Replaced whole on every write, never changed in place: reads need no lock.
        self._catalogs: Mapping[str, PublishedCatalog] = {}
        self._lock = threading.Lock()
        self._subscribers: dict[str, set[Subscription]] = {}
        self._synced = threading.Event()

    @property
    def synced(self) -> bool:
        """Whether the first full set of catalogs has been published."""
        return self._synced.is_set()

    def mark_synced(self) -> None:
        """Say the first full set of catalogs is published: /readyz may pass. Idempotent."""
        self._synced.set()

    def publish(self, catalog: Catalog, formats: Sequence[str] = FORMATS) -> bool:
        """Serve `catalog` in `formats`, replacing its previous publish.

        Safe from any thread. Returns whether the hash changed (a new or changed
        catalog), in which case every subscriber of it is told; an equal catalog
        is not rendered again.
        """
        unknown = [f for f in formats if f not in FORMATS]
        if unknown or not formats:
            raise ValueError(f"formats {list(formats)} must be one or more of "
                             f"{', '.join(FORMATS)}")
        previous = self._catalogs.get(catalog.name)
        if (previous is not None and previous.catalog == catalog
                and tuple(previous.renderings) == tuple(formats)):
            return False
        published = PublishedCatalog(catalog, {f: render_for_serving(catalog, f)
                                               for f in formats})
        with self._lock:
            previous = self._catalogs.get(catalog.name)
            self._catalogs = {**self._catalogs, catalog.name: published}
            changed = previous is None or previous.hash != catalog.hash
            if changed:
                self._notify(CatalogChange(catalog.name, catalog.hash, len(catalog.tools)))
        CATALOG_TOOLS.labels(catalog.name).set(len(catalog.tools))
        for rendering in published.renderings.values():
            CATALOG_BYTES.labels(catalog.name, rendering.format).set(len(rendering.body))
        return changed

    def remove(self, name: str) -> bool:
        """Stop serving a catalog; subscribers are told (hash None). Safe from any thread.

        Returns whether it was served.
        """
        with self._lock:
            previous = self._catalogs.get(name)
            if previous is None:
                return False
            self._catalogs = {k: v for k, v in self._catalogs.items() if k != name}
            self._notify(CatalogChange(name, None, 0))
        with contextlib.suppress(KeyError):  # never set: nothing to remove
            CATALOG_TOOLS.remove(name)
        for format in previous.renderings:
            with contextlib.suppress(KeyError):
                CATALOG_BYTES.remove(name, format)
        return True

    def get(self, name: str, format: str = "canonical") -> Rendering | None:
        """A catalog's rendering in one format; None when either is not published."""
        published = self._catalogs.get(name)
        return None if published is None else published.renderings.get(format)

    def published(self, name: str) -> PublishedCatalog | None:
        """A catalog as served, or None."""
        return self._catalogs.get(name)

    def names(self) -> list[str]:
        """Names of the catalogs served, sorted."""
        return sorted(self._catalogs)

    def subscribe(self, name: str) -> Subscription:
        """Changes of catalog `name` (which need not exist yet), from now on.

        Call on the event loop that will iterate the subscription.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            published = self._catalogs.get(name)
            current = (CatalogChange(name, None, 0) if published is None else
                       CatalogChange(name, published.hash, published.tools))
            subscription = Subscription(self, name, current, loop)
            self._subscribers.setdefault(name, set()).add(subscription)
        return subscription

    def subscriber_count(self, name: str) -> int:
        """How many subscriptions follow catalog `name` now."""
        return len(self._subscribers.get(name, ()))

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.name)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[subscription.name]

    def _notify(self, change: CatalogChange) -> None:
        """Queue a change for every subscriber of its catalog (with the lock held, so
        changes arrive in the order they were made)."""
        for subscription in list(self._subscribers.get(change.name, ())):
            try:
                subscription.loop.call_soon_threadsafe(subscription._deliver, change)
            except RuntimeError:  # its loop is closed: nobody is listening any more
                self._subscribers[change.name].discard(subscription)
