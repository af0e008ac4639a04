"""The backends behind a revision: in-flight limits and passive outlier ejection.

A catalog endpoint is a URL (a revision's Service); an `AddressResolver` turns
it into the addresses the gateway calls. In a cluster that is one address per
ready pod, from EndpointSlices (gateway/endpoints.py), so every decision here
applies per pod, which is where ejection pays off; `ServiceUrlResolver` keeps
the URL itself (the Service then spreads connections over pods).

Ejection follows Envoy's outlier detection: after `consecutive_failures`
failures in a row (connection errors, 5xx, timeouts) an address is left out
for `base_ejection_seconds` times the number of times it was ejected (capped),
then tried again. An address is never left out when every address of the
revision is: calls then go to all of them rather than to none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from toolfleet.catalog.model import Endpoint


class AddressResolver(Protocol):
    """Turns a catalog endpoint into the base URLs to call."""

    def addresses(self, endpoint: Endpoint) -> Sequence[str]:
        """The base URLs (scheme://host:port, no path) serving `endpoint`."""
        ...


class ServiceUrlResolver:
    """One address per endpoint: its URL, load-balanced further by the Service."""

    def addresses(self, endpoint: Endpoint) -> Sequence[str]:
        """`[endpoint.url]`."""
        return [endpoint.url]


@dataclass(frozen=True)
class BackendLimits:
    """How many calls one address may have in flight, and when to eject it."""

    max_in_flight: int = 64
    consecutive_failures: int = 5
    base_ejection_seconds: float = 10.0
    max_ejection_seconds: float = 300.0


@dataclass
class BackendState:
    """What the gateway knows of one address now."""

    in_flight: int = 0
    failures_in_a_row: int = 0
    ejections: int = 0
    ejected_until: float = 0.0


class Overloaded(RuntimeError):
    """Every address of a revision has `max_in_flight` calls in flight."""

    def __init__(self, limit: int, retry_after: float) -> None:
        super().__init__(f"every backend has {limit} calls in flight")
        self.retry_after = retry_after


class BackendPool:
    """In-flight counts and ejections of every address called, shared by all calls."""

    def __init__(self, limits: BackendLimits,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._states: dict[str, BackendState] = {}

    def state(self, address: str) -> BackendState:
        """The state of one address (created empty on first use)."""
        state = self._states.get(address)
        if state is None:
            state = self._states[address] = BackendState()
        return state

    def ejected(self, address: str) -> bool:
        """Whether the address is left out now."""
        return self.state(address).ejected_until > self._clock()

    def acquire(self, addresses: Sequence[str], avoid: frozenset[str] = frozenset()) -> str:
        """Take an in-flight slot on the best address and return it.

        Best: not ejected, not in `avoid` (addresses a retry already tried),
        fewest calls in flight, first on ties. Ejected and avoided addresses
        are used only when nothing else has room. Raises Overloaded when every
        address is full; call `release` with the address when the call ends.
        """
        def rank(address: str) -> tuple[bool, bool, int]:
            state = self.state(address)
            return (address in avoid, self.ejected(address), state.in_flight)

        for address in sorted(addresses, key=rank):
            state = self.state(address)
            if state.in_flight < self.limits.max_in_flight:
                state.in_flight += 1
                return address
        raise Overloaded(self.limits.max_in_flight, retry_after=1.0)

    def release(self, address: str, success: bool | None) -> bool:
        """End a call on `address`: True (it answered), False (it failed), None (no verdict,
        e.g. the caller went away). Returns whether this ejected the address."""
        state = self.state(address)
        state.in_flight = max(0, state.in_flight - 1)
        if success is None:
            return False
        if success:
            state.failures_in_a_row = 0
            return False
        state.failures_in_a_row += 1
        if state.failures_in_a_row < self.limits.consecutive_failures:
            return False
        state.failures_in_a_row = 0
        state.ejections += 1
        seconds = min(self.limits.base_ejection_seconds * state.ejections,
                      self.limits.max_ejection_seconds)
        state.ejected_until = self._clock() + seconds
        return True
