"""Where a canary's pods find room: surge beside the stable ones, or swap GPUs from them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import CapacityMode
from toolfleet.rollout.capacity import CapacityPlan, Pods, Room, floor_of, plan_capacity

A100 = ("NVIDIA-A100-SXM4-80GB",)


def a100(slots: int = 4, free: int = 4) -> Room:
    """One A100 node: `slots` GPUs this service may use, `free` of them not held by others."""
    return Room(slots=slots, free=free, nodes=1, resource="nvidia.com/gpu", per_replica=1,
                products=A100)


def full_fleet(stable: int = 4) -> Pods:
    return Pods(stable_replicas=stable, stable_ready=stable)


def test_a_full_a100_node_swaps_in_auto_mode_and_says_so_with_numbers() -> None:
    plan = plan_capacity(CapacityMode.auto, 20, min_replicas=4, max_unavailable=1,
                         pods=full_fleet(), room=a100())
    assert (plan.mode, plan.stable_replicas, plan.canary_replicas) == (CapacityMode.swap, 3, 1)
    assert plan.blocked is None
    assert plan.message.startswith(
        "each canary pod needs 1 x nvidia.com/gpu (NVIDIA-A100-SXM4-80GB); 0 free on 1 "
        "matching node(s); swapping (auto: no room to surge): stable 3, canary 1")
    assert plan.effective_weight == 25
    assert plan.status().full_replicas == 4


def test_auto_surges_while_the_canary_fits_beside_the_stable() -> None:
    plan = plan_capacity(CapacityMode.auto, 20, min_replicas=4, max_unavailable=1,
                         pods=full_fleet(), room=a100(slots=5, free=5))
    assert (plan.mode, plan.stable_replicas, plan.canary_replicas) == (CapacityMode.surge,
                                                                       None, 1)
    assert "surging (auto: room to surge): stable 4, canary 1" in plan.message


def test_surge_without_room_is_blocked_and_says_how_to_proceed() -> None:
    plan = plan_capacity(CapacityMode.surge, 20, min_replicas=4, max_unavailable=1,
                         pods=full_fleet(), room=a100())
    assert plan.blocked is not None and plan.canary_replicas == 0
    assert "no room to surge 1 canary pod(s) beside stable 4" in plan.blocked
    assert "Free 1 nvidia.com/gpu on a matching node" in plan.blocked
    assert "rollout.capacity to swap or auto" in plan.blocked


def test_a_swap_that_would_break_the_promise_is_blocked() -> None:
    plan = plan_capacity(CapacityMode.swap, 20, min_replicas=4, max_unavailable=0,
                         pods=full_fleet(), room=a100())
    assert plan.blocked is not None
    assert "may not go below 4 ready" in plan.blocked
    assert (plan.stable_replicas, plan.canary_replicas) == (4, 0)


def test_services_without_gpus_always_surge() -> None:
    plan = plan_capacity(CapacityMode.swap, 50, min_replicas=4, max_unavailable=1,
                         pods=full_fleet(), room=None)
    assert (plan.mode, plan.stable_replicas, plan.canary_replicas) == (CapacityMode.surge,
                                                                       None, 2)
    assert plan.message == ""


def test_a_swap_moves_on_only_as_the_canary_becomes_ready() -> None:
    # Step 2 (50%) asks for stable 2, canary 2; with the one canary pod not ready
    # yet, the stable keeps 3 so that 3 (minReplicas 4 - maxUnavailable 1) stay ready.
    waiting = Pods(stable_replicas=3, stable_ready=3, canary_replicas=1, canary_ready=0)
    plan = plan_capacity(CapacityMode.swap, 50, min_replicas=4, max_unavailable=1,
                         pods=waiting, room=a100(), full_replicas=4)
    assert (plan.stable_replicas, plan.canary_replicas, plan.canary_goal) == (3, 1, 2)
    ready = Pods(stable_replicas=3, stable_ready=3, canary_replicas=1, canary_ready=1)
    plan = plan_capacity(CapacityMode.swap, 50, min_replicas=4, max_unavailable=1,
                         pods=ready, room=a100(), full_replicas=4)
    assert (plan.stable_replicas, plan.canary_replicas) == (2, 2)


def test_rollback_gives_the_gpus_back_to_stable_before_the_canary_goes() -> None:
    swapped = Pods(stable_replicas=2, stable_ready=2, canary_replicas=2, canary_ready=2)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=swapped, room=a100(), full_replicas=4)
    assert (plan.stable_replicas, plan.canary_replicas) == (3, 1)
    assert plan.message == "giving GPUs back to stable: stable 3 of 4, canary 1 (at least 3 ready)"
    back = Pods(stable_replicas=3, stable_ready=3, canary_replicas=1, canary_ready=1)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=back, room=a100(), full_replicas=4)
    assert (plan.stable_replicas, plan.canary_replicas) == (4, 0)
    done = Pods(stable_replicas=4, stable_ready=4)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=done, room=a100(), full_replicas=4)
    assert (plan.swapping, plan.canary_replicas, plan.message) == (False, 0, "")


def test_the_give_back_ends_only_once_the_stables_last_pods_are_ready() -> None:
    # Ending at the count alone would put the autoscaler back, and the service
    # below minReplicas (not Ready), while those pods start.
    starting = Pods(stable_replicas=4, stable_ready=3)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=starting, room=a100(), full_replicas=4)
    assert (plan.swapping, plan.stable_replicas, plan.canary_replicas) == (True, 4, 0)
    assert plan.message == ("giving GPUs back to stable: stable 4 of 4 (3 ready), canary 0 "
                            "(at least 3 ready)")
    # Pods that fail would never be ready: the give-back ends at the count (Degraded says why).
    failing = Pods(stable_replicas=4, stable_ready=3, stable_failing=True)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=failing, room=a100(), full_replicas=4)
    assert (plan.swapping, plan.message) == (False, "")
    # More slots than the full count: the canary still goes only as the stable is ready.
    spare = Pods(stable_replicas=4, stable_ready=2, canary_replicas=2, canary_ready=2)
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=spare, room=a100(slots=6, free=6), full_replicas=4)
    assert (plan.swapping, plan.stable_replicas, plan.canary_replicas) == (True, 4, 1)
    # Never swapped (no recorded count): nothing to give back, however many are ready.
    plan = plan_capacity(CapacityMode.swap, 0, min_replicas=4, max_unavailable=1,
                         pods=starting, room=a100())
    assert (plan.swapping, plan.message) == (False, "")


def test_weights_outside_0_to_100_are_refused() -> None:
    with pytest.raises(ValueError, match="weight must be a percentage"):
        plan_capacity(CapacityMode.auto, 101, min_replicas=1, max_unavailable=1,
                      pods=full_fleet(1), room=None)


# -- a cluster in miniature, walked at random ----------------------------------------


@dataclass
class Fleet:
    """Two Deployments on GPUs: their replicas, and their pods that run (and are ready).

    A Deployment scaled down loses its pods from its Service at once (ready
    ones last), but they hold their GPUs until the next call (terminating);
    one scaled up gets pods only into slots nobody holds, the rest wait
    Pending; a running pod becomes ready when the walk says so.
    """

    slots: int
    stable: int
    canary: int = 0
    stable_running: int = 0
    canary_running: int = 0
    stable_ready: int = 0
    canary_ready: int = 0
    terminating: int = 0

    def pods(self) -> Pods:
        return Pods(self.stable, self.stable_ready, self.canary, self.canary_ready,
                    held=self.stable_running + self.canary_running + self.terminating)

    def apply(self, plan: CapacityPlan) -> None:
        if plan.stable_replicas is not None:
            self.stable = plan.stable_replicas
        self.canary = plan.canary_replicas
        self.terminating += max(0, self.stable_running - self.stable) + max(
            0, self.canary_running - self.canary)
        self.stable_running = min(self.stable_running, self.stable)
        self.canary_running = min(self.canary_running, self.canary)
        self.stable_ready = min(self.stable_ready, self.stable_running)
        self.canary_ready = min(self.canary_ready, self.canary_running)

    def schedule(self, ready: bool) -> None:
        """Pods go where slots are free, the stable's first, then the terminating ones are
        gone; `ready`: all running pods are."""
        free = self.slots - self.stable_running - self.canary_running - self.terminating
        grow = min(free, self.stable - self.stable_running)
        self.stable_running += max(0, grow)
        free -= max(0, grow)
        self.canary_running += max(0, min(free, self.canary - self.canary_running))
        self.terminating = 0
        if ready:
            self.stable_ready, self.canary_ready = self.stable_running, self.canary_running

    @property
    def pending(self) -> int:
        return self.stable + self.canary - self.stable_running - self.canary_running

    @property
    def ready(self) -> int:
        return self.stable_ready + self.canary_ready


INVENTORIES = st.tuples(
    st.integers(1, 8),   # minReplicas, also the stable's count
    st.integers(0, 3),   # maxUnavailable
    st.integers(0, 3),   # slots beyond the stable's (others hold the rest of the node)
)
WEIGHTS = st.lists(st.integers(1, 100), min_size=1, max_size=4).map(sorted)


def walk(min_replicas: int, max_unavailable: int, extra: int, weights: list[int],
         readiness: list[bool], mode: CapacityMode) -> tuple[Fleet, list[tuple[int, int]]]:
    """Roll out through `weights`, then back to weight 0 (a promotion or a rollback).

    Each weight is held until the plan stops changing; `readiness` says, call
    by call, whether the pods that run are ready by the next call (then True).
    Returns the fleet at the end and (ready before, ready after) of every move.
    """
    fleet = Fleet(slots=min_replicas + extra, stable=min_replicas,
                  stable_running=min_replicas, stable_ready=min_replicas)
    moves: list[tuple[int, int]] = []
    flags = iter(readiness)
    full: int | None = None
    for weight in [*weights, 0]:
        for _ in range(4 * (min_replicas + 4)):
            plan = plan_capacity(mode, weight, min_replicas=min_replicas,
                                 max_unavailable=max_unavailable, pods=fleet.pods(),
                                 room=a100(slots=fleet.slots, free=fleet.slots),
                                 full_replicas=full)
            # As status.rollout.capacity records it: while a swap runs.
            full = plan.full_replicas if plan.mode == CapacityMode.swap else None
            before = fleet.ready
            fleet.apply(plan)
            moves.append((before, fleet.ready))
            if plan.mode == CapacityMode.swap:
                assert fleet.stable + fleet.canary <= fleet.slots, plan
            fleet.schedule(next(flags, True))
            if plan.mode == CapacityMode.swap:
                assert fleet.pending == 0, plan
    return fleet, moves


@settings(max_examples=200, deadline=None)
@given(INVENTORIES, WEIGHTS, st.lists(st.booleans(), max_size=40),
       st.sampled_from([CapacityMode.swap, CapacityMode.auto]))
def test_any_swap_keeps_the_promise_leaves_no_pod_pending_and_gives_everything_back(
        inventory: tuple[int, int, int], weights: list[int], readiness: list[bool],
        mode: CapacityMode) -> None:
    min_replicas, max_unavailable, extra = inventory
    fleet, moves = walk(min_replicas, max_unavailable, extra, weights, readiness, mode)
    floor = floor_of(min_replicas, max_unavailable)
    for before, after in moves:
        # A move never takes ready pods below the floor (nor lower, if below already).
        assert after >= min(before, floor)
    # Promotion or rollback: the stable is full again, the canary gone.
    assert (fleet.stable, fleet.canary) == (min_replicas, 0)
    assert fleet.stable_ready == min_replicas


@settings(max_examples=100, deadline=None)
@given(INVENTORIES, WEIGHTS)
def test_a_swap_reaches_the_canarys_share_at_every_weight_it_can(
        inventory: tuple[int, int, int], weights: list[int]) -> None:
    min_replicas, max_unavailable, extra = inventory
    fleet = Fleet(slots=min_replicas + extra, stable=min_replicas,
                  stable_running=min_replicas, stable_ready=min_replicas)
    for weight in weights:
        plan = None
        for _ in range(4 * (min_replicas + 4)):
            plan = plan_capacity(CapacityMode.swap, weight, min_replicas=min_replicas,
                                 max_unavailable=max_unavailable, pods=fleet.pods(),
                                 room=a100(slots=fleet.slots, free=fleet.slots),
                                 full_replicas=min_replicas)
            fleet.apply(plan)
            fleet.schedule(True)
        assert plan is not None
        if plan.blocked is None:
            # Done at this weight, or held by the floor: no pod can move without
            # taking ready pods below it.
            floor = floor_of(min_replicas, max_unavailable)
            assert fleet.canary == plan.canary_goal or (
                fleet.stable + fleet.canary_ready - 1 < floor
                and fleet.stable + fleet.canary >= fleet.slots)
        else:
            assert fleet.canary == 0
