"""A fleet: many ToolServices at once converge, and a resync of the settled fleet sends nothing.

Each test runs an operator of its own in an `ro-` namespace (the session's operator
stays out of those), so that its request counters count its fleet alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.e2e.conftest import RESYNC_SECONDS, fresh_namespace, start_operator, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, wait_until

pytestmark = pytest.mark.e2e

FLEET = 20


def toolservice(index: int) -> dict[str, Any]:
    return {"apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService",
            "metadata": {"name": f"svc-{index:02d}"},
            "spec": {"version": "1.0.0", "image": "toolfleet/bench:1.0.0",
                     "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
                     "access": {"exposure": "public"},
                     "tools": [{"name": f"echo_{index}", "description": "Echo the input.",
                                "inputSchema": {"type": "object"}}]}}


@pytest.fixture
def fleet_operator(cluster: Cluster, crds: None) -> Iterator[tuple[str, Operator]]:
    with fresh_namespace(cluster, "ro-fleet-") as namespace:
        log = REPO / ".cluster" / "logs" / f"operator-{namespace}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        op = start_operator(cluster, log, args=("--namespace", namespace))
        try:
            yield namespace, op
        finally:
            stop_operator(op)


def ready(cluster: Cluster, namespace: str) -> int:
    items = cluster.get("toolservices", "-n", namespace)["items"]
    return sum(1 for ts in items
               if any(c["type"] == "Ready" and c["status"] == "True"
                      for c in (ts.get("status") or {}).get("conditions") or []))


def requests(op: Operator) -> dict[str, float]:
    """The operator's requests to the API server by verb (but the watch and the list of
    the catalog follower, which reconnects now and then)."""
    return {verb: op.metric("toolfleet_api_requests_total", verb=verb)
            for verb in ("get", "create", "apply", "patch", "delete")}


def one_resync(op: Operator) -> None:
    rounds = op.metric("toolfleet_resyncs_total")
    reconciles = op.metric("toolfleet_reconciles_total")
    wait_until(lambda: op.metric("toolfleet_resyncs_total") >= rounds + 1
               and op.metric("toolfleet_reconciles_total") >= reconciles + FLEET
               and op.metric("toolfleet_workqueue_depth") == 0,
               RESYNC_SECONDS * 20, "a resync of the whole fleet")


def test_a_settled_fleet_is_resynced_without_a_single_request(
        cluster: Cluster, fleet_operator: tuple[str, Operator]) -> None:
    namespace, op = fleet_operator
    manifest = json.dumps({"apiVersion": "v1", "kind": "List",
                           "items": [toolservice(i) for i in range(FLEET)]})
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest)
    wait_until(lambda: ready(cluster, namespace) == FLEET, 180,
               f"all {FLEET} ToolServices to be Ready")

    def settled() -> bool:
        # Quiet: the last Events sent, the last status written, across two resyncs
        # (the pods' and Deployments' last status changes land after Ready).
        before = requests(op)
        one_resync(op)
        one_resync(op)
        return requests(op) == before

    wait_until(settled, 120, "the fleet to settle")
    before = requests(op)
    one_resync(op)
    one_resync(op)

    # Every ToolService was reconciled twice, from the watches: no read, no write.
    assert requests(op) == before
