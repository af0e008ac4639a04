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
        # With the real node up and the images built, the call is a real pod's, by DNS.
        real = subprocess.run([str(REPO / "hack" / "realnode.sh"), "status"],
                              capture_output=True).returncode == 0 \
            and any((REPO / "build" / "images").glob("*cluster-analyzer*.ref"))
        assert ("from a client pod on the real node" in out) == real
        assert ("kwok pods run no code" in out) != real
        assert out.count("Segment ") >= 3
        # The tool gateway the catalog names, by /calls and by the mcp client.
        assert "The catalog names the tool gateway" in out
        assert "-> role=tool tool_call_id=call_1, k = 3" in out
        assert "mcp client: 2 tools listed" in out
        assert "score_anomalies -> isError=False, flagged ids [30" in out
        # And with auth on: RBAC decides.
        assert "without a token: 401" in out
        assert f"--as system:serviceaccount:{namespace}:router: yes" in out
        assert "with its token: 200 type=tool_result tool_use_id=toolu_1 is_error=False" in out
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
