"""Native thread pools (OpenMP, BLAS): one thread per tool call.

A service computes several calls at once, each on a worker thread of its own
(TOOLFLEET_WORKER_THREADS), and scales out by replicas. If each call also fans
out over every core through OpenMP or BLAS, the threads oversubscribe the CPU
and OpenMP's spinning threads wait on each other: k-means on 1,000 rows took
about 100 ms on one thread and 250 to 1,000 ms with OpenMP's default on two
busy cores.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any


class NativeThreads:
    """Keeps numpy's and scikit-learn's native thread pools to one thread per call.

    Build it after the service's modules are imported: it acts on the native
    libraries loaded at that moment.
    """

    def __init__(self) -> None:
        self._controller: Any = None
        try:
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]
        except ModuleNotFoundError:
            return  # no numpy or scikit-learn: no native pools to limit
        self._controller = ThreadpoolController()
        # BLAS pools are process-wide: set to one thread once, for good.
        self._controller.limit(limits=1, user_api="blas")

    def one_thread(self) -> AbstractContextManager[object]:
        """A context in which OpenMP regions started by this thread use one thread.

        OpenMP's thread count is per calling thread, so concurrent calls on
        other worker threads are unaffected by entering or leaving it.
        """
        if self._controller is None:
            return nullcontext()
        limiter: AbstractContextManager[object] = self._controller.limit(
            limits=1, user_api="openmp"
        )
        return limiter
