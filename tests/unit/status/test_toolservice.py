"""A ToolService's status from what was observed (operator/toolfleet/status/toolservice.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.common import Condition
from toolfleet.api.toolservice import (
    CapacityMode,
    RolloutStatus,
    ToolServiceSpec,
    ToolServiceStatus,
)
from toolfleet.placement.inventory import Fit
from toolfleet.rollout.capacity import CapacityPlan
from toolfleet.status.conditions import find
from toolfleet.status.toolservice import Observed, compute_status, show_capacity

PROPERTIES = settings(max_examples=50, deadline=None)
T1, T2, T3 = "2025-01-01T00:00:00Z", "2025-01-01T00:05:00Z", "2025-01-01T00:10:00Z"
REVISION, OLD_REVISION = "a1b2c3d4e5", "0f9e8d7c6b"
ENDPOINT = "http://forecaster.team-a.svc.cluster.local:8080"


def spec(min_replicas: int = 1, version: str = "1.4.0", gpu: bool = False) -> ToolServiceSpec:
    body: dict[str, Any] = {
        "version": version, "image": "registry.example/forecaster:1",
        "tools": [{"name": "forecast", "description": "Forecast.",
                   "inputSchema": {"type": "object"}},
                  {"name": "backtest", "description": "Backtest.",
                   "inputSchema": {"type": "object"}}],
        "autoscaling": {"minReplicas": min_replicas, "maxReplicas": max(min_replicas, 3)},
    }
    if gpu:
        body["gpu"] = {"count": 1}
    return ToolServiceSpec.model_validate(body)


def deployment(*, revision: str = REVISION, generation: int = 4, observed: int = 4,
               wanted: int = 2, replicas: int | None = None, updated: int | None = None,
               ready: int | None = None,
               conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The stable Deployment as the API server returns it; by default fully rolled out."""
    replicas = wanted if replicas is None else replicas
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "replicas": replicas,
        "updatedReplicas": replicas if updated is None else updated,
        "readyReplicas": replicas if ready is None else ready,
        "conditions": conditions or [],
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "forecaster", "namespace": "team-a", "generation": generation,
                     "labels": {"toolfleet.io/revision": revision}},
        "spec": {"replicas": wanted},
        "status": status,
    }


def observe(dep: dict[str, Any] | None = None, *, fit: Fit | None = None,
            errors: list[str] | None = None, generation: int = 7,
            revision: str = REVISION) -> Observed:
    return Observed(generation=generation, revision=revision, endpoint=ENDPOINT,
                    deployment=dep if dep is not None else deployment(), fit=fit,
                    apply_errors=errors or [])


def gpu_fit(schedulable: int, reason: str = "InsufficientGPU",
            message: str = "needs 2 replica(s) x 1 nvidia.com/gpu; 1 matching node(s) "
                           "(gpu-l4-0) have 1 free, so 1 replica(s) fit") -> Fit:
    return Fit("nvidia.com/gpu", 1, ["gpu-l4-0"], schedulable, schedulable, reason, message)


def status(svc: ToolServiceSpec | None = None, observed: Observed | None = None,
           current: ToolServiceStatus | None = None, now: str = T1) -> ToolServiceStatus:
    return compute_status(svc or spec(), current or ToolServiceStatus(),
                          observed or observe(), now)


def condition(result: ToolServiceStatus, type_: str) -> Condition:
    found = find(result.conditions, type_)
    assert found is not None, type_
    return found


# -- Ready --------------------------------------------------------------------------

def test_a_rolled_out_deployment_makes_the_service_ready() -> None:
    result = status()
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason) == ("True", "ReplicasReady")
    assert "1.4.0" in ready.message
    assert (condition(result, "Progressing").status,
            condition(result, "Progressing").reason) == ("False", "RolloutComplete")
    assert condition(result, "Degraded").status == "False"
    assert (condition(result, "Schedulable").status,
            condition(result, "Schedulable").reason) == ("True", "NoGPURequired")
    assert (result.stable_version, result.stable_revision) == ("1.4.0", REVISION)
    assert (result.replicas, result.ready_replicas) == (2, 2)


@pytest.mark.parametrize(("why", "dep"), [
    ("the Deployment still runs the previous revision", deployment(revision=OLD_REVISION)),
    ("the Deployment controller has not seen the latest spec", deployment(observed=3)),
    ("not every wanted replica is ready", deployment(ready=1)),
    ("pods of the previous revision are still there", deployment(replicas=3, updated=2)),
    ("too few pods are updated", deployment(replicas=1, updated=1)),
])
def test_the_rollout_is_complete_only_when_the_current_revision_is_fully_rolled_out(
        why: str, dep: dict[str, Any]) -> None:
    result = status(observed=observe(dep))
    progressing = condition(result, "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "Deploying"), why
    assert REVISION in progressing.message
    assert result.stable_version is None and result.stable_revision is None, why


def test_not_ready_while_fewer_than_min_replicas_pods_are_ready() -> None:
    result = status(spec(min_replicas=3), observe(deployment(wanted=3, ready=2)))
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason) == ("False", "ReplicasNotReady")
    assert "2/3" in ready.message


def test_ready_at_min_replicas_even_when_the_autoscaler_wants_more() -> None:
    # Scaled out to 5, one pod still starting: the service serves, at its floor and above.
    result = status(spec(min_replicas=2), observe(deployment(wanted=5, replicas=5, ready=4)))
    assert condition(result, "Ready").status == "True"


def test_not_ready_before_the_deployment_exists() -> None:
    observed = Observed(generation=1, revision=REVISION, endpoint=ENDPOINT, deployment=None,
                        fit=None)
    result = status(observed=observed)
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason) == ("False", "ReplicasNotReady")
    assert (result.replicas, result.ready_replicas) == (0, 0)


def test_not_ready_below_the_autoscalers_floor() -> None:
    # A new Deployment starts at one replica until the autoscaler raises it.
    result = status(spec(min_replicas=3), observe(deployment(wanted=1)))
    ready = condition(result, "Ready")
    assert (ready.status, ready.message) == ("False", "1/3 replica(s) ready")


@PROPERTIES
@given(same_revision=st.booleans(), lag=st.integers(0, 2), wanted=st.integers(0, 5),
       replicas=st.integers(0, 6), updated=st.integers(0, 6), ready=st.integers(0, 6),
       min_replicas=st.integers(1, 4))
def test_rolled_out_only_when_every_wanted_pod_of_this_revision_is_ready(
        same_revision: bool, lag: int, wanted: int, replicas: int, updated: int, ready: int,
        min_replicas: int) -> None:
    updated, ready = min(updated, replicas), min(ready, replicas)
    dep = deployment(revision=REVISION if same_revision else OLD_REVISION, generation=5,
                     observed=5 - lag, wanted=wanted, replicas=replicas, updated=updated,
                     ready=ready)
    result = status(spec(min_replicas=min_replicas), observe(dep))
    complete = condition(result, "Progressing").status == "False"
    assert complete == (same_revision and lag == 0 and updated == replicas >= wanted
                        and ready >= max(wanted, min_replicas))
    assert (result.stable_revision == REVISION) == complete
    # Ready never claims more than the pods that are ready: at least minReplicas.
    if condition(result, "Ready").status == "True":
        assert ready >= max(min_replicas, 1)


# -- Schedulable ----------------------------------------------------------------------

def test_too_few_gpus_make_the_service_unschedulable_with_the_fits_numbers() -> None:
    fit = gpu_fit(1)
    result = status(spec(min_replicas=2, gpu=True),
                    observe(deployment(ready=0, wanted=2), fit=fit))
    schedulable = condition(result, "Schedulable")
    assert (schedulable.status, schedulable.reason, schedulable.message) == (
        "False", "InsufficientGPU", fit.message)
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "Unschedulable", fit.message)
    assert result.gpu is not None
    assert (result.gpu.matching_nodes, result.gpu.schedulable_replicas) == (["gpu-l4-0"], 1)


def test_no_matching_nodes_is_reported_as_such() -> None:
    fit = Fit("nvidia.com/gpu", 1, [], 0, 0, "NoMatchingNodes",
              "no Ready node offers nvidia.com/gpu (product in [NVIDIA-B200])")
    schedulable = condition(status(spec(gpu=True), observe(fit=fit)), "Schedulable")
    assert (schedulable.status, schedulable.reason) == ("False", "NoMatchingNodes")
    assert "NVIDIA-B200" in schedulable.message


def test_enough_gpus_for_the_floor_is_schedulable() -> None:
    fit = gpu_fit(2, "GPUAvailable", "2 replica(s) fit on 1 matching node(s) (gpu-l4-0)")
    result = status(spec(min_replicas=2, gpu=True), observe(fit=fit))
    assert (condition(result, "Schedulable").status,
            condition(result, "Schedulable").reason) == ("True", "GPUAvailable")
    assert condition(result, "Ready").status == "True"


def test_a_cpu_service_reports_no_gpu_status() -> None:
    assert status().gpu is None


SCHEDULER = ("pod forecaster-5c9-x2b: 0/4 nodes are available: 1 Too many pods, 3 node(s) "
             "had untolerated taint {nvidia.com/gpu: present}.")


def test_a_cpu_service_whose_pods_cannot_be_placed_is_unschedulable_in_the_schedulers_words(
        ) -> None:
    observed = replace(observe(deployment(ready=0)), unschedulable=SCHEDULER)
    result = status(observed=observed)
    schedulable = condition(result, "Schedulable")
    assert (schedulable.status, schedulable.reason, schedulable.message) == (
        "False", "Unschedulable", SCHEDULER)
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "Unschedulable", SCHEDULER)


def test_the_scheduler_overrules_a_gpu_fit_that_looked_enough() -> None:
    fit = gpu_fit(2, "GPUAvailable", "2 replica(s) fit on 1 matching node(s) (gpu-l4-0)")
    observed = replace(observe(deployment(ready=0), fit=fit), unschedulable=SCHEDULER)
    schedulable = condition(status(spec(gpu=True), observed), "Schedulable")
    assert (schedulable.status, schedulable.reason, schedulable.message) == (
        "False", "Unschedulable", SCHEDULER)


def test_too_few_gpus_keep_the_fits_numbers_and_add_the_schedulers_words() -> None:
    fit = gpu_fit(1)
    observed = replace(observe(deployment(ready=0, wanted=2), fit=fit), unschedulable=SCHEDULER)
    schedulable = condition(status(spec(min_replicas=2, gpu=True), observed), "Schedulable")
    assert (schedulable.status, schedulable.reason) == ("False", "InsufficientGPU")
    assert schedulable.message == f"{fit.message}; the scheduler: {SCHEDULER}"


@pytest.mark.parametrize(("serving", "ready"), [(3, "True"), (2, "False")])
def test_a_swap_keeps_ready_while_a_replacement_pod_waits_for_the_gpu_of_the_one_it_replaces(
        serving: int, ready: str) -> None:
    # Promotion mid-swap: the stable rolls in place (maxSurge 0), so its new pod
    # waits for the GPU its old pod still holds, and the scheduler says so.
    fit = gpu_fit(4, "GPUAvailable", "4 replica(s) fit on 1 matching node(s) (gpu-l4-0)")
    observed = replace(observe(deployment(wanted=2, ready=1, updated=1), fit=fit),
                       unschedulable=SCHEDULER)
    computed = status(spec(min_replicas=4, gpu=True), observed)
    assert condition(computed, "Ready").reason == "Unschedulable"
    giving_back = CapacityPlan(CapacityMode.swap, 2, 2, 0, 4, message=(
        "giving GPUs back to stable: stable 2 of 4, canary 2 (at least 3 ready)"))
    shown = show_capacity(computed, giving_back, True, [], T2, serving=(serving, 3))
    found = condition(shown, "Ready")
    assert found.status == ready
    if ready == "True":
        assert found.message == (
            "3 replica(s) ready across stable and canary while GPUs move between them "
            "(at least 3 promised: minReplicas - maxUnavailable)")
    else:
        assert (found.reason, found.message) == ("Unschedulable", SCHEDULER)
    schedulable = condition(shown, "Schedulable")
    assert (schedulable.status, schedulable.reason) == ("False", "Unschedulable")
    assert schedulable.message.startswith(SCHEDULER)


def test_a_swap_is_not_ready_when_the_gpu_inventory_says_its_floor_no_longer_fits() -> None:
    # Another workload took GPUs mid-swap: the inventory's count, not a replacement's wait.
    observed = observe(deployment(wanted=2, ready=2), fit=gpu_fit(2))
    computed = status(spec(min_replicas=4, gpu=True), observed)
    assert condition(computed, "Schedulable").reason == "InsufficientGPU"
    giving_back = CapacityPlan(CapacityMode.swap, 2, 1, 0, 4, message=(
        "giving GPUs back to stable: stable 2 of 4, canary 1 (at least 3 ready)"))
    shown = show_capacity(computed, giving_back, True, [], T2, serving=(3, 3))
    ready = condition(shown, "Ready")
    assert (ready.status, ready.reason) == ("False", "Unschedulable")


def test_a_give_back_says_the_stables_last_pods_are_starting() -> None:
    observed = observe(deployment(wanted=4, ready=3))
    computed = status(spec(min_replicas=4, gpu=True), observed)
    assert condition(computed, "Ready").reason == "ReplicasNotReady"
    starting = CapacityPlan(CapacityMode.swap, 4, 0, 0, 4, message=(
        "giving GPUs back to stable: stable 4 of 4 (3 ready), canary 0 (at least 3 ready)"))
    ready = condition(show_capacity(computed, starting, True, [], T2, serving=(3, 3)), "Ready")
    assert (ready.status, ready.message) == (
        "True", "3 replica(s) ready while the stable's last pods start (at least 3 promised: "
        "minReplicas - maxUnavailable)")


def test_an_apply_failure_is_why_not_ready_even_when_pods_cannot_be_placed() -> None:
    observed = replace(observe(deployment(ready=0), errors=["Service forecaster: range is full"]),
                       unschedulable=SCHEDULER)
    ready = condition(status(observed=observed), "Ready")
    assert (ready.status, ready.reason) == ("False", "ApplyFailed")


# -- Degraded -------------------------------------------------------------------------

def test_apply_errors_degrade_the_service_and_keep_it_from_ready() -> None:
    errors = ["NetworkPolicy forecaster: forbidden", "HorizontalPodAutoscaler forecaster: "
              "invalid"]
    result = status(observed=observe(errors=errors))
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "ApplyFailed")
    assert all(e in degraded.message for e in errors)
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason) == ("False", "ApplyFailed")


@pytest.mark.parametrize(("deployment_condition", "expected"), [
    ({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
      "message": "exceeded quota: gpu"}, "FailedCreate: exceeded quota: gpu"),
    ({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
      "message": "ReplicaSet \"forecaster-7d\" has timed out progressing."},
     "ProgressDeadlineExceeded"),
])
def test_a_failing_deployment_degrades_the_service(deployment_condition: dict[str, Any],
                                                   expected: str) -> None:
    dep = deployment(ready=0, conditions=[deployment_condition])
    degraded = condition(status(observed=observe(dep)), "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "DeploymentFailing")
    assert expected in degraded.message


def test_a_healthy_progressing_deployment_is_not_degraded() -> None:
    dep = deployment(ready=1, conditions=[
        {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
        {"type": "ReplicaFailure", "status": "False", "reason": "Recovered"}])
    degraded = condition(status(observed=observe(dep)), "Degraded")
    assert (degraded.status, degraded.reason) == ("False", "AsExpected")


# -- what else status says ----------------------------------------------------------

def test_generation_endpoint_and_tools_are_reported() -> None:
    result = status(observed=observe(generation=9))
    assert result.observed_generation == 9
    assert all(c.observed_generation == 9 for c in result.conditions)
    assert result.endpoint == ENDPOINT
    assert (result.tools, result.tool_count) == (["forecast", "backtest"], 2)
    assert {c.type for c in result.conditions} == {"Ready", "Progressing", "Degraded",
                                                   "Schedulable"}


def test_what_other_parts_of_the_operator_wrote_is_kept() -> None:
    current = ToolServiceStatus(
        canary_version="1.5.0",
        rollout=RolloutStatus(revision="ffff000011", version="1.5.0", weight=20, step=0,
                              phase="Progressing"),
        conditions=[Condition(type="RolloutHealthy", status="True", reason="AnalysisPassed",
                              last_transition_time=T1)],
    )
    result = status(current=current, now=T2)
    assert result.canary_version == "1.5.0" and result.rollout == current.rollout
    assert condition(result, "RolloutHealthy") == current.conditions[0]


def test_stable_version_moves_only_once_the_new_revision_is_rolled_out() -> None:
    old = status(spec(version="1.4.0"), observe(revision=OLD_REVISION,
                                                dep=deployment(revision=OLD_REVISION)))
    assert old.stable_version == "1.4.0"
    rolling = status(spec(version="1.5.0"), observe(deployment(ready=1, updated=1, replicas=3)),
                     current=old, now=T2)
    assert (rolling.stable_version, rolling.stable_revision) == ("1.4.0", OLD_REVISION)
    # The old pods keep serving meanwhile (maxUnavailable 0): still Ready.
    assert condition(rolling, "Ready").status == "True"
    done = status(spec(version="1.5.0"), observe(), current=rolling, now=T3)
    assert (done.stable_version, done.stable_revision) == ("1.5.0", REVISION)


def test_transition_times_move_only_for_conditions_that_flip() -> None:
    starting = status(observed=observe(deployment(ready=0)), now=T1)
    ready = status(observed=observe(), current=starting, now=T2)
    assert condition(ready, "Ready").last_transition_time == T2
    assert condition(ready, "Progressing").last_transition_time == T2
    assert condition(ready, "Degraded").last_transition_time == T1
    assert condition(ready, "Schedulable").last_transition_time == T1


# -- idempotence --------------------------------------------------------------------

observations = st.builds(
    lambda dep, fit, errors, generation: observe(dep, fit=fit, errors=errors,
                                                 generation=generation),
    st.builds(lambda same, lag, wanted, ready, failing: deployment(
        revision=REVISION if same else OLD_REVISION, observed=4 - lag, wanted=wanted,
        ready=min(ready, wanted),
        conditions=[{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                     "message": "quota"}] if failing else []),
        st.booleans(), st.integers(0, 1), st.integers(1, 4), st.integers(0, 4), st.booleans()),
    st.one_of(st.none(), st.builds(gpu_fit, st.integers(0, 4))),
    st.lists(st.sampled_from(["Service forecaster: conflict", "PDB forecaster: forbidden"]),
             max_size=2, unique=True),
    st.integers(1, 9),
)


@PROPERTIES
@given(observed=observations, min_replicas=st.integers(1, 3))
def test_a_resync_that_sees_nothing_new_computes_the_same_status(observed: Observed,
                                                                 min_replicas: int) -> None:
    svc = spec(min_replicas=min_replicas, gpu=observed.fit is not None)
    first = compute_status(svc, ToolServiceStatus(), observed, T1)
    # As the next reconcile reads it back from the API server, later.
    stored = ToolServiceStatus.model_validate(first.to_wire())
    again = compute_status(svc, stored, observed, T3)
    assert again == first
    assert again.to_wire() == first.to_wire()


# -- what Ready means during a rollout ------------------------------------------------

def test_ready_stays_true_while_a_new_revision_rolls_out_on_old_pods() -> None:
    # maxUnavailable 0: the old pods keep serving until new ones are ready.
    before = status(spec(min_replicas=2, version="1.4.0"),
                    observe(deployment(revision=OLD_REVISION), revision=OLD_REVISION), now=T1)
    surging = deployment(wanted=2, replicas=3, updated=1, ready=2)
    rolling = status(spec(min_replicas=2, version="1.5.0"), observe(surging), before, T2)
    ready = condition(rolling, "Ready")
    assert (ready.status, ready.reason, ready.last_transition_time) == (
        "True", "ReplicasReady", T1)
    assert "1.4.0" in ready.message
    progressing = condition(rolling, "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "Deploying")
    assert (rolling.stable_version, rolling.stable_revision) == ("1.4.0", OLD_REVISION)
    done = status(spec(min_replicas=2, version="1.5.0"), observe(), rolling, T3)
    assert condition(done, "Ready").last_transition_time == T1
    assert condition(done, "Progressing").status == "False"
    assert done.stable_version == "1.5.0"


@PROPERTIES
@given(min_replicas=st.integers(1, 4), surge=st.integers(0, 2), data=st.data())
def test_mid_rollout_ready_means_at_least_min_replicas_pods_ready(
        min_replicas: int, surge: int, data: st.DataObject) -> None:
    replicas = min_replicas + surge
    updated = data.draw(st.integers(0, min_replicas - 1), label="updated")
    ready = data.draw(st.integers(0, replicas), label="ready")
    dep = deployment(wanted=min_replicas, replicas=replicas, updated=updated, ready=ready)
    result = status(spec(min_replicas=min_replicas), observe(dep))
    assert condition(result, "Progressing").status == "True"
    assert (condition(result, "Ready").status == "True") == (ready >= min_replicas)


def test_not_ready_mid_rollout_when_fewer_than_min_replicas_pods_are_ready() -> None:
    dep = deployment(wanted=3, replicas=4, updated=1, ready=2)
    result = status(spec(min_replicas=3), observe(dep))
    ready = condition(result, "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "False", "ReplicasNotReady", "2/3 replica(s) ready")
    assert condition(result, "Progressing").status == "True"


# -- invalid tools --------------------------------------------------------------------

TOOL_PROBLEMS = ["spec.tools[1].inputSchema: 'properties' must be an object (got 'array')"]


def with_tool_problems(dep: dict[str, Any] | None = None) -> Observed:
    return Observed(generation=7, revision=REVISION, endpoint=ENDPOINT,
                    deployment=dep if dep is not None else deployment(), fit=None,
                    tool_problems=TOOL_PROBLEMS)


def test_invalid_tools_degrade_the_service_and_say_they_are_left_out() -> None:
    result = status(observed=with_tool_problems())
    degraded = condition(result, "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "InvalidTools")
    assert degraded.message == "left out of every catalog: " + TOOL_PROBLEMS[0]


@pytest.mark.parametrize("dep", [deployment(), deployment(ready=1, wanted=3)])
def test_invalid_tools_do_not_change_readiness(dep: dict[str, Any]) -> None:
    without = condition(status(observed=observe(dep)), "Ready")
    assert condition(status(observed=with_tool_problems(dep)), "Ready") == without


def test_fixed_tools_clear_degraded() -> None:
    degraded = status(observed=with_tool_problems(), now=T1)
    fixed = status(observed=observe(), current=degraded, now=T2)
    assert (condition(fixed, "Degraded").status, condition(fixed, "Degraded").reason,
            condition(fixed, "Degraded").last_transition_time) == ("False", "AsExpected", T2)


def test_ready_names_the_versions_the_ready_pods_actually_run() -> None:
    # Mid-canary: the spec asks for 1.5.0, but only the stable pods and one canary pod serve.
    surging = deployment(wanted=2, replicas=2, updated=2, ready=2)
    observed = replace(observe(surging), serving={"1.4.0": 2, "1.5.0": 1})
    current = ToolServiceStatus(stable_version="1.4.0")
    ready = condition(status(spec(min_replicas=2, version="1.5.0"), observed, current), "Ready")
    assert ready.message == "3 replica(s) ready: 2 of version 1.4.0, 1 of version 1.5.0"


def test_a_stable_deployment_lifted_from_zero_says_so() -> None:
    observed = replace(observe(), lifted="Deployment x was found at 0 replicas; lifted to 2")
    progressing = condition(status(observed=observed), "Progressing")
    assert (progressing.status, progressing.reason) == ("True", "ReplicasRestored")
    assert "lifted to 2" in progressing.message


def test_a_failure_state_of_the_stable_pods_is_degraded() -> None:
    observed = replace(observe(), stable_failure="pod x-1: Unschedulable: 0/3 nodes available")
    degraded = condition(status(observed=observed), "Degraded")
    assert (degraded.status, degraded.reason) == ("True", "DeploymentFailing")
    assert "Unschedulable" in degraded.message
