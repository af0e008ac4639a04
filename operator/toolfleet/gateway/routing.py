"""Which revision of a service takes a call: the step's exact weight, or a pinned one.

During a canary a tool has two endpoints (stable, canary) with weights adding
up to 100. The choice is nginx's smooth weighted round-robin, deterministic
and exact: in every run of 100 consecutive calls to a service each revision
gets exactly its weight (at weight 20: 200 of 1,000 calls, never 199 or 201),
interleaved rather than in bursts, whatever the replica counts. The state is
kept per service (namespace/name), so calls to any of its tools share one
split; it starts over when the service's weights change.

A caller may pin a revision with the `X-Toolfleet-Revision` header, naming a
track (`stable`, `canary`), a revision hash or a version; the revision chosen
is returned in the same header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from toolfleet.catalog.model import CatalogTool, Endpoint

REVISION_HEADER = "X-Toolfleet-Revision"


class RevisionNotServed(LookupError):
    """A pinned revision that the tool's service does not serve now."""

    def __init__(self, pin: str, tool: CatalogTool) -> None:
        served = ", ".join(f"{e.track} ({revision_label(e)}, version {e.version})"
                           for e in tool.endpoints)
        super().__init__(f"{REVISION_HEADER}: {pin[:80]!r} is not served by "
                         f"{tool.namespace}/{tool.service}; it serves {served or 'nothing'}")
        self.pin = pin


def revision_label(endpoint: Endpoint) -> str:
    """How metrics, logs and the response header name an endpoint's revision.

    The revision hash when the catalog knows it, else the version.
    """
    return endpoint.revision or endpoint.version


@dataclass
class _Split:
    """One service's round-robin state: the weights it was built for, current values."""

    weights: tuple[tuple[str, int], ...]
    current: list[int] = field(default_factory=list)


class RevisionRouter:
    """Chooses an endpoint for each call, per service, by smooth weighted round-robin."""

    def __init__(self) -> None:
        self._splits: dict[str, _Split] = {}

    def choose(self, tool: CatalogTool, pin: str | None = None) -> Endpoint:
        """The endpoint (stable or canary revision) that takes this call.

        With `pin`, the endpoint whose track, revision hash or version equals it
        (RevisionNotServed when none does). Else by weight among the endpoints
        with a weight above 0, preferring ready ones: a canary at weight 20
        takes exactly 20 of every 100 calls to its service. Raises
        RevisionNotServed (pin "") when the tool has no endpoint at all.
        """
        if pin:
            for endpoint in tool.endpoints:
                if pin in (str(endpoint.track), endpoint.revision, endpoint.version):
                    return endpoint
            raise RevisionNotServed(pin, tool)
        candidates = [e for e in tool.endpoints if e.weight > 0] or list(tool.endpoints)
        if not candidates:
            raise RevisionNotServed("", tool)
        ready = [e for e in candidates if e.ready]
        candidates = ready or candidates
        if len(candidates) == 1:
            return candidates[0]
        index = self._next(f"{tool.namespace}/{tool.service}",
                           [(e.url, max(e.weight, 1)) for e in candidates])
        return candidates[index]

    def _next(self, key: str, weights: Sequence[tuple[str, int]]) -> int:
        """nginx's smooth weighted round-robin: raise every current value by its weight,
        take the largest (first on ties), lower it by the total."""
        shape = tuple(weights)
        split = self._splits.get(key)
        if split is None or split.weights != shape:
            split = _Split(shape, [0] * len(shape))
            self._splits[key] = split
        total = sum(weight for _, weight in shape)
        for i, (_, weight) in enumerate(shape):
            split.current[i] += weight
        best = max(range(len(shape)), key=lambda i: split.current[i])
        split.current[best] -= total
        return best
