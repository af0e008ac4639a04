"""Two operator replicas with kopf peering: one reconciles, the other takes over when it dies.

As the chart runs them (`toolfleet run --peering`), but as local processes, each
with its own HTTP port and field manager, so that the test can tell which one
wrote what. The replicas watch one ro-* namespace, which the session's own
operator stays out of, and coordinate through a KopfPeering there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from tests.e2e.conftest import RESYNC_SECONDS, fresh_namespace, stop_operator
from tests.e2e.support import REPO, Cluster, Operator, free_port, wait_until

PEERING_CRDS = REPO / "charts" / "toolfleet" / "crds" / "kopf-peering.yaml"
SAMPLE = REPO / "config" / "samples" / "cpu-toolservice.yaml"
PEERING = "toolfleet"
# Short, so that a killed replica is taken over quickly; the chart's default is 60.
LIFETIME_SECONDS = 10
RECONCILES = "toolfleet_reconciles_total"


@pytest.fixture
def ha_namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace for this test's replicas alone (ro-*: the session operator skips it)."""
    with fresh_namespace(cluster, "ro-ha-") as name:
        yield name


@pytest.fixture
def peering(cluster: Cluster, crds: None, ha_namespace: str) -> str:
    """kopf's peering CRDs, from the chart, and the peering object the replicas share."""
    cluster.kubectl("apply", "--server-side", "-f", str(PEERING_CRDS))
    cluster.wait_established("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")
    cluster.kubectl("apply", "-n", ha_namespace, "-f", "-", input=json.dumps({
        "apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": PEERING}}))
    return PEERING


def start_replica(cluster: Cluster, namespace: str, name: str, priority: int) -> Operator:
    """`toolfleet run --peering` for one namespace, once it answers /healthz.

    Not /readyz: whether a replica that waits for its turn is ready is under test.
    """
    port = free_port()
    log_dir = REPO / ".cluster" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"operator-{namespace}-{name}.log"
    env = {**cluster.env(), "TOOLFLEET_HTTP_HOST": "127.0.0.1",
           "TOOLFLEET_HTTP_PORT": str(port), "TOOLFLEET_RESYNC_SECONDS": str(RESYNC_SECONDS),
           "TOOLFLEET_NAMESPACE": namespace, "TOOLFLEET_FIELD_MANAGER": f"toolfleet-{name}",
           "TOOLFLEET_PEERING_LIFETIME_SECONDS": str(LIFETIME_SECONDS)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "toolfleet.cli", "run", "--namespace", namespace,
             "--peering", "--peering-name", PEERING, "--priority", str(priority)],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    replica = Operator(process=process, port=port, log_path=log_path)

    def alive() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited {process.returncode}:\n{replica.log()}")
        return status(f"{replica.url}/healthz") == 200

    wait_until(alive, 60, f"replica {name} to answer /healthz")
    return replica


def status(url: str) -> int | str:
    """The HTTP status of a GET, or what went wrong before there was one."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        return type(error).__name__


@dataclass
class Poller:
    """GETs to some URLs, over and over in a thread, recording every answer."""

    urls: list[str]
    answers: dict[str, list[int | str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self.answers = {url: [] for url in self.urls}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 300  # bounded, whatever happens to the test
        while not self._stop.is_set() and time.monotonic() < deadline:
            for url in self.urls:
                self.answers[url].append(status(url))
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def failures(self, url: str) -> dict[str, int]:
        """Answers other than 200, counted by answer."""
        counts: dict[str, int] = {}
        for answer in self.answers[url]:
            if answer != 200:
                counts[str(answer)] = counts.get(str(answer), 0) + 1
        return counts


def toolservice(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    manifest["metadata"]["name"] = name
    return manifest


def apply_and_wait_ready(cluster: Cluster, namespace: str, name: str, timeout: int) -> float:
    """Apply a sample ToolService named `name`; seconds until it was Ready."""
    started = time.monotonic()
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(toolservice(name)))
    waited = cluster.kubectl("wait", "-n", namespace, "--for=condition=Ready",
                             f"--timeout={timeout}s", f"toolservice/{name}",
                             timeout=timeout + 10, check=False)
    if waited.returncode != 0:
        state = cluster.kubectl("get", "toolservice,deployment,pods", "-n", namespace,
                                "-o", "wide", check=False).stdout
        conditions = cluster.kubectl("get", "toolservice", name, "-n", namespace, "-o",
                                     "jsonpath={.status.conditions}", check=False).stdout
        raise AssertionError(f"{name} not Ready in {timeout}s:\n{state}\n{conditions}")
    return time.monotonic() - started


def managers(cluster: Cluster, namespace: str, deployment: str) -> set[str]:
    """Field managers of a Deployment: who applied it."""
    obj = cluster.get("deployment", deployment, "-n", namespace, "--show-managed-fields")
    return {entry["manager"] for entry in obj["metadata"].get("managedFields", [])}


def reconciles(replica: Operator) -> float:
    return replica.metric(RECONCILES, kind="ToolService")


def test_one_replica_reconciles_and_the_other_takes_over_when_it_is_killed(
        cluster: Cluster, peering: str, ha_namespace: str) -> None:
    active = start_replica(cluster, ha_namespace, "a", priority=200)
    standby: Operator | None = None
    poller: Poller | None = None
    try:
        wait_until(lambda: "Resuming operations" in active.log(), 30,
                   "replica a to start reconciling")
        standby = start_replica(cluster, ha_namespace, "b", priority=100)
        wait_until(lambda: len(cluster.get("kopfpeering", peering, "-n", ha_namespace)
                               .get("status") or {}) == 2, 30,
                   "both replicas to keep their keep-alives in the peering object")
        # The standby serves the catalog the active replica published, from the start.
        wait_until(lambda: status(f"{standby.url}/v1/catalogs/default") == 200, 30,
                   "the standby to serve the published catalog")
        urls = [f"{standby.url}/healthz", f"{standby.url}/metrics", f"{standby.url}/readyz",
                f"{standby.url}/v1/catalogs/default?format=openai"]
        poller = Poller(urls)
        poller.start()

        # Exactly one replica handles events: the one with the higher priority.
        apply_and_wait_ready(cluster, ha_namespace, "before", timeout=60)
        assert reconciles(active) > 0
        assert managers(cluster, ha_namespace, "before") >= {"toolfleet-a"}
        # Over a few resync periods, the standby writes nothing.
        deadline = time.monotonic() + 3 * RESYNC_SECONDS
        while time.monotonic() < deadline:
            assert reconciles(standby) == 0, standby.log_tail()
            time.sleep(0.5)
        assert "toolfleet-b" not in managers(cluster, ha_namespace, "before")

        # The active replica dies without a word; the standby takes over once its
        # keep-alive expires.
        active.process.kill()
        active.process.wait(timeout=10)
        killed = time.monotonic()
        cluster.kubectl("apply", "-n", ha_namespace, "-f", "-",
                        input=json.dumps(toolservice("after")))
        wait_until(lambda: cluster.kubectl("get", "deployment", "after", "-n", ha_namespace,
                                           check=False).returncode == 0,
                   LIFETIME_SECONDS + 15, "the standby to take over and reconcile")
        taken_over = time.monotonic() - killed
        apply_and_wait_ready(cluster, ha_namespace, "after", timeout=60)
        poller.stop()

        print(f"taken over {taken_over:.1f}s after the kill, Ready "
              f"{time.monotonic() - killed:.1f}s after it")
        assert reconciles(standby) > 0
        assert managers(cluster, ha_namespace, "after") >= {"toolfleet-b"}
        assert "toolfleet-a" not in managers(cluster, ha_namespace, "after")
        assert "Resuming operations" in standby.log()
        # Health and metrics of the survivor never stopped answering...
        for url in urls[:2]:
            assert len(poller.answers[url]) > 20, url
            assert poller.failures(url) == {}, f"{url}: {poller.failures(url)}"
        # Nor did its readiness and catalogs: a standby serves what the active one published.
        for url in urls[2:]:
            assert poller.failures(url) == {}, f"{url}: {poller.failures(url)}"
    finally:
        if poller is not None:
            poller.stop()
        if standby is not None:
            stop_operator(standby)
        if active.process.poll() is None:
            stop_operator(active)


def test_replicas_with_one_priority_all_wait_rather_than_both_reconcile(
        cluster: Cluster, peering: str, ha_namespace: str) -> None:
    # Why `run --peering` draws a random priority when none is given.
    first = start_replica(cluster, ha_namespace, "tie-1", priority=7)
    second: Operator | None = None
    try:
        wait_until(lambda: "Resuming operations" in first.log(), 30, "the first replica")
        second = start_replica(cluster, ha_namespace, "tie-2", priority=7)
        wait_until(lambda: "Pausing all operators" in first.log(), 30,
                   "the first replica to pause for the tie")
        cluster.kubectl("apply", "-n", ha_namespace, "-f", "-",
                        input=json.dumps(toolservice("tied")))
        deadline = time.monotonic() + 3 * RESYNC_SECONDS
        while time.monotonic() < deadline:
            assert cluster.get("toolservice", "tied", "-n", ha_namespace).get("status") in \
                (None, {}), "a tied replica reconciled"
            time.sleep(0.5)
    finally:
        if second is not None:
            stop_operator(second)
        stop_operator(first)



def test_a_replica_of_higher_priority_that_joins_takes_over_and_the_other_stops(
        cluster: Cluster, peering: str, ha_namespace: str) -> None:
    # A rolling update: each new pod draws its own priority and may outrank the old one.
    old = start_replica(cluster, ha_namespace, "old", priority=100)
    new: Operator | None = None
    try:
        wait_until(lambda: "Resuming operations" in old.log(), 30, "the old replica")
        apply_and_wait_ready(cluster, ha_namespace, "before", timeout=60)
        new = start_replica(cluster, ha_namespace, "new", priority=300)
        wait_until(lambda: "Pausing operations in favour of" in old.log(), 30,
                   "the old replica to step back")

        apply_and_wait_ready(cluster, ha_namespace, "after", timeout=60)

        assert "toolfleet-new" in managers(cluster, ha_namespace, "after")
        assert "toolfleet-old" not in managers(cluster, ha_namespace, "after")
        settled = reconciles(old)
        deadline = time.monotonic() + 3 * RESYNC_SECONDS
        while time.monotonic() < deadline:
            assert reconciles(old) == settled, "the replica that stepped back still reconciles"
            time.sleep(0.5)
    finally:
        if new is not None:
            stop_operator(new)
        stop_operator(old)
