"""Which ToolServices a catalog publishes: label selectors, namespaces, exposure.

Label selectors mean exactly what they mean in Kubernetes, so that a selector
a user tries with `kubectl get toolservices -l ...` selects the same services.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from toolfleet.api.common import LabelSelector, LabelSelectorRequirement
from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.api.toolservice import Exposure
from toolfleet.catalog.source import ServiceEntry

DEFAULT_CATALOG_NAME = "default"


def requirement_matches(requirement: LabelSelectorRequirement, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy one matchExpressions entry.

    NotIn and DoesNotExist hold for objects without the key, as in Kubernetes.
    """
    present = requirement.key in labels
    if requirement.operator == "In":
        return present and labels[requirement.key] in requirement.values
    if requirement.operator == "NotIn":
        return not present or labels[requirement.key] not in requirement.values
    if requirement.operator == "Exists":
        return present
    return not present  # DoesNotExist


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Whether labels satisfy a selector: every matchLabels pair and every expression.

    An empty selector matches everything.
    """
    if any(labels.get(key) != value for key, value in selector.match_labels.items()):
        return False
    return all(requirement_matches(r, labels) for r in selector.match_expressions)


def default_catalog_spec() -> ToolCatalogSpec:
    """The spec of the built-in `default` catalog: every public tool in every namespace."""
    return ToolCatalogSpec(namespace_selector=LabelSelector())


def select_entries(
    entries: Iterable[ServiceEntry], spec: ToolCatalogSpec, catalog_namespace: str | None,
) -> list[ServiceEntry]:
    """The entries a catalog publishes, in a stable order (namespace, then name).

    An unset namespaceSelector means the catalog's own namespace only (the
    built-in catalog has none, and sets {} instead). An unset selector selects
    every ToolService. Readiness is not looked at here: the builder reports
    unready services rather than dropping them silently.
    """
    # Values arrive as strings from the API server and as members from defaults.
    exposures = {Exposure(e) for e in spec.exposures}
    selected = []
    for entry in entries:
        if spec.namespace_selector is None:
            if entry.namespace != catalog_namespace:
                continue
        elif not selector_matches(spec.namespace_selector, entry.namespace_labels):
            continue
        if spec.selector is not None and not selector_matches(spec.selector, entry.labels):
            continue
        if Exposure(entry.spec.access.exposure) not in exposures:
            continue
        selected.append(entry)
    return sorted(selected, key=lambda e: (e.namespace, e.name))
