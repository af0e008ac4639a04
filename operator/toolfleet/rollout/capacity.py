"""Where a canary's pods find room: beside the stable ones (surge), or in their place (swap).

`plan_capacity` is pure: from the rollout's weight, the replicas and ready
pods of both Deployments, and what the GPU inventory says (`Room`), it gives
each Deployment its replicas now (`CapacityPlan`). The shell applies the plan
every reconcile; everything it needs is observed again each time, and the one
number it must remember (the stable count to give back, `full_replicas`) lives
in status.rollout.capacity, so a restart anywhere loses nothing.

- **surge** runs the canary's pods beside all the stable ones. A GPU service
  whose canary pods do not fit beside them is `blocked`: the rollout pauses
  with reason InsufficientGPU instead of leaving pods Pending, and goes on when
  they fit.
- **swap** moves replicas from stable to canary as the weight rises: the
  canary's goal is its share of `full_replicas` (`traffic.replica_split`), the
  stable keeps the rest. A side that shrinks gives up pods only while the other
  side's *ready* pods keep both at `minReplicas - maxUnavailable` (the floor);
  a side that grows takes only the slots left free, so no pod waits for a GPU
  that is still held.
- **auto** surges while the canary fits beside the stable pods, else swaps.
- With no canary wanted (weight 0: promoted, rolled back, aborted) while a
  swap left the stable short, the same rule gives the GPUs back: the canary's
  pods go only as the stable's become ready, until the stable is full again
  with all its pods ready, or failing (`Pods.stable_failing`).

Services without GPUs always surge: nothing in the inventory limits them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from toolfleet.api.toolservice import CapacityMode, CapacityStatus
from toolfleet.rollout.traffic import canary_replicas, replica_split


@dataclass(frozen=True)
class Room:
    """What the GPU inventory says about room for this service's pods (`placement.inventory`)."""

    slots: int
    """Pods of this service that fit on the matching nodes, its own pods' GPUs counted as
    free (`Fit.schedulable_replicas`)."""
    free: int
    """Units of `resource` free on the matching nodes, its own pods' counted as free
    (`Fit.free_on_matching`)."""
    nodes: int
    """Matching nodes."""
    resource: str
    """The extended resource, e.g. nvidia.com/gpu or nvidia.com/mig-1g.10gb."""
    per_replica: int
    """Units of `resource` per pod."""
    products: tuple[str, ...] = ()
    """spec.gpu.products (empty: any)."""


@dataclass(frozen=True)
class Pods:
    """The two Deployments as observed: spec.replicas and ready pods of each."""

    stable_replicas: int
    stable_ready: int
    canary_replicas: int = 0
    canary_ready: int = 0
    held: int | None = None
    """Pods of this service, of both tracks, that hold the GPUs of a slot now, terminating
    ones included; None: as many as the replicas say."""
    stable_failing: bool = False
    """The stable's pods fail as things stand (`status.pods.failure_state`: a crash loop, an
    image that cannot be pulled, ReplicaFailure, ProgressDeadlineExceeded; not the
    scheduler holding a pod back, which a GPU freeing mends): waiting for them to become
    ready would never end."""


@dataclass(frozen=True)
class CapacityPlan:
    """The replicas each Deployment gets now, and what status says of it."""

    mode: CapacityMode
    """surge or swap (never auto: auto picks one)."""
    stable_replicas: int | None
    """Set the stable Deployment to this many; None: leave it to its autoscaler."""
    canary_replicas: int
    """The canary Deployment's replicas now (0: none)."""
    canary_goal: int
    """The canary's replicas once done at this weight; its pods count as all ready only
    when this many are."""
    full_replicas: int
    """The stable count to give back when the rollout ends."""
    blocked: str | None = None
    """Why the canary cannot get the pods its weight needs, and how to proceed: the rollout
    pauses with reason InsufficientGPU. None: it can."""
    message: str = ""

    @property
    def swapping(self) -> bool:
        """Whether the operator sets the stable Deployment's replicas (its autoscaler is off)."""
        return self.stable_replicas is not None

    @property
    def effective_weight(self) -> int:
        """Percent of the pods behind the service's Service that are the canary's."""
        stable = self.full_replicas if self.stable_replicas is None else self.stable_replicas
        total = stable + self.canary_replicas
        return 0 if total == 0 else round(100 * self.canary_replicas / total)

    def status(self) -> CapacityStatus:
        """status.rollout.capacity."""
        stable = self.full_replicas if self.stable_replicas is None else self.stable_replicas
        return CapacityStatus(mode=self.mode, stable_replicas=stable,
                              canary_replicas=self.canary_replicas,
                              full_replicas=self.full_replicas,
                              effective_weight=self.effective_weight, message=self.message)


def floor_of(min_replicas: int, max_unavailable: int) -> int:
    """The ready pods (both tracks) a swap never goes below: minReplicas - maxUnavailable."""
    return max(0, min_replicas - max_unavailable)


def plan_capacity(mode: CapacityMode, weight: int, *, min_replicas: int, max_unavailable: int,
                  pods: Pods, room: Room | None, full_replicas: int | None = None
                  ) -> CapacityPlan:
    """The replicas of both Deployments for a canary at `weight` percent (0: no canary).

    `room` is None for a service without GPUs. `full_replicas` is the count
    status.rollout.capacity recorded during a swap (None when no swap runs:
    the larger of minReplicas and the stable Deployment's replicas). Raises
    ValueError when
    `weight` is not within 0..100.
    """
    if not 0 <= weight <= 100:
        raise ValueError(f"weight must be a percentage from 0 to 100 (got {weight})")
    full = full_replicas if full_replicas is not None else max(min_replicas,
                                                              pods.stable_replicas)
    floor = floor_of(min_replicas, max_unavailable)
    if weight == 0:
        return _give_back(full, floor, pods, room, swapped=full_replicas is not None)
    surge = canary_replicas(min_replicas, full, weight)
    if room is None:
        return CapacityPlan(CapacityMode.surge, None, surge, surge, full)
    spare = room.slots - full
    if mode == CapacityMode.surge or (mode == CapacityMode.auto and spare >= surge):
        return _surge(mode, full, surge, spare, pods, room)
    return _swap(mode, weight, full, floor, pods, room)


def _surge(mode: CapacityMode, full: int, surge: int, spare: int, pods: Pods,
           room: Room) -> CapacityPlan:
    canary = min(surge, max(0, spare))
    # Back from a swap (auto, once GPUs were freed): the stable is given its pods first.
    stable = full if pods.stable_replicas < full else None
    needs = _needs(room)
    if canary < surge:
        missing = (surge - canary) * room.per_replica
        blocked = (f"{needs}; {_free(room, pods)}: no room to surge {surge} canary pod(s) "
                   f"beside stable {full}. Free {missing} {room.resource} on a matching node "
                   "and the rollout goes on by itself, or set rollout.capacity to swap or "
                   "auto, or abort")
        return CapacityPlan(CapacityMode.surge, stable, canary, surge, full, blocked=blocked,
                            message=blocked)
    why = " (auto: room to surge)" if mode == CapacityMode.auto else ""
    message = f"{needs}; {_free(room, pods)}; surging{why}: stable {full}, canary {canary}"
    return CapacityPlan(CapacityMode.surge, stable, canary, surge, full, message=message)


def _swap(mode: CapacityMode, weight: int, full: int, floor: int, pods: Pods,
          room: Room) -> CapacityPlan:
    # The canary gets at least one pod while its weight is above 0: its share of
    # `full` by replica_split, which keeps the stable one while weight < 100.
    goal_canary = min(full, max(1, replica_split(full, weight)[1]))
    stable, canary = _shift(full - goal_canary, goal_canary, pods, room.slots, floor)
    # Blocked is judged without the pods still terminating: they go by themselves.
    _, possible = _shift(full - goal_canary, goal_canary, replace(pods, held=None),
                         room.slots, floor)
    needs = _needs(room)
    why = " (auto: no room to surge)" if mode == CapacityMode.auto else ""
    message = (f"{needs}; {_free(room, pods)}; swapping{why}: stable {stable}, canary {canary}"
               f" (goal: stable {full - goal_canary}, canary {goal_canary}; at least {floor} "
               "ready)")
    blocked = None
    if possible == 0:
        blocked = (f"{needs}; {_free(room, pods)}: cannot swap: the stable's {stable} pod(s) "
                   f"may not go below {floor} ready (minReplicas - maxUnavailable) and no "
                   f"pod's worth of {room.resource} is free. Raise rollout.maxUnavailable, "
                   "free GPUs on a matching node, or abort")
    return CapacityPlan(CapacityMode.swap, stable, canary, goal_canary, full, blocked=blocked,
                        message=blocked or message)


def _give_back(full: int, floor: int, pods: Pods, room: Room | None,
               swapped: bool) -> CapacityPlan:
    """No canary wanted: a stable left short by a swap gets its pods before the canary's go.

    Done once the stable is full again with all its pods ready, or when
    nothing says a swap took its pods (`swapped`: a recorded full count) and
    no canary runs. Until its last pods are ready the swap's promise holds
    (minReplicas - maxUnavailable across both tracks): ending at the count
    alone would bring the autoscaler back and judge Ready by the stable's
    ready pods against minReplicas while those pods start, minutes for a
    model that loads its weights. A stable whose pods fail
    (`Pods.stable_failing`) ends it at the count: they would never be ready,
    and Degraded says why.
    """
    settled = pods.stable_ready >= full or pods.stable_failing
    if (pods.stable_replicas >= full and settled) or (
            pods.canary_replicas == 0 and not swapped):
        return CapacityPlan(CapacityMode.surge, None, 0, 0, full)
    slots = full + pods.canary_replicas if room is None else room.slots
    stable, canary = _shift(full, 0, pods, slots, floor)
    starting = (f" ({pods.stable_ready} ready)" if stable == pods.stable_replicas
                and pods.stable_ready < stable else "")
    message = (f"giving GPUs back to stable: stable {stable} of {full}{starting}, canary "
               f"{canary} (at least {floor} ready)")
    return CapacityPlan(CapacityMode.swap, stable, canary, 0, full, message=message)


def _shift(goal_stable: int, goal_canary: int, pods: Pods, slots: int,
           floor: int) -> tuple[int, int]:
    """(stable, canary) replicas one move closer to the goal, the floor and the slots kept.

    A side above its goal shrinks only as far as the other side's ready pods
    keep `floor`; a side below it grows only into slots nobody holds, the
    stable first: not into those of pods still terminating (`Pods.held`),
    so a new pod never waits Pending for them; the next move takes them.
    Never more than `pods` shows on a shrinking side, so the move is the
    same whenever it is computed again from what it led to.
    """
    stable, canary = pods.stable_replicas, pods.canary_replicas
    if stable > goal_stable:
        stable = min(stable, max(goal_stable, floor - pods.canary_ready))
    if canary > goal_canary:
        canary = min(canary, max(goal_canary, floor - pods.stable_ready))
    unheld = slots if pods.held is None else slots - pods.held
    if stable < goal_stable:
        room = min(slots - stable - canary, unheld)
        stable = min(goal_stable, stable + max(0, room))
        unheld -= stable - pods.stable_replicas
    if canary < goal_canary:
        room = min(slots - stable - canary, unheld)
        canary = min(goal_canary, canary + max(0, room))
    return stable, canary


def _needs(room: Room) -> str:
    products = f" ({' or '.join(room.products)})" if room.products else ""
    return f"each canary pod needs {room.per_replica} x {room.resource}{products}"


def _free(room: Room, pods: Pods) -> str:
    held = (pods.stable_replicas + pods.canary_replicas) * room.per_replica
    free = max(0, room.free - held)
    return f"{free} free on {room.nodes} matching node(s)"
