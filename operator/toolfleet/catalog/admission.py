"""Whether to admit a ToolService: valid tools, and no name taken in a catalog that rejects it.

Pure: the validating webhook (`handlers.admission`) passes the object under
review and what the watches hold, and answers with the verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from toolfleet.api.toolcatalog import CollisionStrategy
from toolfleet.catalog.fleet import catalog_targets, collisions, service_entries
from toolfleet.catalog.source import EntryError, entry_from_body
from toolfleet.catalog.validate import Severity, validate_toolservice_spec

# Unprocessable: the object itself is wrong. Conflict: it clashes with others.
INVALID, CONFLICT = 422, 409
# At most this many errors in one refusal: the first ones are what to fix next.
MAX_ERRORS = 8


@dataclass(frozen=True)
class Verdict:
    """Admit or refuse (with an HTTP code and what to fix), and warnings either way."""

    allowed: bool
    message: str = ""
    code: int = 200
    warnings: tuple[str, ...] = ()


def admit_toolservice(toolservice: Mapping[str, Any], *,
                      toolservices: Iterable[Mapping[str, Any]],
                      toolcatalogs: Iterable[Mapping[str, Any]],
                      namespace_labels: Mapping[str, Mapping[str, str]],
                      operator_namespace: str, cluster_domain: str,
                      default_strategy: CollisionStrategy) -> Verdict:
    """The verdict on a ToolService about to be created or updated.

    Refused (422) when its tools are invalid, naming each problem's path;
    refused (409) when one of its tool names is already offered in a catalog
    that rejects collisions, naming the rival and the fix. Warnings are the
    problems short of errors.
    """
    problems = validate_toolservice_spec(dict(toolservice.get("spec") or {}))
    errors = [str(p) for p in problems if p.severity == Severity.error]
    warnings = tuple(str(p) for p in problems if p.severity != Severity.error)
    if errors:
        return Verdict(False, "; ".join(errors[:MAX_ERRORS]), INVALID, warnings)
    namespace = str((toolservice.get("metadata") or {}).get("namespace") or "")
    try:
        candidate = entry_from_body(toolservice, namespace_labels.get(namespace, {}),
                                    cluster_domain=cluster_domain)
    except EntryError as err:
        return Verdict(False, str(err), INVALID, warnings)
    # Only a service offering one of these names can collide with it: reading the rest
    # into entries would make every decision cost as much as the fleet is large.
    names = {tool.name for tool in candidate.spec.tools}
    rivals = [body for body in toolservices if _offers_any(body, names)]
    others, _ = service_entries(rivals, namespace_labels, cluster_domain=cluster_domain)
    targets, _ = catalog_targets(toolcatalogs, operator_namespace, default_strategy)
    clashes = collisions(candidate, others, targets)
    if clashes:
        return Verdict(False, "; ".join(clashes), CONFLICT, warnings)
    return Verdict(True, warnings=warnings)


def _offers_any(toolservice: Mapping[str, Any], names: set[str]) -> bool:
    """Whether the (unvalidated) ToolService body declares a tool named in `names`."""
    tools = (toolservice.get("spec") or {}).get("tools")
    return isinstance(tools, list) and any(
        isinstance(tool, Mapping) and tool.get("name") in names for tool in tools)
