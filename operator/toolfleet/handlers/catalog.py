"""kopf handlers for the tool catalog: any change in the fleet has the catalogs published again.

A change to a ToolService, ToolCatalog or Namespace only marks the catalogs
dirty. `runtime.publisher` then publishes them all in the background, changes
within a short window together; `runtime.follower` serves, on every replica,
what the active replica published. Admission is in `handlers.admission`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

from toolfleet.api.common import GROUP, VERSION
from toolfleet.api.toolcatalog import PLURAL
from toolfleet.reconcile.catalog import Fleet, published_selector
from toolfleet.runtime.follower import Follower
from toolfleet.runtime.indices import index_values
from toolfleet.runtime.publisher import CatalogPublisher, run_publisher
from toolfleet.server.catalog import CatalogStore
from toolfleet.settings import Settings

# What the catalog handlers keep in kopf's memo.
DIRTY, PUBLISHER, FOLLOWER_STOP = "catalog_dirty", "catalog_publisher", "catalog_follower_stop"


def settings_of(memo: kopf.Memo) -> Settings:
    """The operator's settings, which `toolfleet run` puts in kopf's memo.

    An operator started another way (`kopf run`, or a `toolfleet run` from before
    the memo held them) has none there: they are read from the environment once
    and kept in the memo for every handler after.
    """
    if "settings" not in memo:
        memo["settings"] = Settings.from_env()
    settings: Settings = memo["settings"]
    return settings


def observe_fleet(toolservices: Mapping[Any, Iterable[Any]],
                  toolcatalogs: Mapping[Any, Iterable[Any]],
                  namespaces: Mapping[str, Iterable[dict[str, str]]]) -> Fleet:
    """A copy of what the indices hold, for catalogs to be built from."""
    labels: dict[str, Mapping[str, str]] = {}
    for name in list(namespaces):
        values = index_values({name: namespaces.get(name, [])})
        labels[name] = values[0] if values else {}
    return Fleet(toolservices=index_values(toolservices),
                 toolcatalogs=index_values(toolcatalogs), namespace_labels=labels)


@kopf.index(GROUP, VERSION, PLURAL)
def toolcatalogs(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) to the latest ToolCatalog body."""
    return {(body.metadata.namespace or "", body.metadata.name or ""): dict(body)}


@kopf.index("namespaces")
def namespace_labels(body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    """Namespace name to its labels, for catalogs' namespace selectors."""
    return {body.metadata.name or "": dict(labels)}


def _mark_dirty(memo: kopf.Memo) -> None:
    # Only a flag: nothing here can fail, so nothing relies on kopf retrying an event.
    dirty: asyncio.Event | None = memo.get(DIRTY)
    if dirty is not None:
        dirty.set()


@kopf.on.event(GROUP, VERSION, "toolservices")
async def toolservice_for_catalog(memo: kopf.Memo, **_: Any) -> None:
    """A ToolService changed (or went): its tools' entries may have."""
    _mark_dirty(memo)


@kopf.on.event(GROUP, VERSION, PLURAL)
async def toolcatalog_changed(memo: kopf.Memo, **_: Any) -> None:
    """A ToolCatalog changed (or went): its selection may have."""
    _mark_dirty(memo)


@kopf.on.event("namespaces")
async def namespace_changed(memo: kopf.Memo, **_: Any) -> None:
    """Namespace labels feed catalogs' namespace selectors."""
    _mark_dirty(memo)


@kopf.on.startup()
async def start_publisher(memo: kopf.Memo, **kwargs: Any) -> None:
    """Start publishing catalogs whenever marked dirty, and following what is published."""
    settings = settings_of(memo)
    # Startup handlers run in registration order; whichever comes first makes the store.
    store: CatalogStore = memo.setdefault("store", CatalogStore())
    publisher = CatalogPublisher(store, settings)
    follower = Follower(store, published_selector(settings.namespace),
                        skip=publisher.publishes)
    memo[FOLLOWER_STOP] = follower.start()
    indices = kwargs["toolservices"], kwargs["toolcatalogs"], kwargs["namespace_labels"]
    memo[DIRTY] = dirty = asyncio.Event()
    memo[PUBLISHER] = asyncio.create_task(run_publisher(
        publisher, lambda: observe_fleet(*indices), dirty,
        debounce=settings.catalog_debounce_seconds), name="catalog-publisher")


@kopf.on.cleanup()
async def stop_publisher(memo: kopf.Memo, **_: Any) -> None:
    """Stop the publisher task and the ConfigMap follower."""
    task: asyncio.Task[None] | None = memo.get(PUBLISHER)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    stop: threading.Event | None = memo.get(FOLLOWER_STOP)
    if stop is not None:
        stop.set()
