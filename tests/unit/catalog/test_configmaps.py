"""Catalog ConfigMaps: gzip, shards, reading back (operator/toolfleet/catalog/configmaps.py)."""

from __future__ import annotations

import base64
import copy
import functools
import gzip
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolfleet.catalog import configmaps as publish
from toolfleet.catalog.configmap_reader import read_configmaps
from toolfleet.catalog.configmaps import (
    CATALOG_HASH_ANNOTATION,
    CATALOG_LABEL,
    CATALOG_NAME_ANNOTATION,
    CATALOG_SHARD_ANNOTATION,
    CATALOG_TOOLS_ANNOTATION,
    MANIFEST_KEY,
    MAX_CONFIGMAP_BYTES,
    build_configmaps,
    catalog_label_value,
    configmap_name,
    serialized_size,
    stale_configmaps,
)
from toolfleet.catalog.model import Catalog
from toolfleet.catalog.render import FORMATS, render

from .fixtures import catalog_of, corpus
from .realistic import realistic_catalog

OWNER = {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolCatalog", "name": "c",
         "uid": "0d9b4f8e-5c1a-4b7e-9a51-3f4f1d2f6a10", "controller": True,
         "blockOwnerDeletion": True}
LABELS = {"app.kubernetes.io/managed-by": "toolfleet", "app.kubernetes.io/part-of": "toolfleet"}
# What Kubernetes accepts as an object name.
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def configmaps(catalog: Catalog, **kwargs: Any) -> list[dict[str, Any]]:
    return build_configmaps(catalog, FORMATS, "toolfleet-system", labels=LABELS,
                            owner_reference=OWNER, **kwargs)


def api_data_bytes(configmap: dict[str, Any]) -> int:
    """What the API server counts against a ConfigMap's 1 MiB: keys and decoded values."""
    data = sum(len(k) + len(v.encode()) for k, v in configmap.get("data", {}).items())
    binary = sum(len(k) + len(base64.b64decode(v))
                 for k, v in configmap.get("binaryData", {}).items())
    return data + binary


@functools.cache
def large() -> tuple[Catalog, dict[str, bytes], list[dict[str, Any]]]:
    """2,000 realistic tools, their renderings and their ConfigMaps, built once."""
    catalog = realistic_catalog(2000)
    renderings = {format: render(catalog, format) for format in FORMATS}
    return catalog, renderings, configmaps(catalog, renderings=renderings)


def test_a_small_catalog_is_one_configmap_with_a_file_per_format() -> None:
    catalog = catalog_of(list(corpus().values()))
    [configmap] = configmaps(catalog)
    assert configmap["metadata"]["name"] == "toolfleet-catalog-test"
    assert configmap["metadata"]["namespace"] == "toolfleet-system"
    assert configmap["metadata"]["labels"] == {**LABELS, CATALOG_LABEL: "test"}
    assert configmap["metadata"]["ownerReferences"] == [OWNER]
    assert configmap["metadata"]["annotations"] == {
        CATALOG_NAME_ANNOTATION: "test",
        CATALOG_HASH_ANNOTATION: catalog.hash,
        CATALOG_TOOLS_ANNOTATION: str(len(catalog.tools)),
        CATALOG_SHARD_ANNOTATION: "0/1",
    }
    # A router mounting the ConfigMap reads each format as a plain file.
    assert "binaryData" not in configmap
    for format in FORMATS:
        assert configmap["data"][f"{format}.json"].encode() == render(catalog, format)
    assert read_configmaps([configmap]) == {f: render(catalog, f) for f in FORMATS}


def test_only_the_formats_asked_for_are_published() -> None:
    catalog = catalog_of(list(corpus().values()))
    [configmap] = build_configmaps(catalog, ["openai", "mcp"], "ns", labels={},
                                   owner_reference=None)
    assert sorted(configmap["data"]) == [MANIFEST_KEY, "mcp.json", "openai.json"]
    assert "ownerReferences" not in configmap["metadata"]
    assert read_configmaps([configmap]) == {f: render(catalog, f) for f in ("openai", "mcp")}


def test_2000_realistic_tools_fit_under_the_limit_and_read_back_byte_identical() -> None:
    catalog, renderings, published = large()
    assert len(published) > 1, "2,000 tools should not fit in one ConfigMap"
    for configmap in published:
        assert serialized_size(configmap) <= publish.CONFIGMAP_BUDGET < MAX_CONFIGMAP_BYTES
        assert api_data_bytes(configmap) < MAX_CONFIGMAP_BYTES
        name = configmap["metadata"]["name"]
        assert len(name) <= publish.MAX_NAME_LENGTH and DNS_SUBDOMAIN.match(name), name
        assert configmap["metadata"]["annotations"][CATALOG_HASH_ANNOTATION] == catalog.hash
        assert configmap["metadata"]["annotations"][CATALOG_TOOLS_ANNOTATION] == "2000"
    assert [cm["metadata"]["name"] for cm in published] == [
        "toolfleet-catalog-default", *(f"toolfleet-catalog--default--{i}"
                                       for i in range(1, len(published)))]
    assert [cm["metadata"]["annotations"][CATALOG_SHARD_ANNOTATION] for cm in published] == [
        f"{i}/{len(published)}" for i in range(len(published))]
    assert read_configmaps(published) == renderings
    # The order the API server lists them in does not matter.
    assert read_configmaps(reversed(published)) == renderings


def test_large_renderings_are_gzip_in_binary_data_and_the_manifest_says_where() -> None:
    _, renderings, published = large()
    manifest = json.loads(published[0]["data"][MANIFEST_KEY])
    assert sorted(manifest["formats"]) == sorted(FORMATS)
    for format, entry in manifest["formats"].items():
        assert len(renderings[format]) > publish.GZIP_THRESHOLD
        assert (entry["key"], entry["encoding"], entry["size"]) == (
            f"{format}.json.gz", "gzip", len(renderings[format]))
        chunks = b"".join(base64.b64decode(published[c["shard"]]["binaryData"][c["key"]])
                          for c in entry["chunks"])
        assert gzip.decompress(chunks) == renderings[format]


def test_publishing_is_deterministic() -> None:
    catalog = realistic_catalog(150, seed=3)
    first = configmaps(catalog, gzip_threshold=64 * 1024, budget=200 * 1024)
    second = configmaps(realistic_catalog(150, seed=3), gzip_threshold=64 * 1024,
                        budget=200 * 1024)
    assert len(first) > 1
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    # Renderings handed in (as the store has them) give the very same objects.
    renderings = {format: render(catalog, format) for format in FORMATS}
    assert configmaps(catalog, renderings=renderings, gzip_threshold=64 * 1024,
                      budget=200 * 1024) == first


def test_gzip_output_has_no_timestamp_or_os_marker() -> None:
    compressed = publish.gzip_bytes(b"{}" * 1000)
    assert compressed[4:8] == b"\0\0\0\0"  # mtime
    assert compressed[9] == 255  # OS: unknown
    assert gzip.decompress(compressed) == b"{}" * 1000


@pytest.mark.parametrize(("offset", "gzipped"), [(0, False), (-1, True)])
def test_a_rendering_is_gzipped_only_when_larger_than_the_threshold(offset: int,
                                                                    gzipped: bool) -> None:
    catalog = catalog_of(list(corpus().values()))
    size = len(render(catalog, "openai"))
    [configmap] = build_configmaps(catalog, ["openai"], "ns", labels={}, owner_reference=None,
                                   gzip_threshold=size + offset)
    assert ("openai.json.gz" in configmap.get("binaryData", {})) is gzipped
    assert ("openai.json" in configmap["data"]) is not gzipped
    assert read_configmaps([configmap]) == {"openai": render(catalog, "openai")}


def test_the_catalog_is_sharded_exactly_when_one_configmap_would_pass_the_budget() -> None:
    catalog = catalog_of(list(corpus().values()))
    [whole] = configmaps(catalog)

    def shards(budget: int) -> int:
        return len(configmaps(catalog, budget=budget))

    # The smallest budget that still takes one ConfigMap, found by bisection.
    low, high = serialized_size(whole) // 2, serialized_size(whole) * 2
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if shards(middle) == 1 else (middle + 1, high)
    assert serialized_size(configmaps(catalog, budget=low)[0]) <= low
    smaller = configmaps(catalog, budget=low - 1)
    assert len(smaller) == 2
    assert all(serialized_size(cm) <= low - 1 for cm in smaller)
    assert read_configmaps(smaller) == read_configmaps([whole])


def test_a_rendering_larger_than_a_configmap_is_cut_between_characters() -> None:
    catalog = realistic_catalog(40, seed=7)  # descriptions hold 2-, 3- and 4-byte characters
    published = configmaps(catalog, gzip_threshold=10**9, budget=48 * 1024)
    manifest = json.loads(published[0]["data"][MANIFEST_KEY])
    assert max(len(entry["chunks"]) for entry in manifest["formats"].values()) > 2
    for configmap in published:
        assert serialized_size(configmap) <= 48 * 1024
        for value in configmap["data"].values():
            value.encode()  # each chunk is valid text on its own
    assert read_configmaps(published) == {f: render(catalog, f) for f in FORMATS}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tools=st.integers(0, 60), seed=st.integers(0, 3),
       threshold=st.sampled_from([1024, 16 * 1024, 10**9]),
       budget=st.integers(12 * 1024, 400 * 1024))
def test_any_catalog_round_trips_under_any_budget(tools: int, seed: int, threshold: int,
                                                  budget: int) -> None:
    catalog = realistic_catalog(tools, name="team-tools", seed=seed)
    published = configmaps(catalog, gzip_threshold=threshold, budget=budget)
    for configmap in published:
        assert serialized_size(configmap) <= budget
    assert read_configmaps(published) == {f: render(catalog, f) for f in FORMATS}


def test_reading_refuses_configmaps_of_two_publishes() -> None:
    _, _, published = large()
    older = copy.deepcopy(published[1])
    older["metadata"]["annotations"][CATALOG_HASH_ANNOTATION] = "0" * 64
    with pytest.raises(ValueError, match=r"disagree on toolfleet\.io/catalog-hash .*different "
                                         r"publishes; read them again"):
        read_configmaps([published[0], older, *published[2:]])


def test_reading_names_a_missing_shard() -> None:
    _, _, published = large()
    with pytest.raises(ValueError, match=r"shard\(s\) \[2\] are missing; pass every ConfigMap "
                                         r"with the catalog's toolfleet\.io/catalog label"):
        read_configmaps(published[:2] + published[3:])


def test_reading_detects_an_edited_rendering() -> None:
    catalog = catalog_of(list(corpus().values()))
    [configmap] = configmaps(catalog)
    edited = copy.deepcopy(configmap)
    edited["data"]["openai.json"] = edited["data"]["openai.json"].replace("a", "b", 1)
    with pytest.raises(ValueError, match=r"format openai: read .* but the manifest says"):
        read_configmaps([edited])


@pytest.mark.parametrize(("configmaps_read", "message"), [
    ([], "no ConfigMaps to read"),
    ([{"metadata": {"name": "x", "annotations": {}}}], "x has no annotation "
     "toolfleet.io/catalog-hash; it is not a catalog ConfigMap"),
    ([{"metadata": {"name": "x", "annotations": {CATALOG_HASH_ANNOTATION: "h",
                                                  CATALOG_SHARD_ANNOTATION: "first"}}}],
     "expected '<i>/<n>'"),
])
def test_reading_something_else_says_what_it_is_not(configmaps_read: list[dict[str, Any]],
                                                     message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_configmaps(configmaps_read)


def test_stale_shards_are_listed_for_deletion_and_nothing_else() -> None:
    catalog = catalog_of(list(corpus().values()))
    wanted = configmaps(catalog)
    existing = ["toolfleet-catalog-test", "toolfleet-catalog--test--1",
                "toolfleet-catalog--test--2",
                # other catalogs', and unrelated ConfigMaps: never ours to delete
                "toolfleet-catalog-test.1", "toolfleet-catalog--test.a--1",
                "toolfleet-catalog-tests", "kube-root-ca.crt", "toolfleet-catalog--test--01"]
    assert stale_configmaps(existing, wanted) == ["toolfleet-catalog--test--1",
                                                  "toolfleet-catalog--test--2"]
    assert stale_configmaps(["toolfleet-catalog-test"], wanted) == []


def test_a_catalog_grown_to_shards_leaves_nothing_stale() -> None:
    _, _, published = large()
    names = [cm["metadata"]["name"] for cm in published]
    assert stale_configmaps(names, published) == []


CATALOG_NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,8}"
                              r"[a-z0-9])?){0,2}", fullmatch=True)


@given(first=CATALOG_NAMES, second=CATALOG_NAMES,
       shards=st.tuples(st.integers(0, 12), st.integers(0, 12)))
def test_no_two_catalogs_ever_share_a_configmap_name(first: str, second: str,
                                                     shards: tuple[int, int]) -> None:
    if (first, shards[0]) != (second, shards[1]):
        assert configmap_name(first, shards[0]) != configmap_name(second, shards[1])


def test_a_toolcatalog_key_and_a_very_long_name_give_valid_names_and_labels() -> None:
    longest = "n" * 63 + "." + ".".join(["x" * 62] * 4)  # namespace.name at their limits
    for name in ("team-a.tools", longest, longest[:-1] + "y"):
        catalog = realistic_catalog(30, name=name)
        published = configmaps(catalog, gzip_threshold=8 * 1024, budget=40 * 1024)
        assert len(published) > 1
        for configmap in published:
            metadata = configmap["metadata"]
            assert len(metadata["name"]) <= publish.MAX_NAME_LENGTH
            assert DNS_SUBDOMAIN.match(metadata["name"]), metadata["name"]
            assert len(metadata["labels"][CATALOG_LABEL]) <= 63
            assert metadata["labels"][CATALOG_LABEL] == catalog_label_value(name)
            assert metadata["annotations"][CATALOG_NAME_ANNOTATION] == name
        assert read_configmaps(published) == {f: render(catalog, f) for f in FORMATS}
        assert stale_configmaps([cm["metadata"]["name"] for cm in published],
                                published[:1]) == sorted(
            cm["metadata"]["name"] for cm in published[1:])
    assert configmap_name(longest) != configmap_name(longest[:-1] + "y")
    assert catalog_label_value("team-a.tools") == "team-a.tools"


@pytest.mark.parametrize("name", ["Default", "a..b", "-x", "x-", "a_b", ""])
def test_a_catalog_name_that_is_not_a_dns_subdomain_is_refused_with_the_rule(
        name: str) -> None:
    catalog = Catalog(name=name, hash="0" * 64, tools=[])
    with pytest.raises(ValueError, match="is not a DNS subdomain; use lowercase letters"):
        configmaps(catalog)


def test_formats_must_be_given_once_each() -> None:
    catalog = catalog_of(list(corpus().values()))
    with pytest.raises(ValueError, match="no formats to publish"):
        build_configmaps(catalog, [], "ns", labels={}, owner_reference=None)
    with pytest.raises(ValueError, match="name a format twice"):
        build_configmaps(catalog, ["mcp", "mcp"], "ns", labels={}, owner_reference=None)
