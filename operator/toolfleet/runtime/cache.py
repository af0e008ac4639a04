"""Reads of ToolServices and their children from the watches, as controller-runtime's client
reads from its informers: a reconcile sends writes only, never a GET.

The operator already watches what it owns (kopf indices, `handlers.indices`), and kopf
fills an index before it runs the handlers of the same event, so a reconcile queued by
an event reads at least what that event said. What the watch has not delivered yet of
the operator's own writes is taken from their answers (`wrote`), so a reconcile right
after a write reads what it wrote, as client-go's mutation cache does; an answer is
dropped once the watch has caught up with it, or after `memory` seconds (30), when the
watch is the truth again (another writer may have deleted the object since).

A stale read costs a write at most, never a wrong state: server-side apply of what is
wanted is idempotent, and every change of a child queues its owner's reconcile again.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

# Every so many writes, `wrote` drops the answers past their memory.
_SWEEP_EVERY = 1024
# kind, namespace, name
ObjectKey = tuple[str, str, str]
# What a watch holds of one object (a dict, or `pack`ed), or None when it holds none.
Lookup = Callable[[ObjectKey], Mapping[str, Any] | str | None]


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object without metadata.managedFields, which nothing reads and which is often
    most of a child's size."""
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k != "managedFields"}
    return {**body, "metadata": meta}


def pack(body: Mapping[str, Any]) -> str:
    """What a watch keeps of an object it holds for reads: `slim` as compact JSON, a
    fifth of the memory of the same object as dicts (a fleet of thousands keeps
    several objects per ToolService), parsed again in microseconds per read."""
    return json.dumps(slim(body), separators=(",", ":"))


def unpack(kept: Mapping[str, Any] | str) -> dict[str, Any]:
    """An object as `pack` kept it (or as dicts), as dicts of its own: a reader may change
    it without changing what the watch holds."""
    if isinstance(kept, str):
        loaded: dict[str, Any] = json.loads(kept)
        return loaded
    return copy.deepcopy(dict(kept))


def _version(obj: Mapping[str, Any] | None) -> int:
    # resourceVersions are etcd revisions: client-go's mutation cache compares them as
    # numbers too. One that is not a number (another storage) never wins.
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or -1)
    except ValueError:
        return -1


class ObjectCache:
    """ToolServices and their children in the watched namespaces, as the watches hold them.

    `lookup` reads the watches; `kinds` are the kinds it holds; `watched(namespace)`
    says whether the operator watches a namespace (the watches hold nothing of the
    others). `service_label` marks a child of a ToolService: only those are watched.
    """

    def __init__(self, lookup: Lookup, kinds: Collection[str],
                 watched: Callable[[str], bool], service_label: str,
                 owner_kind: str = "ToolService", memory: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup, self._kinds, self._watched = lookup, frozenset(kinds), watched
        self._service_label, self._owner_kind = service_label, owner_kind
        self._memory, self._clock = memory, clock
        # Answers to our writes the watch may not have delivered yet, and the objects we
        # deleted (with the version the watch held then), each with when, until the watch
        # catches up.
        self._written: dict[ObjectKey, tuple[str, float]] = {}
        self._deleted: dict[ObjectKey, tuple[int, float]] = {}
        self._writes = 0
        self._lock = threading.Lock()

    def covers(self, kind: str, namespace: str | None,
               labels: Mapping[str, str] | None = None) -> bool:
        """Whether the watches hold the object, so that it needs no GET.

        `labels`, when known, must mark a ToolService's child (ToolServices are all held);
        unknown labels are taken for a child's, which is what a reconcile reads.
        """
        if kind not in self._kinds or not namespace or not self._watched(namespace):
            return False
        return kind == self._owner_kind or labels is None or self._service_label in labels

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object as last seen (by a watch, or in the answer to our own write), or None
        when it does not exist; a copy of its own."""
        key = (kind, namespace, name)
        kept = self._lookup(key)
        seen = None if kept is None else unpack(kept)
        recent = self._clock() - self._memory
        with self._lock:
            if key in self._deleted:
                version, at = self._deleted[key]
                if seen is not None and _version(seen) <= version and at > recent:
                    return None  # the watch has not delivered the deletion yet
                del self._deleted[key]  # gone, made again since, or long ago
            if key in self._written:
                kept_written, at = self._written[key]
                written = unpack(kept_written)
                if _version(written) > _version(seen) and at > recent:
                    return written
                del self._written[key]  # the watch caught up, or is the truth again
        return seen

    def wrote(self, answer: Mapping[str, Any]) -> None:
        """Record the API server's answer to a write of ours (the object as it is now)."""
        meta = answer.get("metadata") or {}
        kind, namespace = answer.get("kind"), meta.get("namespace")
        if not isinstance(kind, str) or not self.covers(kind, namespace, meta.get("labels")):
            return
        key = (kind, str(namespace), str(meta.get("name")))
        now = self._clock()
        with self._lock:
            self._deleted.pop(key, None)
            self._written[key] = (pack(answer), now)
            self._writes += 1
            if self._writes % _SWEEP_EVERY == 0:
                # Answers nobody read again before the watch caught up: drop the old ones.
                self._written = {k: v for k, v in self._written.items()
                                 if v[1] > now - self._memory}

    def deleted(self, kind: str, namespace: str, name: str) -> None:
        """Record that we deleted the object: it reads as gone before the watch says so."""
        if not self.covers(kind, namespace):
            return
        key = (kind, namespace, name)
        kept = self._lookup(key)
        seen = None if kept is None else unpack(kept)
        with self._lock:
            self._written.pop(key, None)
            self._deleted[key] = (_version(seen), self._clock())
