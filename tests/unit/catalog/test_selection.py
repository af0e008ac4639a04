"""Choosing a catalog's services (operator/toolfleet/catalog/selection.py)."""

from __future__ import annotations

import pytest

from toolfleet.api.common import LabelSelector
from toolfleet.api.toolcatalog import ToolCatalogSpec
from toolfleet.catalog.selection import default_catalog_spec, select_entries, selector_matches

from .fixtures import entry


def selector(**wire: object) -> LabelSelector:
    return LabelSelector.model_validate(wire)


LABELS = {"team": "ml", "tier": "gold"}


@pytest.mark.parametrize(("wire", "matches"), [
    ({}, True),
    ({"matchLabels": {"team": "ml"}}, True),
    ({"matchLabels": {"team": "ml", "tier": "gold"}}, True),
    ({"matchLabels": {"team": "web"}}, False),
    ({"matchLabels": {"absent": ""}}, False),
    ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["ml", "web"]}]}, True),
    ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["web"]}]}, False),
    ({"matchExpressions": [{"key": "absent", "operator": "In", "values": ["x"]}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["ml"]}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["web"]}]}, True),
    # NotIn holds for objects that lack the key, as in Kubernetes.
    ({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["x"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "absent", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "absent", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
    # matchLabels and every expression must all hold.
    ({"matchLabels": {"team": "ml"},
      "matchExpressions": [{"key": "tier", "operator": "In", "values": ["silver"]}]}, False),
    ({"matchExpressions": [{"key": "team", "operator": "Exists"},
                           {"key": "tier", "operator": "NotIn", "values": ["bronze"]}]}, True),
])
def test_label_selectors_mean_what_they_mean_in_kubernetes(wire: dict[str, object],
                                                           matches: bool) -> None:
    assert selector_matches(selector(**wire), LABELS) is matches


ENTRIES = [
    entry("search", "ml", labels={"team": "ml"}, namespace_labels={"env": "prod"}),
    entry("ranker", "ml", labels={"team": "ml"}, exposure="internal",
          namespace_labels={"env": "prod"}),
    entry("vault", "ml", labels={"team": "ml"}, exposure="private",
          namespace_labels={"env": "prod"}),
    entry("ocr", "docs", labels={"team": "docs"}, namespace_labels={"env": "prod"}),
    entry("draft", "sandbox", labels={"team": "ml"}, namespace_labels={"env": "dev"}),
]


def keys(spec: ToolCatalogSpec, namespace: str | None = "ml") -> list[str]:
    return [e.key for e in select_entries(ENTRIES, spec, namespace)]


def test_an_unset_namespace_selector_means_the_catalogs_own_namespace() -> None:
    assert keys(ToolCatalogSpec()) == ["ml/search"]
    assert keys(ToolCatalogSpec(), "docs") == ["docs/ocr"]


def test_an_empty_namespace_selector_means_every_namespace() -> None:
    spec = ToolCatalogSpec(namespace_selector=LabelSelector())
    assert keys(spec) == ["docs/ocr", "ml/search", "sandbox/draft"]


def test_namespaces_are_selected_by_their_labels() -> None:
    spec = ToolCatalogSpec(namespace_selector=selector(matchLabels={"env": "dev"}))
    assert keys(spec) == ["sandbox/draft"]


def test_services_are_selected_by_their_labels() -> None:
    spec = ToolCatalogSpec(namespace_selector=LabelSelector(),
                           selector=selector(matchLabels={"team": "ml"}))
    assert keys(spec) == ["ml/search", "sandbox/draft"]


def test_exposures_are_selected_explicitly() -> None:
    spec = ToolCatalogSpec.model_validate({"exposures": ["internal", "private"]})
    assert keys(spec) == ["ml/ranker", "ml/vault"]
    everything = ToolCatalogSpec.model_validate({"exposures": ["public", "internal", "private"]})
    assert keys(everything) == ["ml/ranker", "ml/search", "ml/vault"]


def test_the_default_catalog_is_every_public_service_everywhere() -> None:
    assert keys(default_catalog_spec(), None) == ["docs/ocr", "ml/search", "sandbox/draft"]


def test_the_order_of_entries_does_not_matter() -> None:
    spec = default_catalog_spec()
    assert select_entries(list(reversed(ENTRIES)), spec, None) == \
        select_entries(ENTRIES, spec, None)
