"""The traffic split by replica ratio: how many pods the canary and the stable revision run.

Behind the one Service, traffic divides roughly by ready pods, so a canary's
weight becomes a share of the replicas. With `trafficRouting: gatewayAPI` the
HTTPRoute's backend weights split exactly, but the canary still needs pods,
sized the same way.
"""

from __future__ import annotations

import math

# Replica-ratio routing cannot give a canary a pod out of a single replica
# without taking the stable revision's only one (see replica_split).
MIN_CANARY_TOTAL = 2


def replica_split(total: int, weight: int) -> tuple[int, int]:
    """Split `total` replicas into (stable, canary) for a canary `weight` in percent.

    The canary gets ceil(total * weight / 100): rounding up so that a small
    weight still runs a pod. Two floors apply when they can: the canary keeps at
    least 1 replica while weight > 0, and the stable keeps at least 1 while
    weight < 100. The two always sum to `total`, so with total 1 and a weight
    strictly between 0 and 100 both floors cannot hold; the stable keeps the
    pod (it serves production) and the canary gets none. Replica-ratio routing
    therefore needs at least 2 replicas to run a canary.

    Raises ValueError when `total` is negative or `weight` is not within 0..100.
    """
    if total < 0:
        raise ValueError(f"total replicas must be >= 0 (got {total})")
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be a percentage from 0 to 100 (got {weight})")
    if weight == 0:
        return total, 0
    if weight == 100:
        return 0, total
    if total < 2:
        return total, 0
    canary = min(max(math.ceil(total * weight / 100), 1), total - 1)
    return total - canary, canary


def canary_replicas(min_replicas: int, stable_replicas: int, weight: int) -> int:
    """The replicas of the canary Deployment for a canary `weight` in percent.

    `min_replicas` is spec.autoscaling.minReplicas; `stable_replicas` is the
    stable Deployment's spec.replicas (the autoscaler's current choice, 0 when
    the Deployment does not exist yet). The canary takes its share, by
    `replica_split`, of the larger of the two, and of at least 2 in all: out
    of a single replica the split leaves the canary none, and a canary with a
    weight above 0 must always have a pod to receive its traffic and be analysed.
    The stable Deployment keeps its own replicas; the canary runs beside them.

    0 when `weight` is 0. Raises ValueError as `replica_split` does.
    """
    total = max(MIN_CANARY_TOTAL, min_replicas, stable_replicas)
    _, canary = replica_split(total, weight)
    return canary
