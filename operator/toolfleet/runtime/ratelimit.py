"""The client-side rate limit of the operator's API requests: one token bucket, every thread.

The official `kubernetes` Python client sends as fast as it is called; client-go
gives every client a token bucket (flowcontrol.NewTokenBucketRateLimiter, QPS 5
and burst 10 by default, which controllers raise). `TokenBucket` is that
bucket: `qps` tokens a second flow in, at most `burst` are kept, and each
request takes one, waiting for it when there is none. Like
golang.org/x/time/rate's `Wait`, which client-go uses, a caller reserves its
token under the lock and sleeps outside it, so callers are served in the order
they came and none holds the others up while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """`qps` requests a second on average, up to `burst` at once after a quiet spell.

    Thread-safe: one bucket is shared by every thread of the process.
    Raises ValueError when `qps` is not positive or `burst` is below 1.
    """

    def __init__(self, qps: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs qps > 0 and burst >= 1 "
                             f"(got qps {qps}, burst {burst})")
        self.qps, self.burst = qps, burst
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)  # full at the start, as client-go's
        self._last = clock()

    def take(self) -> float:
        """Take one token, waiting until it is there; the seconds waited (0.0 when none)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            # Below zero is a debt that later takers queue behind.
            self._tokens -= 1.0
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
