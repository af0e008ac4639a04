"""kopf handlers for the tool catalog: keep every catalog published, and admit only valid tools.

Any change to a ToolService, ToolCatalog or Namespace marks the catalogs dirty;
one publisher task rebuilds them all (changes within a short window are
coalesced), serves them from memory on every replica, and — where something
changed — writes the ConfigMaps and the ToolCatalogs' status.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import kopf

from toolfleet.api.common import GROUP, VERSION, now_rfc3339
from toolfleet.api.toolcatalog import CollisionStrategy, ToolCatalogStatus
from toolfleet.catalog.configmaps import (
    CATALOG_LABEL,
    CATALOG_NAME_ANNOTATION,
    build_configmaps,
    catalog_label_value,
    read_configmaps,
    stale_configmaps,
)
from toolfleet.catalog.fleet import (
    CatalogTarget,
    build_all,
    catalog_status,
    catalog_targets,
    collisions,
    invalid_catalog_status,
    service_entries,
)
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.source import EntryError, entry_from_body
from toolfleet.catalog.validate import Severity, validate_toolservice_spec
from toolfleet.metrics import CATALOG_PUBLISHES, CATALOG_TOOLS
from toolfleet.resources.meta import MANAGED_BY
from toolfleet.runtime import kube
from toolfleet.runtime.indices import index_values
from toolfleet.runtime.tls import self_signed
from toolfleet.server.catalog import CatalogStore, Rendering
from toolfleet.settings import Settings

log = logging.getLogger(__name__)
SETTINGS = Settings.from_env()
# Which operator installation (by its namespace) published a ConfigMap: each
# installation follows only its own.
OPERATOR_LABEL = "toolfleet.io/operator"
# The formats a catalog is served in; its ConfigMaps always hold canonical too,
# from which every replica can render the rest.
FORMATS_ANNOTATION = "toolfleet.io/catalog-formats"
DEFAULT_STRATEGY = CollisionStrategy(SETTINGS.default_collision_strategy)


class Store(Protocol):
    """What the publisher needs of the in-memory catalog store the server reads."""

    def publish(self, catalog: Catalog, formats: Sequence[str]) -> bool: ...
    def get(self, name: str, format: str = "canonical") -> Rendering | None: ...
    def remove(self, name: str) -> None: ...
    def names(self) -> Iterable[str]: ...
    def mark_synced(self) -> None: ...


class Publisher:
    """Publishes the catalogs of the fleet; remembers what it wrote so a no-op writes nothing."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.published: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.config_maps: dict[str, list[str]] = {}
        self.settled: dict[tuple[str, str], Mapping[str, Any]] = {}

    def reconciled(self, toolservices: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Each ToolService as last reconciled: a spec change shows once its status follows.

        Between a spec change and the status written for it, the object mixes the
        new spec with the old revision; publishing that would change the catalog
        twice for one edit.
        """
        current: dict[tuple[str, str], Mapping[str, Any]] = {}
        for body in toolservices:
            meta = body["metadata"]
            key = (meta["namespace"], meta["name"])
            observed = (body.get("status") or {}).get("observedGeneration")
            if observed == meta.get("generation") or key not in self.settled:
                current[key] = body
            else:
                current[key] = self.settled[key]
        self.settled = current
        return list(current.values())

    def publish_all(self, toolservices: list[Mapping[str, Any]],
                    toolcatalogs: list[Mapping[str, Any]],
                    namespaces: Mapping[str, Mapping[str, str]]) -> None:
        """Rebuild every catalog from the observed objects and publish what changed."""
        with self.lock:
            targets, spec_errors = catalog_targets(toolcatalogs, SETTINGS.namespace,
                                                   DEFAULT_STRATEGY)
            entries, entry_errors = service_entries(self.reconciled(toolservices), namespaces,
                                                      cluster_domain=SETTINGS.cluster_domain)
            for problem in entry_errors:
                log.warning("left out of every catalog: %s", problem)
            for target, catalog in build_all(targets, entries):
                self._publish(target, catalog)
            wanted = {t.key for t in targets}
            for key in list(self.published):
                if key not in wanted:
                    # The ToolCatalog is gone; its ConfigMaps go with it (ownerReferences).
                    self.store.remove(key)
                    del self.published[key]
                    self.config_maps.pop(key, None)
            for body in toolcatalogs:
                key = f"{body['metadata']['namespace']}.{body['metadata']['name']}"
                if key in spec_errors:
                    self._write_status(body, lambda current, gen, key=key: invalid_catalog_status(
                        current, gen, spec_errors[key], now_rfc3339()))

    def _publish(self, target: CatalogTarget, catalog: Catalog) -> None:
        state = (catalog.model_dump_json(), target.formats)
        if self.published.get(target.key) == (state[0], state[1]):
            return
        self.store.publish(catalog, target.formats)
        CATALOG_TOOLS.labels(catalog=target.key).set(len(catalog.tools))
        try:
            names = self._write_config_maps(target, catalog)
        except kube.ApiError as err:
            CATALOG_PUBLISHES.labels(catalog=target.key, result="error").inc()
            # Served from memory all the same; the ConfigMaps are retried next time.
            log.warning("catalog %s: writing its ConfigMaps failed: %s", target.key, err)
            return
        CATALOG_PUBLISHES.labels(catalog=target.key, result="ok").inc()
        self.published[target.key] = (state[0], state[1])
        log.info("published catalog %s: %d tool(s), hash %s", target.key, len(catalog.tools),
                 catalog.hash[:12])
        if target.body is not None:
            self._write_status(target.body, lambda current, gen: catalog_status(
                current, gen, catalog, names, now_rfc3339()))

    def _write_config_maps(self, target: CatalogTarget, catalog: Catalog) -> list[str]:
        owner = None
        if not target.is_default and target.body is not None:
            meta = target.body["metadata"]
            owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ToolCatalog",
                     "name": meta["name"], "uid": meta["uid"], "controller": True,
                     "blockOwnerDeletion": True}
        labels = {"app.kubernetes.io/managed-by": MANAGED_BY,
                  "app.kubernetes.io/component": "catalog",
                  OPERATOR_LABEL: SETTINGS.namespace}
        formats = sorted({*target.formats, "canonical"})
        # The store rendered these bytes already; a catalog of 2,000 tools takes seconds.
        served = {f: self.store.get(catalog.name, f) for f in formats}
        renderings = {f: r.body for f, r in served.items() if r is not None}
        wanted = build_configmaps(catalog, formats, target.namespace, labels=labels,
                                  owner_reference=owner, renderings=renderings)
        for config_map in wanted:
            config_map["metadata"]["annotations"][FORMATS_ANNOTATION] = ",".join(target.formats)
        # The first ConfigMap holds the manifest of the others: write it last, so a
        # reader never finds a manifest naming shards that are not there yet.
        for config_map in reversed(wanted):
            kube.apply_if_changed(config_map, SETTINGS.field_manager)
        names = [cm["metadata"]["name"] for cm in wanted]
        existing = self.config_maps.get(target.key)
        if existing is None:
            existing = [cm["metadata"]["name"] for cm in kube.list_objects(
                "ConfigMap", target.namespace,
                f"{CATALOG_LABEL}={catalog_label_value(target.key)}")]
        for stale in stale_configmaps(existing, wanted):
            kube.delete("ConfigMap", target.namespace, stale)
        self.config_maps[target.key] = names
        return names

    def _write_status(self, body: Mapping[str, Any], update: Any) -> None:
        meta = body["metadata"]
        live = kube.get("ToolCatalog", meta["namespace"], meta["name"])
        if live is None:
            return
        current = ToolCatalogStatus.model_validate(live.get("status") or {})
        new = update(current, int(live["metadata"].get("generation") or 0))
        if new.to_wire() != current.to_wire():
            kube.patch_status("ToolCatalog", meta["namespace"], meta["name"],
                              new.model_dump(by_alias=True, mode="json"))


class Follower:
    """Serves the catalogs as published in ConfigMaps, on every replica.

    A standby replica's kopf watches are paused by peering, so it has nothing to
    build catalogs from; it serves what the active replica published instead,
    and so keeps answering through a handover. Where this replica's own
    publisher has published a catalog, the publisher's copy stands.
    """

    def __init__(self, store: Store, publisher: Publisher) -> None:
        self.store, self.publisher = store, publisher
        self.groups: dict[str, dict[str, dict[str, Any]]] = {}

    def run(self, stop: threading.Event) -> None:
        """List and watch until stopped, starting over when the watch expires or fails."""
        selector = f"{CATALOG_LABEL},{OPERATOR_LABEL}={SETTINGS.namespace}"
        while not stop.is_set():
            try:
                items, version = kube.list_with_version("ConfigMap", selector)
                self.groups = {}
                for item in items:
                    self._record("ADDED", item)
                for name in list(self.groups):
                    self._serve(name)
                self.store.mark_synced()
                for kind, obj in kube.watch_objects("ConfigMap", version, selector):
                    if stop.is_set():
                        return
                    if kind != "BOOKMARK":
                        self._serve(self._record(kind, obj))
            except kube.ApiError as err:
                if err.status != 410:
                    log.warning("following catalog ConfigMaps: %s; retrying", err)
                    stop.wait(5)
            except (OSError, ValueError) as err:
                log.warning("following catalog ConfigMaps: %s; retrying", err)
                stop.wait(5)

    def _record(self, kind: str, obj: dict[str, Any]) -> str:
        meta = obj["metadata"]
        name = str((meta.get("annotations") or {}).get(CATALOG_NAME_ANNOTATION, ""))
        group = self.groups.setdefault(name, {})
        if kind == "DELETED":
            group.pop(meta["name"], None)
        else:
            group[meta["name"]] = obj
        return name

    def _serve(self, name: str) -> None:
        if not name or name in self.publisher.published:
            return
        group = self.groups.get(name) or {}
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


@kopf.index(GROUP, VERSION, "toolcatalogs")
def toolcatalogs(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """(namespace, name) to the latest ToolCatalog body."""
    return {(body.metadata.namespace or "", body.metadata.name or ""): dict(body)}


@kopf.index("namespaces")
def namespace_labels(body: kopf.Body, labels: kopf.Labels, **_: Any) -> dict[str, dict[str, str]]:
    """Namespace name to its labels, for catalogs' namespace selectors."""
    return {body.metadata.name or "": dict(labels)}


def _mark_dirty(memo: kopf.Memo) -> None:
    dirty: asyncio.Event | None = memo.get("catalog_dirty")
    loop: asyncio.AbstractEventLoop | None = memo.get("loop")
    if dirty is not None and loop is not None:
        loop.call_soon_threadsafe(dirty.set)


@kopf.on.event(GROUP, VERSION, "toolservices")
def toolservice_for_catalog(memo: kopf.Memo, **_: Any) -> None:
    """A ToolService changed (or went): its tools' entries may have."""
    _mark_dirty(memo)


@kopf.on.event(GROUP, VERSION, "toolcatalogs")
def toolcatalog_changed(memo: kopf.Memo, **_: Any) -> None:
    """A ToolCatalog changed (or went): its selection may have."""
    _mark_dirty(memo)


@kopf.on.event("namespaces")
def namespace_changed(memo: kopf.Memo, **_: Any) -> None:
    """Namespace labels feed catalogs' namespace selectors."""
    _mark_dirty(memo)


def _namespace_labels(index: Mapping[str, Iterable[dict[str, str]]]) -> dict[str, dict[str, str]]:
    labels = {}
    for name in list(index):
        values = index_values({name: index.get(name, [])})
        labels[name] = values[0] if values else {}
    return labels


_snapshot = index_values


@kopf.on.startup()
async def start_publisher(memo: kopf.Memo, **kwargs: Any) -> None:
    """Start the task that publishes catalogs whenever something marked them dirty."""
    services, catalogs, spaces = (kwargs["toolservices"], kwargs["toolcatalogs"],
                                  kwargs["namespace_labels"])
    memo["loop"] = asyncio.get_running_loop()
    memo["catalog_dirty"] = dirty = asyncio.Event()

    # Startup handlers run in registration order; whichever comes first makes the store.
    store: Store = memo.setdefault("store", CatalogStore())
    publisher = Publisher(store)
    stop = threading.Event()
    memo["follower_stop"] = stop
    follower = threading.Thread(target=Follower(store, publisher).run, args=(stop,),
                                name="catalog-follower", daemon=True)
    follower.start()

    async def loop() -> None:
        while True:
            await dirty.wait()
            await asyncio.sleep(SETTINGS.catalog_debounce_seconds)
            dirty.clear()
            labels = _namespace_labels(spaces)
            try:
                await asyncio.to_thread(publisher.publish_all, _snapshot(services),
                                        _snapshot(catalogs), labels)
            except kube.ApiError as err:
                log.warning("publishing catalogs failed, retrying: %s", err)
                await asyncio.sleep(2)
                dirty.set()
                continue
            store.mark_synced()

    memo["publisher"] = asyncio.create_task(loop())


@kopf.on.cleanup()
async def stop_publisher(memo: kopf.Memo, **_: Any) -> None:
    """Stop the publisher task and the ConfigMap follower."""
    task = memo.get("publisher")
    if task is not None:
        task.cancel()
    stop = memo.get("follower_stop")
    if stop is not None:
        stop.set()


@kopf.on.startup()
def configure_webhook(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Serve the validating webhook when the API server has an address to reach it by."""
    if not SETTINGS.webhook_host:
        log.info("admission webhook off (TOOLFLEET_WEBHOOK_HOST unset): invalid tools are "
                 "reported in status and left out of catalogs")
        return
    directory = Path(SETTINGS.webhook_cert_dir)
    certfile, keyfile = directory / "tls.crt", directory / "tls.key"
    if not (certfile.exists() and keyfile.exists()):
        certfile, keyfile = self_signed(SETTINGS.webhook_host, directory)
    settings.admission.server = kopf.WebhookServer(
        addr=SETTINGS.webhook_listen, port=SETTINGS.webhook_port, host=SETTINGS.webhook_host,
        certfile=str(certfile), pkeyfile=str(keyfile), cafile=str(certfile))
    settings.admission.managed = "toolfleet.io"


def validate_tools(body: kopf.Body, spec: kopf.Spec, warnings: list[str],
                   **kwargs: Any) -> None:
    """Refuse a ToolService whose tools are invalid or collide in a catalog that rejects it."""
    problems = validate_toolservice_spec(dict(spec))
    errors = [p for p in problems if p.severity == Severity.error]
    if errors:
        raise kopf.AdmissionError("; ".join(str(p) for p in errors[:8]), code=422)
    warnings.extend(str(p) for p in problems if p.severity != Severity.error)
    namespace = body.metadata.namespace or ""
    labels = _namespace_labels(kwargs["namespace_labels"])
    try:
        candidate = entry_from_body(dict(body), labels.get(namespace, {}),
                                    cluster_domain=SETTINGS.cluster_domain)
    except EntryError as err:
        raise kopf.AdmissionError(str(err), code=422) from None
    others, _ = service_entries(_snapshot(kwargs["toolservices"]), labels,
                                cluster_domain=SETTINGS.cluster_domain)
    targets, _ = catalog_targets(_snapshot(kwargs["toolcatalogs"]), SETTINGS.namespace,
                                 DEFAULT_STRATEGY)
    clashes = collisions(candidate, others, targets)
    if clashes:
        raise kopf.AdmissionError("; ".join(clashes), code=409)


# kopf refuses to start with admission handlers and no server to serve them, so
# the handler exists only where the webhook does.
if SETTINGS.webhook_host:
    kopf.on.validate(GROUP, VERSION, "toolservices", id="tools")(validate_tools)
