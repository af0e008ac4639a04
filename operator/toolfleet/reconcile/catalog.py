"""The pure publish of every catalog: from what was observed to what to serve and write.

A publish has two halves around rendering, its one expensive step (seconds for
thousands of tools), which the store that serves a catalog does once:

1. `plan(world, now)`: the catalogs to publish (new, or changed since this
   replica last published them), those to stop serving because their
   ToolCatalog is gone (with their ConfigMaps), the ToolCatalog statuses to
   write without a publish (an invalid spec, a generation the status has not
   seen yet), and the ToolServices left out of every catalog.
2. `write(publication, renderings, existing, now)`: for one catalog, once it is
   served, the ConfigMaps to apply in the order to apply them, the stale ones to
   delete, and its ToolCatalog's status and events.

Nothing here calls the API server or reads the clock: equal inputs give equal
outputs. `runtime.publisher` gathers the inputs and applies the outputs; a
catalog unchanged since this replica published it gives no write at all.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from toolfleet.api.common import GROUP, VERSION, rfc3339
from toolfleet.api.toolcatalog import KIND, CollisionStrategy, ToolCatalogStatus
from toolfleet.catalog.configmaps import (
    CATALOG_LABEL,
    build_configmaps,
    catalog_label_value,
    stale_configmaps,
)
from toolfleet.catalog.fleet import (
    build_all,
    catalog_status,
    catalog_targets,
    endpoint_name,
    invalid_catalog_status,
    service_entries,
)
from toolfleet.catalog.model import Catalog, gateway_urls
from toolfleet.catalog.selection import DEFAULT_CATALOG_NAME
from toolfleet.catalog.source import ServiceKey, settled_toolservices
from toolfleet.resources.meta import MANAGED_BY
from toolfleet.settings import Settings
from toolfleet.status.events import Event, condition_events

# Which operator installation (by its namespace) published a ConfigMap: each
# installation follows only its own.
OPERATOR_LABEL = "toolfleet.io/operator"
# The formats a catalog is served in; its ConfigMaps always hold canonical too,
# from which every replica can render the rest.
FORMATS_ANNOTATION = "toolfleet.io/catalog-formats"


def published_selector(operator_namespace: str) -> str:
    """The label selector of every catalog ConfigMap an operator installation published."""
    return f"{CATALOG_LABEL},{OPERATOR_LABEL}={operator_namespace}"


def catalog_selector(key: str) -> str:
    """The label selector of one catalog's ConfigMaps."""
    return f"{CATALOG_LABEL}={catalog_label_value(key)}"


@dataclass(frozen=True)
class Fleet:
    """The objects catalogs are built from, as the watches hold them."""

    toolservices: Sequence[Mapping[str, Any]] = ()
    toolcatalogs: Sequence[Mapping[str, Any]] = ()
    namespace_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Published:
    """A catalog as this replica last published it: served, and written to ConfigMaps."""

    catalog: Catalog
    formats: tuple[str, ...]
    namespace: str
    config_maps: tuple[str, ...]
    owner_uid: str | None = None
    """The uid of its ToolCatalog (None for the built-in catalog): a ToolCatalog deleted
    and created again under the same name takes its ConfigMaps with it."""


@dataclass(frozen=True)
class World:
    """Everything one publish observed; `runtime.publisher` gathers it."""

    settings: Settings
    fleet: Fleet = field(default_factory=Fleet)
    settled: Mapping[ServiceKey, Mapping[str, Any]] = field(default_factory=dict)
    """The ToolServices as the previous plan settled them (`Plan.settled`)."""
    published: Mapping[str, Published] = field(default_factory=dict)
    """What this replica has published, by catalog name."""


@dataclass(frozen=True)
class Publication:
    """A catalog to serve, then to write into ConfigMaps, then to report in status."""

    catalog: Catalog
    formats: tuple[str, ...]
    namespace: str
    labels: Mapping[str, str]
    toolcatalog: Mapping[str, Any] | None = None
    """The ToolCatalog declaring it; None for the built-in catalog."""
    written: tuple[str, ...] | None = None
    """The ConfigMaps this replica wrote for it last; None when it has not, and the
    shell lists which exist."""

    @property
    def key(self) -> str:
        """The catalog's name: on the endpoint, in the store, in its ConfigMaps' labels."""
        return self.catalog.name


@dataclass(frozen=True)
class Removal:
    """A catalog whose ToolCatalog is gone: stop serving it and delete its ConfigMaps."""

    key: str
    namespace: str
    config_maps: tuple[str, ...]


@dataclass(frozen=True)
class StatusUpdate:
    """A ToolCatalog's new status, and the events announcing what changed in it."""

    toolcatalog: Mapping[str, Any]
    status: ToolCatalogStatus
    events: tuple[Event, ...] = ()

    @property
    def namespace(self) -> str:
        """metadata.namespace of the ToolCatalog."""
        return str(self.toolcatalog["metadata"]["namespace"])

    @property
    def name(self) -> str:
        """metadata.name of the ToolCatalog."""
        return str(self.toolcatalog["metadata"]["name"])


@dataclass(frozen=True)
class Plan:
    """What one publish serves, removes and reports; `settled` is kept for the next one."""

    settled: dict[ServiceKey, Mapping[str, Any]] = field(default_factory=dict)
    publications: list[Publication] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    """Why each unreadable ToolService is in no catalog."""


@dataclass(frozen=True)
class Write:
    """How to write one served catalog, and what this replica has published once it is written."""

    config_maps: list[dict[str, Any]]
    """To apply in this order: the first ConfigMap, whose manifest names the others, last."""
    stale: list[str]
    """Names of the catalog's ConfigMaps to delete (shards it no longer has)."""
    status: StatusUpdate | None
    published: Published


def plan(world: World, now: datetime) -> Plan:
    """Which catalogs to publish, remove and report on, from what was observed `now`."""
    settings, fleet, at = world.settings, world.fleet, rfc3339(now)
    targets, spec_errors = catalog_targets(
        fleet.toolcatalogs, settings.namespace,
        CollisionStrategy(settings.default_collision_strategy))
    settled = settled_toolservices(fleet.toolservices, world.settled)
    entries, left_out = service_entries(settled.values(), fleet.namespace_labels,
                                        cluster_domain=settings.cluster_domain)
    labels = {"app.kubernetes.io/managed-by": MANAGED_BY,
              "app.kubernetes.io/component": "catalog",
              OPERATOR_LABEL: settings.namespace}
    publications: list[Publication] = []
    statuses: list[StatusUpdate | None] = []
    for target, catalog in build_all(targets, entries):
        if settings.gateway_url:
            catalog = catalog.model_copy(
                update={"gateway": gateway_urls(settings.gateway_url, target.key)})
        previous = world.published.get(target.key)
        if previous is not None and previous == _published(
                catalog, target.formats, target.namespace, previous.config_maps, target.body):
            # Served and written as it is; its status may still lag (a new generation
            # that changed nothing in the catalog, or a status write that failed).
            if target.body is not None:
                current = _current_status(target.body)
                statuses.append(_status_update(target.body, current, catalog_status(
                    current, _generation(target.body), catalog, previous.config_maps, at,
                    target.formats)))
            continue
        publications.append(Publication(
            catalog=catalog, formats=target.formats, namespace=target.namespace, labels=labels,
            toolcatalog=target.body,
            written=None if previous is None else previous.config_maps))
    for body in fleet.toolcatalogs:
        message = spec_errors.get(_key(body))
        if message is not None:
            # Served as last published, if it was: the status says the last publish stays.
            current = _current_status(body)
            statuses.append(_status_update(body, current, invalid_catalog_status(
                current, _generation(body), message, at)))
    declared = {DEFAULT_CATALOG_NAME} | {_key(body) for body in fleet.toolcatalogs}
    removals = [Removal(key, published.namespace, published.config_maps)
                for key, published in sorted(world.published.items()) if key not in declared]
    return Plan(settled=settled, publications=publications, removals=removals,
                statuses=[s for s in statuses if s is not None], left_out=left_out)


def write(publication: Publication, renderings: Mapping[str, bytes],
          existing: Collection[str], now: datetime) -> Write:
    """The ConfigMaps, deletions and status that publish one catalog now.

    `renderings` are the catalog's bodies by format as the store rendered them
    (any missing is rendered here); `existing` names the catalog's ConfigMaps
    that exist, so that shards it no longer needs are deleted.
    """
    body = publication.toolcatalog
    owner = None
    if body is not None:
        meta = body["metadata"]
        owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": meta["name"],
                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}
    formats = sorted({*publication.formats, "canonical"})
    wanted = build_configmaps(publication.catalog, formats, publication.namespace,
                              labels=publication.labels, owner_reference=owner,
                              renderings={f: r for f, r in renderings.items() if f in formats})
    for config_map in wanted:
        config_map["metadata"]["annotations"][FORMATS_ANNOTATION] = ",".join(
            publication.formats)
    names = tuple(config_map["metadata"]["name"] for config_map in wanted)
    status = None
    if body is not None:
        current = _current_status(body)
        status = _status_update(body, current, catalog_status(
            current, _generation(body), publication.catalog, names, rfc3339(now),
            publication.formats))
    return Write(
        # A reader never finds a manifest naming shards that are not there yet.
        config_maps=list(reversed(wanted)),
        stale=stale_configmaps(existing, wanted),
        status=status,
        published=_published(publication.catalog, publication.formats,
                              publication.namespace, names, body))


def _key(toolcatalog: Mapping[str, Any]) -> str:
    meta = toolcatalog["metadata"]
    return endpoint_name(meta["namespace"], meta["name"])


def _published(catalog: Catalog, formats: tuple[str, ...], namespace: str,
               config_maps: tuple[str, ...], toolcatalog: Mapping[str, Any] | None) -> Published:
    uid = None if toolcatalog is None else toolcatalog["metadata"].get("uid")
    return Published(catalog=catalog, formats=formats, namespace=namespace,
                     config_maps=config_maps, owner_uid=uid)


def _current_status(toolcatalog: Mapping[str, Any]) -> ToolCatalogStatus:
    try:
        return ToolCatalogStatus.model_validate(toolcatalog.get("status") or {})
    except ValidationError:
        return ToolCatalogStatus()  # unreadable: written anew


def _generation(toolcatalog: Mapping[str, Any]) -> int:
    return int(toolcatalog["metadata"].get("generation") or 0)


def _status_update(toolcatalog: Mapping[str, Any], current: ToolCatalogStatus,
                   new: ToolCatalogStatus) -> StatusUpdate | None:
    """The update from `current` to `new`, or None when they are equal as stored."""
    if new.to_wire() == current.to_wire():
        return None
    return StatusUpdate(toolcatalog, new, tuple(condition_events(current.conditions,
                                                                  new.conditions)))
