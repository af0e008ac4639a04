"""A published catalog read back from its ConfigMaps, byte for byte, or a clear refusal.

The other side of `configmaps.build_configmaps`: what a router that mounts the
ConfigMaps, the standby operator and the gateway use to get every rendering
back, checked against the manifest (size and sha256), so a half-written or
mixed publish is never served.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from toolfleet.catalog.configmaps import (
    CATALOG_HASH_ANNOTATION,
    CATALOG_LABEL,
    CATALOG_SHARD_ANNOTATION,
    MANIFEST_KEY,
)

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def read_configmaps(configmaps: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """Every format's rendering, byte for byte, from a catalog's ConfigMaps.

    Checks that the ConfigMaps are one complete publish: every shard present
    once, the same hash on all, and each rendering's size and sha256 as the
    manifest says. Raises ValueError saying what is wrong and what to do.
    """
    by_index = _shards_by_index(list(configmaps))
    first = by_index[0]
    raw_manifest = _section(first, "data").get(MANIFEST_KEY)
    if not isinstance(raw_manifest, str):
        raise ValueError(f"{_name(first)} has no {MANIFEST_KEY} in data; it was not written "
                         "by build_configmaps, or the first shard was edited")
    manifest = json.loads(raw_manifest)
    hash_annotation = _annotations(first)[CATALOG_HASH_ANNOTATION]
    if manifest.get("hash") != hash_annotation:
        raise ValueError(f"{_name(first)}: {MANIFEST_KEY} is for hash {manifest.get('hash')} "
                         f"but the annotation says {hash_annotation}; publish the catalog again")
    renderings: dict[str, bytes] = {}
    for format, entry in manifest["formats"].items():
        payload = b"".join(_chunk(by_index, entry, chunk) for chunk in entry["chunks"])
        if entry["encoding"] == "gzip":
            try:
                payload = gzip.decompress(payload)
            except (OSError, EOFError, zlib.error) as error:
                raise ValueError(f"format {format}: the gzip data does not decompress "
                                 f"({error}); publish the catalog again") from None
        digest = hashlib.sha256(payload).hexdigest()
        if len(payload) != entry["size"] or digest != entry["sha256"]:
            raise ValueError(f"format {format}: read {len(payload)} bytes with sha256 "
                             f"{digest}, but the manifest says {entry['size']} bytes with "
                             f"sha256 {entry['sha256']}; a shard was edited or is from "
                             "another publish, so read again")
        renderings[format] = payload
    return renderings


def _name(configmap: Mapping[str, Any]) -> str:
    return str(configmap.get("metadata", {}).get("name", "<unnamed ConfigMap>"))


def _annotations(configmap: Mapping[str, Any]) -> Mapping[str, str]:
    annotations: Mapping[str, str] = configmap.get("metadata", {}).get("annotations") or {}
    return annotations


def _section(configmap: Mapping[str, Any], field: str) -> Mapping[str, str]:
    section: Mapping[str, str] = configmap.get(field) or {}
    return section


def _shards_by_index(configmaps: list[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    if not configmaps:
        raise ValueError("no ConfigMaps to read; pass every ConfigMap with the catalog's "
                         f"{CATALOG_LABEL} label")
    hashes: dict[str, str] = {}
    by_index: dict[int, Mapping[str, Any]] = {}
    totals: set[int] = set()
    for configmap in configmaps:
        annotations = _annotations(configmap)
        name = _name(configmap)
        for annotation in (CATALOG_HASH_ANNOTATION, CATALOG_SHARD_ANNOTATION):
            if annotation not in annotations:
                raise ValueError(f"{name} has no annotation {annotation}; it is not a "
                                 "catalog ConfigMap written by toolfleet")
        hashes[name] = annotations[CATALOG_HASH_ANNOTATION]
        match = _SHARD.match(annotations[CATALOG_SHARD_ANNOTATION])
        if match is None:
            raise ValueError(f"{name}: {CATALOG_SHARD_ANNOTATION} is "
                             f"{annotations[CATALOG_SHARD_ANNOTATION]!r}; expected '<i>/<n>'")
        index, total = int(match.group(1)), int(match.group(2))
        if index in by_index:
            raise ValueError(f"{_name(by_index[index])} and {name} are both shard {index}; "
                             "pass the ConfigMaps of one catalog only")
        by_index[index] = configmap
        totals.add(total)
    if len(set(hashes.values())) > 1:
        seen = ", ".join(f"{name} has {value[:12]}" for name, value in sorted(hashes.items()))
        raise ValueError(f"the ConfigMaps disagree on {CATALOG_HASH_ANNOTATION} ({seen}): "
                         "they are from different publishes; read them again once the "
                         "publish is complete")
    if len(totals) > 1:
        raise ValueError(f"the ConfigMaps disagree on the number of shards ({sorted(totals)}); "
                         "they are from different publishes; read them again")
    total = totals.pop()
    missing = sorted(set(range(total)) - set(by_index))
    extra = sorted(set(by_index) - set(range(total)))
    if missing or extra:
        raise ValueError(f"the catalog has {total} shard(s) but shard(s) "
                         f"{missing or extra} {'are missing' if missing else 'are extra'}; "
                         f"pass every ConfigMap with the catalog's {CATALOG_LABEL} label")
    return by_index


def _chunk(by_index: Mapping[int, Mapping[str, Any]], entry: Mapping[str, Any],
           chunk: Mapping[str, Any]) -> bytes:
    shard = by_index[chunk["shard"]]
    key = chunk["key"]
    if entry["encoding"] == "gzip":
        value = _section(shard, "binaryData").get(key)
        if value is None:
            raise ValueError(f"{_name(shard)} has no binaryData key {key}; read again")
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError(f"{_name(shard)}: binaryData {key} is not base64") from None
    text = _section(shard, "data").get(key)
    if text is None:
        raise ValueError(f"{_name(shard)} has no data key {key}; read again")
    return text.encode()
