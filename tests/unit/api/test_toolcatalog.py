"""The ToolCatalog API model and its generated CRD (operator/toolfleet/api/toolcatalog.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from toolfleet.api.crd import build_crd
from toolfleet.api.registry import ALL, TOOLCATALOG
from toolfleet.api.render import crd_files
from toolfleet.api.toolcatalog import ToolCatalogSpec, ToolCatalogStatus

ROOT = Path(__file__).resolve().parents[3]


def test_defaults_publish_public_tools_in_every_format_and_reject_collisions() -> None:
    spec = ToolCatalogSpec()
    assert spec.to_wire() == {
        "exposures": ["public"],
        "collisionStrategy": "reject",
        "formats": ["canonical", "openai", "anthropic", "gemini", "mcp"],
        "includeUnready": False,
    }
    assert spec.selector is None and spec.namespace_selector is None


def test_an_empty_namespace_selector_is_kept_apart_from_an_unset_one() -> None:
    spec = ToolCatalogSpec.model_validate({"namespaceSelector": {}})
    assert spec.namespace_selector is not None


@pytest.mark.parametrize("wire", [
    {"exposures": []},
    {"exposures": ["public", "external"]},
    {"formats": ["yaml"]},
    {"collisionStrategy": "merge"},
    {"selctor": {}},
])
def test_invalid_specs_are_refused(wire: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ToolCatalogSpec.model_validate(wire)


def test_status_round_trips_conflicts_and_exclusions() -> None:
    wire = {
        "observedGeneration": 3, "toolCount": 2, "hash": "ab" * 32, "shortHash": "abababababab",
        "configMaps": ["toolcatalog-ml"],
        "conflicts": [{"tool": "search", "services": ["a/x", "b/y"], "resolution": "prefixed",
                       "publishedAs": ["x_search", "y_search"]}],
        "excluded": [{"tool": "t", "service": "a/z", "reason": "not Ready"}],
        "conditions": [],
    }
    assert ToolCatalogStatus.model_validate(wire).to_wire() == wire


def test_the_crd_is_registered_with_its_names_and_columns() -> None:
    assert TOOLCATALOG in ALL
    crd = build_crd(TOOLCATALOG)
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"], names["categories"]) == \
        ("ToolCatalog", "toolcatalogs", ["tc"], ["ai"])
    version = crd["spec"]["versions"][0]
    columns = [(c["name"], c["jsonPath"]) for c in version["additionalPrinterColumns"]]
    assert columns == [("Tools", ".status.toolCount"), ("Hash", ".status.shortHash"),
                       ("Age", ".metadata.creationTimestamp")]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["exposures"]["x-kubernetes-list-type"] == "set"
    assert spec["properties"]["formats"]["default"] == [
        "canonical", "openai", "anthropic", "gemini", "mcp"]


def test_every_spec_and_status_field_is_described() -> None:
    version = build_crd(TOOLCATALOG)["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]["properties"]

    def undescribed(node: dict[str, Any], path: str) -> list[str]:
        missing = []
        for name, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{path}.{name}")
            missing += undescribed(sub, f"{path}.{name}")
            if "items" in sub:
                missing += undescribed(sub["items"], f"{path}.{name}[]")
        return missing

    assert undescribed(root["spec"], "spec") == []
    assert undescribed(root["status"], "status") == []


def test_the_committed_crd_files_match_the_model() -> None:
    for relative, text in crd_files().items():
        if "toolcatalogs" in relative:
            assert (ROOT / relative).read_text() == text, (
                f"{relative} is stale; run hack/gen-crds.py")
