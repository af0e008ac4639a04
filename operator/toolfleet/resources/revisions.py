"""The ConfigMap that keeps the spec of each revision still running.

While a canary runs, the stable Deployment keeps the previous spec, and the
schema check compares the new tools with the stable ones: neither is in the
ToolService any more, so the operator keeps them here, owned by the ToolService.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.meta import Owner, child_metadata


def revisions_name(owner_name: str) -> str:
    """`<name>-revisions`."""
    return f"{owner_name}-revisions"


def build_revisions(owner: Owner, specs: Mapping[str, ToolServiceSpec]) -> dict[str, Any]:
    """A ConfigMap with one gzip'd JSON spec per revision (deterministic bytes)."""
    data = {}
    for revision, spec in sorted(specs.items()):
        raw = spec.model_dump_json(by_alias=True, exclude_none=True).encode()
        data[f"{revision}.json.gz"] = base64.b64encode(gzip.compress(raw, mtime=0)).decode()
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": child_metadata(owner, revisions_name(owner.name), "revisions"),
        "binaryData": data,
    }


def read_revisions(config_map: Mapping[str, Any] | None) -> dict[str, ToolServiceSpec]:
    """The specs stored in the ConfigMap; unreadable entries are skipped."""
    specs: dict[str, ToolServiceSpec] = {}
    for key, value in ((config_map or {}).get("binaryData") or {}).items():
        if not key.endswith(".json.gz"):
            continue
        # A truncated or corrupted gzip stream raises EOFError or zlib.error.
        try:
            specs[key.removesuffix(".json.gz")] = ToolServiceSpec.model_validate_json(
                gzip.decompress(base64.b64decode(value)))
        except (ValueError, OSError, EOFError, zlib.error, ValidationError):
            continue
    return specs
