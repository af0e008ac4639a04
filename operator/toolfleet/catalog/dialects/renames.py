"""Reversible renames of property keys a vendor refuses, and the way back for arguments.

A key such as `$top` or `@odata.type` is published to a vendor that refuses it
under a safe name (`_top`, `_odata.type`; a short hash keeps names unique and
within length). The mapping is published with the catalog as a list of
`KeyRenames`: at which place in the *arguments* (not in the schema) which
published keys stand for which original ones. A place is a list of steps from
the arguments' root: a property key (as published), an integer (a tuple
position, `prefixItems`), or null (any array item, or any value of an open
map). `arguments_from_renames` applies it, so the service receives the keys its
own schema names.

A rename is made only where it maps back exactly: the renamed object is reached
through properties, items, prefixItems, additionalProperties, $ref and the
combinators (anyOf, oneOf, allOf, if/then/else, not), no other branch at that
place uses a published name for something else, no `patternProperties` or
`propertyNames` sees the key, and no `$ref` points through it. Otherwise
`RenameResult.reasons` says why, and the tool is left out of that format.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolfleet.catalog.dialects.profiles import NameRule
from toolfleet.catalog.dialects.rewrites import map_subschemas
from toolfleet.jsonschema.paths import Finding, Path
from toolfleet.jsonschema.refs import resolve_local_ref
from toolfleet.jsonschema.walker import subschemas, walk

# One step of a place in the arguments: a key, a tuple position, or any item/value.
Step = str | int | None
# Hex digits of the hash that keeps a renamed key unique.
KEY_HASH_LENGTH = 8
# The longest key every vendor with a key rule accepts (Anthropic: 64).
MAX_KEY_LENGTH = 64
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
# Keywords through which a value's place in the arguments is known.
_SAME_PLACE = ("anyOf", "oneOf", "allOf", "if", "then", "else", "not")


@dataclass(frozen=True)
class KeyRenames:
    """At one place in the arguments: published key -> the service's own key."""

    at: tuple[Step, ...]
    keys: Mapping[str, str]

    def to_wire(self) -> dict[str, Any]:
        """{"at": [...], "keys": {published: original}}."""
        return {"at": list(self.at), "keys": dict(sorted(self.keys.items()))}


@dataclass
class RenameResult:
    """The schema with keys renamed, the mapping back, or why no exact one exists."""

    schema: Any
    renames: list[KeyRenames] = field(default_factory=list)
    reasons: list[Finding] = field(default_factory=list)


def safe_key(key: str, rule: NameRule, taken: set[str]) -> str:
    """A name for `key` that `rule` accepts and that is not in `taken`.

    Refused characters become _, and a name too long, or taken, ends with a
    short hash of the original key.
    """
    name = _UNSAFE_KEY_CHARS.sub("_", key) or "_"
    if len(name) <= MAX_KEY_LENGTH and name not in taken and rule.matches(name):
        return name
    digest = hashlib.sha256(key.encode()).hexdigest()[:KEY_HASH_LENGTH]
    return f"{name[:MAX_KEY_LENGTH - KEY_HASH_LENGTH - 1]}_{digest}"


def object_renames(node: Mapping[str, Any], rule: NameRule) -> dict[str, str]:
    """original -> published for the keys of `node.properties` that `rule` refuses.

    Deterministic in the set of keys, so one definition gets the same names
    wherever it is referenced.
    """
    properties = node.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    refused = sorted(k for k in properties if not rule.matches(k))
    taken = {k for k in properties if rule.matches(k)}
    renames = {}
    for key in refused:
        renames[key] = safe_key(key, rule, taken)
        taken.add(renames[key])
    return renames


def rename_keys(schema: Mapping[str, Any], rule: NameRule) -> RenameResult:
    """The schema with every refused property key renamed, and the mapping back.

    `required`, `dependentRequired` and `dependentSchemas` follow their
    object's renames. When a rename cannot be mapped back exactly, `reasons`
    says where and why (the schema is then of no use to publish).
    """
    reasons = _unmappable_reasons(schema, rule)

    def rewrite(node: Mapping[str, Any]) -> dict[str, Any] | None:
        renames = object_renames(node, rule)
        return _renamed_node(node, renames) if renames else None

    renamed, _ = map_subschemas(schema, rewrite)
    collector = _PlaceCollector(schema, rule)
    collector.visit(schema, (), ())
    reasons += collector.reasons
    return RenameResult(schema=renamed, renames=collector.result(), reasons=reasons)


def _renamed_node(node: Mapping[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    out = dict(node)
    out["properties"] = {renames.get(k, k): v for k, v in node["properties"].items()}
    if isinstance(node.get("required"), list):
        out["required"] = [renames.get(k, k) if isinstance(k, str) else k
                           for k in node["required"]]
    dependent = node.get("dependentRequired")
    if isinstance(dependent, Mapping):
        out["dependentRequired"] = {
            renames.get(k, k): [renames.get(v, v) for v in values]
            if isinstance(values, list) else values
            for k, values in dependent.items()}
    schemas = node.get("dependentSchemas")
    if isinstance(schemas, Mapping):
        out["dependentSchemas"] = {renames.get(k, k): v for k, v in schemas.items()}
    return out


def _unmappable_reasons(schema: Mapping[str, Any], rule: NameRule) -> list[Finding]:
    """Renames that another keyword would see differently: patterns, propertyNames,
    and references into a renamed property."""
    reasons = []
    refs = [node["$ref"] for _, node in walk(schema) if isinstance(node.get("$ref"), str)]
    for path, node in walk(schema):
        renames = object_renames(node, rule)
        if not renames:
            continue
        patterns = node.get("patternProperties")
        if isinstance(patterns, Mapping):
            hits = sorted(k for k in (*renames, *renames.values()) for pattern in patterns
                          if _search(pattern, k))
            if hits:
                reasons.append(Finding((*path, "patternProperties"), f"patternProperties "
                                       f"match {hits}, so renaming would change which "
                                       "schemas apply"))
        if "propertyNames" in node:
            reasons.append(Finding((*path, "propertyNames"), "propertyNames would judge the "
                                   "renamed keys, not the original ones"))
        pointer = "#/" + "/".join(_escape(str(p)) for p in path)
        for ref in refs:
            if any(ref.startswith(f"{pointer}/properties/{_escape(k)}".replace("#//", "#/"))
                   for k in renames):
                reasons.append(Finding(path, f"$ref {ref!r} points into a renamed property"))
    return reasons


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _search(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return True  # a pattern Python cannot read may match: do not rename under it


class _PlaceCollector:
    """Walks the schema as the arguments nest, collecting the renames at each place."""

    def __init__(self, root: Mapping[str, Any], rule: NameRule) -> None:
        self.root = root
        self.rule = rule
        self.places: dict[tuple[Step, ...], dict[str, str]] = {}
        self.kept: dict[tuple[Step, ...], set[str]] = {}
        self.reasons: list[Finding] = []
        self.pinned: set[tuple[Step, ...]] = set()

    def visit(self, node: Any, at: tuple[Step, ...], refs: tuple[str, ...],
              path: Path = ()) -> None:
        if not isinstance(node, Mapping):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            self.follow(ref, at, refs, path)
        renames = object_renames(node, self.rule)
        self.record(at, renames, node, path)
        for relative, child in subschemas(node):
            self.visit_child(node, relative, child, at, refs, (*path, *relative), renames)

    def follow(self, ref: str, at: tuple[Step, ...], refs: tuple[str, ...],
               path: Path) -> None:
        target = resolve_local_ref(self.root, ref)
        if ref in refs:
            if _needs_renames(target, self.rule):
                self.reasons.append(Finding((*path, "$ref"), f"renamed keys inside the "
                                            f"recursive definition {ref!r} cannot be "
                                            "mapped back by place"))
            return
        self.visit(target, at, (*refs, ref), (*path, "$ref"))

    def visit_child(self, node: Mapping[str, Any], relative: Path, child: Any,
                    at: tuple[Step, ...], refs: tuple[str, ...], path: Path,
                    renames: Mapping[str, str]) -> None:
        keyword = relative[0]
        if keyword == "properties":
            key = str(relative[1])
            self.visit(child, (*at, renames.get(key, key)), refs, path)
        elif keyword in ("items", "additionalProperties"):
            if _needs_renames(child, self.rule):
                self.pin_siblings(node, at, keyword, renames)
            self.visit(child, (*at, None), refs, path)
        elif keyword == "prefixItems":
            self.visit(child, (*at, int(relative[1])), refs, path)
        elif keyword in _SAME_PLACE:
            self.visit(child, at, refs, path)
        elif keyword not in ("$defs", "definitions") and _needs_renames(child, self.rule):
            self.reasons.append(Finding(path, f"keys renamed under '{keyword}' cannot be "
                                        "mapped back by place"))

    def pin_siblings(self, node: Mapping[str, Any], at: tuple[Step, ...], keyword: str,
                     renames: Mapping[str, str]) -> None:
        """Give the named places beside an any-item/any-value place their own (empty)
        entries, so the way back never takes a declared property for a map value."""
        if keyword == "items":
            count = len(node["prefixItems"]) if isinstance(node.get("prefixItems"), list) else 0
            self.pinned.update((*at, index) for index in range(count))
        else:
            self.pinned.update((*at, renames.get(key, key))
                               for key in node.get("properties") or {})

    def record(self, at: tuple[Step, ...], renames: Mapping[str, str],
               node: Mapping[str, Any], path: Path) -> None:
        place = self.places.setdefault(at, {})
        kept = self.kept.setdefault(at, set())
        kept.update(k for k in node.get("properties") or {} if k not in renames)
        for original, published in renames.items():
            if place.get(published, original) != original:
                self.reasons.append(Finding(path, f"{published!r} would stand for both "
                                            f"{place[published]!r} and {original!r} here"))
            place[published] = original
        clash = sorted(set(place) & kept)
        if clash:
            self.reasons.append(Finding(path, f"{clash} are keys of their own in another "
                                        "branch at this place, and renamed keys here"))

    def result(self) -> list[KeyRenames]:
        """The mapping back, places with renames (or pinned) only, in a stable order."""
        places = {at: self.places.get(at, {}) for at in (*self.places, *self.pinned)}
        kept = [KeyRenames(at=at, keys=keys) for at, keys in places.items()
                if keys or at in self.pinned]
        return sorted(kept, key=lambda r: repr(r.at))


def _needs_renames(schema: Any, rule: NameRule) -> bool:
    return any(object_renames(node, rule) for _, node in walk(schema))


def arguments_from_renames(renames: Sequence[KeyRenames | Mapping[str, Any]],
                           arguments: Any) -> Any:
    """The arguments with every published key put back to the service's own.

    `renames` as published with the catalog (`KeyRenames`, or their wire form).
    At each place, keys the mapping names are replaced; a key it does not name
    is kept. `arguments` itself is not modified.
    """
    trie = _Trie()
    for entry in renames:
        at, keys = (entry.at, entry.keys) if isinstance(entry, KeyRenames) \
            else (tuple(entry["at"]), entry["keys"])
        node = trie
        for step in at:
            node = node.children.setdefault(step, _Trie())
        node.keys.update(keys)
    return trie.apply(arguments)


@dataclass
class _Trie:
    keys: dict[str, str] = field(default_factory=dict)
    children: dict[Step, _Trie] = field(default_factory=dict)

    def child(self, step: str | int) -> _Trie | None:
        found = self.children.get(step)
        return found if found is not None else self.children.get(None)

    def apply(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {self.keys.get(k, k): self._below(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._below(i, v) for i, v in enumerate(value)]
        return value

    def _below(self, step: str | int, value: Any) -> Any:
        child = self.child(step)
        return value if child is None else child.apply(value)


def published_keys(renames: list[KeyRenames]) -> Iterator[tuple[tuple[Step, ...], str, str]]:
    """(place, published key, original key) for every rename, for reports."""
    for entry in renames:
        for published, original in sorted(entry.keys.items()):
            yield entry.at, published, original
