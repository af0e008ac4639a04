"""`make demo`, as the README promises it: the walk-through runs and answers."""

from __future__ import annotations

import subprocess
import sys
import uuid

from tests.e2e.support import REPO, Cluster


def test_demo_walks_through_and_answers_the_segmentation_question(
        cluster: Cluster, crds: None) -> None:
    # ro-*: the session's own operator stays out of it, the demo brings its own.
    namespace = f"ro-demo-{uuid.uuid4().hex[:5]}"
    try:
        result = subprocess.run(
            [sys.executable, str(REPO / "hack" / "demo.py"), "--no-wait",
             "--namespace", namespace],
            capture_output=True, text=True, timeout=600, env=cluster.env())
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        out = result.stdout
        assert "segment_customers(" in out and "score_anomalies(" in out
        assert f"http://cluster-analyzer.{namespace}.svc.cluster.local:8080" in out
        assert "k = 3" in out
        assert out.count("Segment ") >= 3
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
