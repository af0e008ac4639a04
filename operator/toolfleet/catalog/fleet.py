"""Every catalog of the fleet, from the observed ToolServices, ToolCatalogs and namespaces.

Pure: `reconcile.catalog` feeds it what the watches hold and plans the
publish from what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from toolfleet.api.conditions import ConditionType, Reason, condition
from toolfleet.api.toolcatalog import (
    SHORT_HASH_LENGTH,
    CollisionStrategy,
    ConflictResolution,
    ToolCatalogSpec,
    ToolCatalogStatus,
)
from toolfleet.catalog.build import build_catalog
from toolfleet.catalog.dialects.adapt import VENDOR_FORMATS
from toolfleet.catalog.dialects.publish import over_tool_limits
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.selection import (
    DEFAULT_CATALOG_NAME,
    default_catalog_spec,
    select_entries,
)
from toolfleet.catalog.source import EntryError, ServiceEntry, entry_from_body
from toolfleet.status.conditions import set_condition


@dataclass(frozen=True)
class CatalogTarget:
    """One catalog to publish: where its ConfigMaps go and under which endpoint name."""

    key: str
    namespace: str
    spec: ToolCatalogSpec
    body: Mapping[str, Any] | None = None

    @property
    def is_default(self) -> bool:
        """The built-in catalog, which no ToolCatalog declares."""
        return self.body is None

    @property
    def selection_namespace(self) -> str | None:
        """The namespace an unset namespaceSelector means (none for the built-in catalog)."""
        return None if self.is_default else self.namespace

    @property
    def formats(self) -> tuple[str, ...]:
        """The formats the catalog is published in."""
        return tuple(str(f) for f in self.spec.formats)


def endpoint_name(namespace: str, name: str) -> str:
    """The name a ToolCatalog is served under: /v1/catalogs/<namespace>.<name>.

    Namespaces are DNS labels with no dots, so the first dot splits it back, and
    a ToolCatalog named `default` does not shadow the built-in catalog.
    """
    return f"{namespace}.{name}"


def catalog_targets(toolcatalogs: Iterable[Mapping[str, Any]], operator_namespace: str,
                    default_strategy: CollisionStrategy = CollisionStrategy.prefix,
                    ) -> tuple[list[CatalogTarget], dict[str, str]]:
    """The built-in default catalog plus one per valid ToolCatalog; and errors per key.

    The built-in catalog spans every namespace, where one service deployed twice
    (dev and staging, say) is expected: it prefixes colliding names by default
    rather than refusing the second deployment.
    """
    default_spec = default_catalog_spec().model_copy(
        update={"collision_strategy": default_strategy})
    targets = [CatalogTarget(key=DEFAULT_CATALOG_NAME, namespace=operator_namespace,
                             spec=default_spec)]
    errors: dict[str, str] = {}
    for body in toolcatalogs:
        meta = body["metadata"]
        key = endpoint_name(meta["namespace"], meta["name"])
        try:
            spec = ToolCatalogSpec.model_validate(body.get("spec") or {})
        except ValidationError as err:
            errors[key] = "; ".join(f"spec.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                    for e in err.errors())
            continue
        targets.append(CatalogTarget(key=key, namespace=meta["namespace"], spec=spec, body=body))
    return targets, errors


def service_entries(toolservices: Iterable[Mapping[str, Any]],
                    namespace_labels: Mapping[str, Mapping[str, str]], *, cluster_domain: str
                    ) -> tuple[list[ServiceEntry], list[str]]:
    """Entries of every readable ToolService, and what could not be read."""
    entries, errors = [], []
    for body in toolservices:
        namespace = body["metadata"]["namespace"]
        try:
            entries.append(entry_from_body(body, namespace_labels.get(namespace, {}),
                                           cluster_domain=cluster_domain))
        except EntryError as err:
            errors.append(str(err))
    return entries, errors


def build_all(targets: Iterable[CatalogTarget],
              entries: list[ServiceEntry]) -> list[tuple[CatalogTarget, Catalog]]:
    """Each target's canonical catalog."""
    return [(target, build_catalog(target.key, entries, target.spec,
                                   target.selection_namespace))
            for target in targets]


# Exclusions from one format that the Degraded message names one by one.
MAX_FORMAT_EXCLUSIONS_NAMED = 5


def catalog_status(current: ToolCatalogStatus, generation: int, catalog: Catalog,
                   config_maps: Sequence[str], now: str,
                   formats: Iterable[str] = VENDOR_FORMATS) -> ToolCatalogStatus:
    """A ToolCatalog's status after publishing `catalog` into `config_maps` in `formats`.

    Degraded is True with reason ToolsLeftOut while a selected tool is not
    published (a rejected name conflict, an exclusion), naming each tool left
    out of one format with the format and the reason; with reason ToolsRenamed
    while the only trouble is names shared by several services and published
    prefixed (the plain name no longer calls anything). WithinToolLimits is
    False while a format lists more tools than one request of that vendor may
    carry (OpenAI: 128).
    """
    problems = len(catalog.conflicts) + len(catalog.excluded)
    left_out = bool(catalog.excluded) or any(
        c.resolution == ConflictResolution.rejected for c in catalog.conflicts)
    ready = condition(
        ConditionType.ready, True, Reason.published,
        f"{len(catalog.tools)} tool(s) published in {len(config_maps)} ConfigMap(s)",
        generation=generation, now=now)
    if problems:
        degraded = condition(
            ConditionType.degraded, True,
            Reason.tools_left_out if left_out else Reason.tools_renamed,
            _left_out_message(catalog), generation=generation, now=now)
    else:
        degraded = condition(ConditionType.degraded, False, Reason.as_expected, "",
                             generation=generation, now=now)
    over = over_tool_limits(catalog, formats)
    limits = condition(
        ConditionType.within_tool_limits, not over,
        Reason.over_tool_limit if over else Reason.as_expected, "; ".join(over),
        generation=generation, now=now)
    conditions = set_condition(set_condition(set_condition(current.conditions, ready),
                                             degraded), limits)
    return current.model_copy(update={
        "observed_generation": generation,
        "conditions": conditions,
        "tool_count": len(catalog.tools),
        "hash": catalog.hash,
        "short_hash": catalog.hash[:SHORT_HASH_LENGTH],
        "config_maps": list(config_maps),
        "conflicts": catalog.conflicts,
        "excluded": catalog.excluded,
    })


def _left_out_message(catalog: Catalog) -> str:
    everywhere = [e for e in catalog.excluded if e.format is None]
    one_format = [e for e in catalog.excluded if e.format is not None]
    rejected = [c for c in catalog.conflicts if c.resolution == ConflictResolution.rejected]
    prefixed = [c for c in catalog.conflicts if c.resolution == ConflictResolution.prefixed]
    message = (f"{len(rejected)} name conflict(s) left out, {len(prefixed)} published under "
               f"prefixed names")
    if prefixed:
        renamed = "; ".join(f"{c.tool} as {', '.join(c.published_as)}"
                            for c in prefixed[:MAX_FORMAT_EXCLUSIONS_NAMED])
        more = len(prefixed) - MAX_FORMAT_EXCLUSIONS_NAMED
        message += f" ({renamed}" + (f"; and {more} more)" if more > 0 else ")")
    message += f", {len(everywhere)} tool(s) excluded"
    if one_format:
        named = "; ".join(f"{e.service} tool {e.tool} left out of {e.format}: "
                          f"{e.reason.removeprefix(f'left out of {e.format} only: ')}"
                          for e in one_format[:MAX_FORMAT_EXCLUSIONS_NAMED])
        more = len(one_format) - MAX_FORMAT_EXCLUSIONS_NAMED
        message += f", {len(one_format)} left out of one format ({named}"
        message += f"; and {more} more)" if more > 0 else ")"
    return message + ": see status.conflicts and status.excluded"


def invalid_catalog_status(current: ToolCatalogStatus, generation: int, message: str,
                           now: str) -> ToolCatalogStatus:
    """A ToolCatalog whose spec cannot be read: Ready=False, the last publish stays."""
    conditions = set_condition(current.conditions, condition(
        ConditionType.ready, False, Reason.invalid_spec, message,
        generation=generation, now=now))
    return current.model_copy(update={"observed_generation": generation,
                                      "conditions": conditions})


def collisions(candidate: ServiceEntry, others: Iterable[ServiceEntry],
               targets: Iterable[CatalogTarget]) -> list[str]:
    """Why `candidate`'s tools would collide in a catalog that rejects collisions.

    Readiness is ignored: a service that is not ready yet must not be admitted
    with a name that will collide the moment it is.
    """
    rivals = [e for e in others if e.key != candidate.key]
    problems = []
    for target in targets:
        spec, namespace = target.spec, target.selection_namespace
        if spec.collision_strategy != CollisionStrategy.reject:
            continue
        if not select_entries([candidate], spec, namespace):
            continue
        offered: dict[str, str] = {}
        for entry in select_entries(rivals, spec, namespace):
            for tool in entry.spec.tools:
                offered.setdefault(tool.name, entry.key)
        for index, tool in enumerate(candidate.spec.tools):
            if tool.name in offered:
                problems.append(
                    f"spec.tools[{index}].name: '{tool.name}' is already offered by "
                    f"{offered[tool.name]} in catalog '{target.key}', which rejects name "
                    "collisions; rename the tool, or set collisionStrategy: prefix on the "
                    "catalog")
    return problems
