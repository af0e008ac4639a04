"""The catalog as ConfigMaps: what a router mounts, and how to read it back.

A catalog becomes one ConfigMap, `toolfleet-catalog-<name>`, with one key per
format (`openai.json`, ...), so a router can mount it and read a file. A
rendering over GZIP_THRESHOLD bytes is stored gzip-compressed in binaryData
(`openai.json.gz`). When everything would not fit in CONFIGMAP_BUDGET bytes
(the API server refuses objects over 1 MiB), the catalog is sharded: the first
shard keeps the name `toolfleet-catalog-<name>`, the others are
`toolfleet-catalog--<name>--<i>`, and a rendering too large for one shard is
cut into byte chunks spread over several.

Every ConfigMap carries the catalog hash, its tool count and `i/n` (which shard
of how many) as annotations, and the first one holds `manifest.json`, which
says for every format where its chunks are, its size and its sha256;
`read_configmaps` follows it and gives every rendering back byte for byte.

Catalog names are DNS subdomains (a ToolCatalog's is `<namespace>.<name>`).
No catalog name starts with `-`, so no shard name (`toolfleet-catalog--...`) is
ever another catalog's first ConfigMap: the shards of `ns.a` cannot be taken
for the ConfigMap of a catalog `ns.a.1`. A name too long for a ConfigMap is
shortened and made unique again with a hash of it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolfleet.catalog.model import Catalog
from toolfleet.catalog.render import FORMATS, render
from toolfleet.jsonschema.canonical import canonical_json

CONFIGMAP_PREFIX = "toolfleet-catalog-"
CATALOG_LABEL = "toolfleet.io/catalog"
CATALOG_NAME_ANNOTATION = "toolfleet.io/catalog-name"
CATALOG_HASH_ANNOTATION = "toolfleet.io/catalog-hash"
CATALOG_TOOLS_ANNOTATION = "toolfleet.io/catalog-tools"
CATALOG_SHARD_ANNOTATION = "toolfleet.io/catalog-shard"
MANIFEST_KEY = "manifest.json"
MANIFEST_VERSION = 1

# A rendering larger than this is stored gzip-compressed in binaryData.
GZIP_THRESHOLD = 256 * 1024
# The API server refuses a ConfigMap over 1 MiB; each of ours, serialised as JSON
# (see serialized_size), stays under this, leaving room for what the API server
# adds (managedFields, uid, resourceVersion, timestamps).
MAX_CONFIGMAP_BYTES = 1024 * 1024
CONFIGMAP_BUDGET = 900 * 1024
# Kubernetes object names are DNS subdomains of at most this many characters.
MAX_NAME_LENGTH = 253
# zlib's default: 1% larger than level 9 on catalogs, in two thirds of the time.
GZIP_LEVEL = 6
# A chunk is never cut smaller than this to fill the end of a shard.
MIN_CHUNK_BYTES = 4 * 1024

# Label values are at most this long; a longer catalog name is labelled by its hash.
MAX_LABEL_VALUE_LENGTH = 63
# The part of a ConfigMap name taken from the catalog name, at most: the longest
# shard name, toolfleet-catalog--<name>--99999, is then 253 characters.
MAX_NAME_PART_LENGTH = MAX_NAME_LENGTH - len(CONFIGMAP_PREFIX) - len("---99999")
NAME_HASH_LENGTH = 16

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class _Item:
    """One format as stored: its key and payload, gzip in binaryData or text in data."""

    format: str
    key: str
    rendering: bytes
    payload: bytes
    binary: bool


@dataclass
class _Shard:
    """A ConfigMap being filled: its chunks and the bytes left in its budget."""

    room: int
    data: dict[str, str]
    binary_data: dict[str, str]


def configmap_name(catalog_name: str, shard: int = 0) -> str:
    """The name of a catalog's ConfigMap: shard 0 is `toolfleet-catalog-<name>`,
    shard i is `toolfleet-catalog--<name>--<i>` (a name too long shortened, with a
    hash)."""
    part = _name_part(catalog_name)
    return f"{CONFIGMAP_PREFIX}{part}" if shard == 0 else f"{CONFIGMAP_PREFIX}-{part}--{shard}"


def catalog_label_value(catalog_name: str) -> str:
    """The value of the toolfleet.io/catalog label, by which a catalog's ConfigMaps
    are listed: the name, or a hash of it when it is longer than a label may be."""
    _check_catalog_name(catalog_name)
    if len(catalog_name) <= MAX_LABEL_VALUE_LENGTH:
        return catalog_name
    return hashlib.sha256(catalog_name.encode()).hexdigest()[:40]


def gzip_bytes(data: bytes) -> bytes:
    """gzip of `data` that depends on nothing else: no time, no file name, OS unknown.

    Equal renderings give equal ConfigMaps (so an apply writes nothing) and equal
    HTTP bodies on every replica.
    """
    compressed = bytearray(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))
    # Byte 9 of the header names the OS; zlib builds differ, the content does not.
    compressed[9] = 255
    return bytes(compressed)


def serialized_size(obj: Mapping[str, Any]) -> int:
    """Bytes of the object as a client sends it: json.dumps defaults (ASCII escapes,
    spaces after separators), an upper bound of every common encoding of it."""
    return len(json.dumps(obj).encode())


def build_configmaps(catalog: Catalog, formats: Sequence[str], namespace: str, *,
                     labels: Mapping[str, str],
                     owner_reference: Mapping[str, Any] | None,
                     renderings: Mapping[str, bytes] | None = None,
                     gzip_threshold: int = GZIP_THRESHOLD,
                     budget: int = CONFIGMAP_BUDGET) -> list[dict[str, Any]]:
    """The ConfigMaps publishing `catalog` in `formats`, shard 0 first.

    Each is at most `budget` bytes serialised (see serialized_size). The result
    depends only on the arguments: publishing an unchanged catalog gives equal
    objects. `labels` are added to the catalog's own label
    (`toolfleet.io/catalog: <catalog_label_value(name)>`, to list them by);
    `owner_reference`, when given, lets the garbage collector delete them with
    their ToolCatalog. `renderings` are `render(catalog, format)` when the caller
    has them already (CatalogStore keeps them), saving a second rendering.
    """
    _check_catalog_name(catalog.name)
    if not formats:
        raise ValueError("no formats to publish; pass at least one of " + ", ".join(FORMATS))
    if len(set(formats)) != len(formats):
        raise ValueError(f"formats {list(formats)} name a format twice; list each once")
    items = []
    for format in formats:
        rendering = renderings[format] if renderings and format in renderings else None
        items.append(_item(format, rendering or render(catalog, format), gzip_threshold))

    manifest_reserve = 0
    while True:
        shards, chunks = _pack(catalog, namespace, labels, owner_reference, items,
                               budget, manifest_reserve)
        manifest = _manifest(catalog, items, chunks)
        cost = _entry_cost(MANIFEST_KEY, manifest)
        if cost <= manifest_reserve:
            break
        # The manifest lists chunks, so it is known only after packing; pack again
        # with room kept for it. Its size barely moves, so this ends in a step or two.
        manifest_reserve = cost + 256
    shards[0].data = {MANIFEST_KEY: manifest, **shards[0].data}
    total = len(shards)
    return [
        _configmap(catalog, namespace, labels, owner_reference, index, total,
                   shard.data, shard.binary_data)
        for index, shard in enumerate(shards)
    ]


def stale_configmaps(existing_names: Iterable[str],
                     wanted: Sequence[Mapping[str, Any]]) -> list[str]:
    """Names of the catalog's ConfigMaps that exist but are no longer wanted, sorted.

    `wanted` is what build_configmaps returned; only names of that catalog's
    shards count, so passing every ConfigMap name of the namespace is safe: the
    ConfigMaps of other catalogs, or anything else, are never listed.
    """
    if not wanted:
        raise ValueError("wanted is empty; pass the ConfigMaps build_configmaps returned "
                         "(there is always at least one)")
    first = wanted[0]["metadata"]["name"]
    if not first.startswith(CONFIGMAP_PREFIX):
        raise ValueError(f"{first} is not the first ConfigMap of a catalog; pass what "
                         "build_configmaps returned, in its order")
    part = re.escape(first[len(CONFIGMAP_PREFIX):])
    prefix = re.escape(CONFIGMAP_PREFIX)
    family = re.compile(f"{prefix}{part}|{prefix}-{part}--[1-9][0-9]*")
    keep = {configmap["metadata"]["name"] for configmap in wanted}
    return sorted({name for name in existing_names
                   if name not in keep and family.fullmatch(name)})


def _check_catalog_name(name: str) -> None:
    if not _DNS_SUBDOMAIN.match(name):
        raise ValueError(f"catalog name {name!r} is not a DNS subdomain; use lowercase "
                         "letters, digits, '-' and '.', with a letter or digit at both ends "
                         "and around each '.'")


def _name_part(catalog_name: str) -> str:
    """The catalog name as it goes into ConfigMap names: itself, or when too long its
    start and a hash of the whole (which keeps it unique)."""
    _check_catalog_name(catalog_name)
    if len(catalog_name) <= MAX_NAME_PART_LENGTH:
        return catalog_name
    digest = hashlib.sha256(catalog_name.encode()).hexdigest()[:NAME_HASH_LENGTH]
    start = catalog_name[:MAX_NAME_PART_LENGTH - NAME_HASH_LENGTH - 1].rstrip(".-")
    return f"{start}-{digest}"


def _item(format: str, rendering: bytes, gzip_threshold: int) -> _Item:
    if len(rendering) > gzip_threshold:
        return _Item(format, f"{format}.json.gz", rendering, gzip_bytes(rendering), True)
    return _Item(format, f"{format}.json", rendering, rendering, False)


def _entry_cost(key: str, value: str) -> int:
    """Bytes a key and string value add to a serialised object, separators included."""
    return len(json.dumps(key)) + len(json.dumps(value)) + len(": ") + len(", ")


def _encoded(item: _Item, payload: bytes) -> str:
    return base64.b64encode(payload).decode() if item.binary else payload.decode()


def _largest_fit(item: _Item, start: int, room: int) -> int:
    """The end of the longest chunk of item.payload from `start` costing at most `room`
    in a shard (its key counted too); text is cut between characters."""
    payload = item.payload
    room -= _entry_cost(_chunk_key(item.key, 999), "")
    if item.binary:
        # base64: 4 characters per 3 bytes.
        return min(len(payload), start + max(0, room // 4 * 3))
    # Every character costs at least one byte, so no more than `room` of them fit.
    text = payload[start:].decode()[:max(0, room)]
    low, high = 0, len(text)
    while low < high:  # the most characters whose JSON string still fits
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle])) - 2 <= room:
            low = middle
        else:
            high = middle - 1
    return start + len(text[:low].encode())


def _chunk_key(key: str, index: int) -> str:
    return f"{key}.{index}"


def _pack(catalog: Catalog, namespace: str, labels: Mapping[str, str],
          owner_reference: Mapping[str, Any] | None, items: list[_Item], budget: int,
          manifest_reserve: int) -> tuple[list[_Shard], dict[str, list[tuple[int, str]]]]:
    """Place each item whole in the first shard with room, in order; an item larger
    than an empty shard is cut into chunks, filling shards one after another."""
    # The ConfigMap without data, with the widest shard annotation it may get.
    skeleton = _configmap(catalog, namespace, labels, owner_reference, 99999, 99999, {}, {},
                          name=configmap_name(catalog.name, 99999))
    capacity = budget - serialized_size(skeleton)
    shards = [_Shard(capacity - manifest_reserve, {}, {})]
    chunks: dict[str, list[tuple[int, str]]] = {}

    def put(index: int, item: _Item, key: str, value: str, cost: int) -> None:
        shard = shards[index]
        (shard.binary_data if item.binary else shard.data)[key] = value
        shard.room -= cost
        chunks.setdefault(item.format, []).append((index, key))

    for item in items:
        value = _encoded(item, item.payload)
        cost = _entry_cost(item.key, value)
        if cost <= capacity:
            index = next((i for i, s in enumerate(shards) if s.room >= cost), None)
            if index is None:
                shards.append(_Shard(capacity, {}, {}))
                index = len(shards) - 1
            put(index, item, item.key, value, cost)
            continue
        start = 0
        while start < len(item.payload):
            if shards[-1].room < MIN_CHUNK_BYTES:
                shards.append(_Shard(capacity, {}, {}))
            end = _largest_fit(item, start, shards[-1].room)
            if end <= start:
                if not shards[-1].data and not shards[-1].binary_data:
                    raise ValueError(f"format {item.format}: not even one character fits in "
                                     "an empty ConfigMap; shorten the labels or the owner "
                                     "reference")
                shards.append(_Shard(capacity, {}, {}))
                continue
            key = _chunk_key(item.key, len(chunks.get(item.format, [])))
            chunk_value = _encoded(item, item.payload[start:end])
            put(len(shards) - 1, item, key, chunk_value, _entry_cost(key, chunk_value))
            start = end
    return shards, chunks


def _manifest(catalog: Catalog, items: list[_Item],
              chunks: dict[str, list[tuple[int, str]]]) -> str:
    formats = {
        item.format: {
            "key": item.key,
            "encoding": "gzip" if item.binary else "identity",
            "size": len(item.rendering),
            "sha256": hashlib.sha256(item.rendering).hexdigest(),
            "chunks": [{"shard": index, "key": key} for index, key in chunks[item.format]],
        }
        for item in items
    }
    return canonical_json({"version": MANIFEST_VERSION, "catalog": catalog.name,
                           "hash": catalog.hash, "formats": formats})


def _configmap(catalog: Catalog, namespace: str, labels: Mapping[str, str],
               owner_reference: Mapping[str, Any] | None, index: int, total: int,
               data: Mapping[str, str], binary_data: Mapping[str, str],
               name: str | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": name or configmap_name(catalog.name, index),
        "namespace": namespace,
        "labels": {**labels, CATALOG_LABEL: catalog_label_value(catalog.name)},
        "annotations": {
            CATALOG_NAME_ANNOTATION: catalog.name,
            CATALOG_HASH_ANNOTATION: catalog.hash,
            CATALOG_TOOLS_ANNOTATION: str(len(catalog.tools)),
            CATALOG_SHARD_ANNOTATION: f"{index}/{total}",
        },
    }
    if owner_reference is not None:
        metadata["ownerReferences"] = [dict(owner_reference)]
    configmap: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata,
                                 "data": dict(data)}
    if binary_data:
        configmap["binaryData"] = dict(binary_data)
    elif name is not None:
        configmap["binaryData"] = {}  # the skeleton measures the empty section too
    return configmap
