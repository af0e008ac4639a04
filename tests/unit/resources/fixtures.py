"""ToolServices as users write them, and the Kubernetes semantics the tests check against."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.meta import Owner

UID = "6f1c2a9e-8d4b-4c1e-9a57-3b2f0d9e7c10"
# A Kubernetes label value: at most 63 characters, alphanumeric at both ends.
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def wire(**sections: Any) -> dict[str, Any]:
    """A ToolService spec in camelCase, with `sections` replacing the defaults shown."""
    body: dict[str, Any] = {
        "version": "1.4.0",
        "image": "registry.example/forecaster:1.4.0",
        "tools": [{"name": "forecast", "description": "Forecast a time series.",
                   "inputSchema": {"type": "object",
                                   "properties": {"series": {"type": "array"}}}}],
    }
    body.update(copy.deepcopy(sections))
    return body


def owner(name: str = "forecaster", namespace: str = "team-a", **sections: Any) -> Owner:
    """The Owner of a ToolService named `name` with the given spec sections."""
    return Owner(name=name, namespace=namespace, uid=UID,
                 spec=ToolServiceSpec.model_validate(wire(**sections)))


def owner_of(spec: ToolServiceSpec, name: str = "forecaster") -> Owner:
    return Owner(name=name, namespace="team-a", uid=UID, spec=spec)


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a Kubernetes label selector matches `labels`; {} matches everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_template_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


# -- strategies ------------------------------------------------------------------

versions = st.builds(
    lambda major, minor, patch, pre: f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else ""),
    st.integers(0, 20), st.integers(0, 99), st.integers(0, 999),
    st.sampled_from(["", "rc.1", "beta", "alpha.2"]),
)
env_names = st.sampled_from(["LOG_LEVEL", "WORKERS", "API_KEY", "MODEL_CACHE", "PORT"])
env_vars = st.one_of(
    st.builds(lambda n, v: {"name": n, "value": v}, env_names, st.text("abc123", max_size=5)),
    st.builds(lambda n: {"name": n, "secretKeyRef": {"name": "creds", "key": "token"}},
              env_names),
)
gpus = st.one_of(
    st.none(),
    st.builds(lambda count, products, memory, runtime: {
        "count": count, "products": products,
        **({"minMemoryMiB": memory} if memory else {}),
        **({"runtimeClassName": runtime} if runtime else {})},
        st.integers(1, 4),
        st.lists(st.sampled_from(["NVIDIA-A100-SXM4-80GB", "NVIDIA-L4", "NVIDIA-H100-80GB-HBM3"]),
                 unique=True, max_size=2),
        st.one_of(st.none(), st.integers(1, 81920)),
        st.sampled_from(["", "nvidia"])),
    st.builds(lambda profile: {"sharing": "mig", "migProfile": profile},
              st.sampled_from(["1g.10gb", "2g.20gb", "3g.40gb"])),
    st.just({"sharing": "timeSlicing"}),
)
autoscalings = st.builds(
    lambda low, extra, cpu, inflight, gpu, window: {
        "minReplicas": low, "maxReplicas": low + extra,
        **({"targetCPUUtilization": cpu} if cpu else {}),
        **({"targetInFlightRequests": inflight} if inflight else {}),
        **({"targetGPUUtilization": gpu} if gpu else {}),
        "scaleDownStabilizationSeconds": window},
    st.integers(1, 10), st.integers(0, 20),
    st.one_of(st.none(), st.integers(1, 100)), st.one_of(st.none(), st.integers(1, 100)),
    st.one_of(st.none(), st.integers(1, 100)), st.integers(0, 3600),
)
accesses = st.builds(
    lambda exposure, callers: {"exposure": exposure, "allowedCallers": callers},
    st.sampled_from(["public", "internal", "private"]),
    st.lists(st.builds(lambda team: {"namespaceSelector": {"matchLabels": {"team": team}}},
                       st.sampled_from(["router", "search"])), max_size=2),
)
rollouts = st.builds(
    lambda strategy, first: {"strategy": strategy,
                             "steps": [{"weight": first}, {"weight": first + 40}]},
    st.sampled_from(["canary", "rolling"]), st.integers(1, 50),
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A varied, valid ToolService spec in camelCase."""
    sections: dict[str, Any] = {
        "version": draw(versions),
        "image": draw(st.sampled_from(["registry.example/a:1", "registry.example/b@sha256:"
                                       + "0" * 64])),
        "port": draw(st.sampled_from([8080, 9000, 3000])),
        "env": draw(st.lists(env_vars, max_size=3)),
        "autoscaling": draw(autoscalings),
        "access": draw(accesses),
        "rollout": draw(rollouts),
    }
    gpu = draw(gpus)
    if gpu is not None:
        sections["gpu"] = gpu
    if draw(st.booleans()):
        sections["model"] = {"uri": "s3://models/forecaster", "format": "onnx"}
    return wire(**sections)
