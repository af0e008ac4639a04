"""Canonical JSON: one text per JSON value, whatever the order of its object
keys, and the hashes taken over it.

Everything the operator identifies by content hashes this text: the catalog
(its ETag and status hash), a ToolService's revision, the applied-object hash
that recognises an unchanged apply. The form is `json.dumps` with sorted keys
and no spaces. It is close to, but not, the JSON Canonicalization Scheme (RFC
8785): keys sort by code point rather than UTF-16 unit and numbers print as
Python prints them. Changing the form would change every stored hash, so it
stays as it is.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any, *, ensure_ascii: bool = False) -> str:
    """JSON with sorted keys and no spaces: one text per value, whatever the key order.

    `ensure_ascii` writes non-ASCII characters as `\\uXXXX` escapes, as
    `json.dumps` does by default; revisions and applied hashes were first taken
    that way, and keep it so that their stored values stay valid.

    The API server hands custom resources back with object keys sorted anyway
    (it stores them as Go maps), so sorting loses no author intent.

    Raises TypeError for a value JSON cannot hold and ValueError for NaN or an
    infinity, which no JSON document (and so no Kubernetes object) contains.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii,
                      allow_nan=False)


def canonical_hash(value: Any, *, length: int | None = None, ensure_ascii: bool = False) -> str:
    """The sha256 of `canonical_json(value)` (UTF-8), as lowercase hex.

    `length` keeps that many leading hex digits (all 64 when None).
    `ensure_ascii` is passed to `canonical_json`. Raises as `canonical_json` does.
    """
    text = canonical_json(value, ensure_ascii=ensure_ascii)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
