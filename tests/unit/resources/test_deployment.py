"""The Deployment of one revision (operator/toolfleet/resources/deployment.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolfleet.api.toolservice import ToolServiceSpec
from toolfleet.resources.deployment import build_deployment
from toolfleet.resources.meta import REVISION_LABEL
from toolfleet.resources.tracks import Track
from toolfleet.rollout.revision import revision_of

from .fixtures import (
    LABEL_VALUE,
    UID,
    env_vars,
    owner,
    owner_of,
    pod_template_labels,
    selects,
    specs,
    wire,
)

PROPERTIES = settings(max_examples=50, deadline=None)
# Volume types the restricted Pod Security profile allows.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def deployment(track: Track = Track.stable, replicas: int | None = None,
               **sections: Any) -> dict[str, Any]:
    svc = owner(**sections)
    return build_deployment(svc, svc.spec, revision_of(svc.spec), track, replicas)


def pod(dep: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = dep["spec"]["template"]["spec"]
    return spec


def container(dep: dict[str, Any]) -> dict[str, Any]:
    containers = pod(dep)["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def env(dep: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container(dep)["env"]}


def restricted_violations(pod_spec: dict[str, Any]) -> list[str]:
    """What the restricted Pod Security Standard would refuse in this pod spec."""
    found = []
    pod_ctx = pod_spec.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(flag):
            found.append(flag)
    for volume in pod_spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)}")
    if pod_ctx.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    for ctr in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
        found += [f"{ctr['name']}: {problem}" for problem in container_violations(ctr, pod_ctx)]
    return found


def container_violations(ctr: dict[str, Any], pod_ctx: dict[str, Any]) -> list[str]:
    """What the restricted profile would refuse in one container (`pod_ctx`: the pod's
    securityContext, whose settings a container inherits)."""
    found = []
    ctx = ctr.get("securityContext") or {}
    if ctx.get("privileged"):
        found.append("privileged")
    if ctx.get("allowPrivilegeEscalation") is not False:
        found.append("allowPrivilegeEscalation must be false")
    if not ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")):
        found.append("runAsNonRoot must be true")
    if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
        found.append("runs as root")
    seccomp = (ctx.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        found.append(f"seccompProfile {seccomp}")
    caps = ctx.get("capabilities") or {}
    if "ALL" not in (caps.get("drop") or []):
        found.append("capabilities must drop ALL")
    if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
        found.append(f"adds {caps['add']}")
    if any(p.get("hostPort") for p in ctr.get("ports") or []):
        found.append("hostPort")
    return found


def test_the_profile_check_refuses_a_pod_that_breaks_it() -> None:
    bad = pod(deployment())
    bad["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    bad["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    assert len(restricted_violations(bad)) == 2


# -- pod security ----------------------------------------------------------------

@PROPERTIES
@given(body=specs(), track=st.sampled_from([Track.stable, Track.canary]))
def test_every_pod_meets_the_restricted_pod_security_profile(body: dict[str, Any],
                                                             track: str) -> None:
    svc = owner_of(ToolServiceSpec.model_validate(body))
    dep = build_deployment(svc, svc.spec, revision_of(svc.spec), track)
    assert restricted_violations(pod(dep)) == []


def test_pod_security_settings_are_explicit() -> None:
    spec = pod(deployment(gpu={"count": 1}, model={"uri": "s3://m/x"}))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] != 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = spec["containers"][0]["securityContext"]
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctx["runAsNonRoot"] is True


def test_the_root_filesystem_is_read_only_and_tmp_is_writable() -> None:
    dep = deployment()
    assert container(dep)["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {v["name"]: v for v in pod(dep)["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]


def test_pods_run_as_their_own_service_account_without_a_token() -> None:
    spec = pod(deployment())
    assert spec["serviceAccountName"] == "forecaster"
    assert spec["automountServiceAccountToken"] is False


# -- container ---------------------------------------------------------------------

def test_probes_use_the_health_paths_of_the_spec() -> None:
    ctr = container(deployment(port=9000, healthPath="/live", readinessPath="/ready"))
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/live"
    assert ctr["startupProbe"]["httpGet"]["path"] == "/live"
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert ports[ctr[probe]["httpGet"]["port"]] == 9000


def test_default_probe_paths() -> None:
    ctr = container(deployment())
    assert ctr["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_image_args_and_resources_come_from_the_spec() -> None:
    ctr = container(deployment(image="registry.example/x:2", args=["--fast"],
                               resources={"cpu": "2", "memory": "4Gi"}))
    assert (ctr["image"], ctr["args"]) == ("registry.example/x:2", ["--fast"])
    assert ctr["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    # Memory is limited to what is requested; CPU is not throttled.
    assert ctr["resources"]["limits"] == {"memory": "4Gi"}


def test_prometheus_scrapes_the_service_port() -> None:
    annotations = deployment(port=9000)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9000"


# -- env ---------------------------------------------------------------------------

def test_the_operator_tells_the_service_who_it_is() -> None:
    svc = owner(port=9000)
    dep = build_deployment(svc, svc.spec, "abc1234567", Track.canary)
    values = {name: var.get("value") for name, var in env(dep).items()}
    assert values["PORT"] == "9000"
    assert values["TOOLFLEET_SERVICE"] == "forecaster"
    assert values["TOOLFLEET_VERSION"] == "1.4.0"
    assert values["TOOLFLEET_REVISION"] == "abc1234567"
    assert values["TOOLFLEET_TRACK"] == "canary"


def test_user_env_passes_literals_and_secret_references() -> None:
    dep = deployment(env=[
        {"name": "LOG_LEVEL", "value": "debug"},
        {"name": "API_KEY", "secretKeyRef": {"name": "forecaster", "key": "api-key"}},
        {"name": "EMPTY", "value": ""},
    ])
    by_name = env(dep)
    assert by_name["LOG_LEVEL"] == {"name": "LOG_LEVEL", "value": "debug"}
    assert by_name["API_KEY"] == {"name": "API_KEY", "valueFrom": {
        "secretKeyRef": {"name": "forecaster", "key": "api-key"}}}
    assert by_name["EMPTY"] == {"name": "EMPTY", "value": ""}
    # The user's variables keep their order after the operator's.
    names = [v["name"] for v in container(dep)["env"]]
    assert names[-3:] == ["LOG_LEVEL", "API_KEY", "EMPTY"]


def test_the_model_uri_and_format_reach_the_container() -> None:
    dep = deployment(model={"uri": "s3://models/forecaster/1.4.0", "format": "onnx"})
    assert env(dep)["TOOLFLEET_MODEL_URI"]["value"] == "s3://models/forecaster/1.4.0"
    assert env(dep)["TOOLFLEET_MODEL_FORMAT"]["value"] == "onnx"
    mounts = {m["mountPath"]: m["name"] for m in container(dep)["volumeMounts"]}
    assert mounts["/models"] in {v["name"] for v in pod(dep)["volumes"]}


def test_without_a_model_there_is_no_model_env_or_volume() -> None:
    dep = deployment()
    assert "TOOLFLEET_MODEL_URI" not in env(dep)
    assert "/models" not in {m["mountPath"] for m in container(dep)["volumeMounts"]}


def test_a_model_without_a_format_sets_only_the_uri() -> None:
    dep = deployment(model={"uri": "pvc://models/forecaster"})
    assert "TOOLFLEET_MODEL_URI" in env(dep)
    assert "TOOLFLEET_MODEL_FORMAT" not in env(dep)


@PROPERTIES
@given(user_env=st.lists(env_vars, max_size=6))
def test_env_names_are_unique_and_the_users_last_word_wins(
        user_env: list[dict[str, Any]]) -> None:
    # Server-side apply keys env by name and refuses a list with a name twice.
    dep = deployment(env=user_env)
    names = [v["name"] for v in container(dep)["env"]]
    assert len(names) == len(set(names))
    by_name = env(dep)
    for var in user_env:
        last = [v for v in user_env if v["name"] == var["name"]][-1]
        if "secretKeyRef" in last:
            assert by_name[var["name"]]["valueFrom"]["secretKeyRef"] == last["secretKeyRef"]
        else:
            assert by_name[var["name"]]["value"] == last["value"]


# -- GPU ---------------------------------------------------------------------------

def test_an_exclusive_gpu_service_gets_limits_affinity_toleration_and_runtime() -> None:
    spec = pod(deployment(gpu={"count": 2, "products": ["NVIDIA-L4", "NVIDIA-A100-SXM4-80GB"],
                               "runtimeClassName": "nvidia"}))
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert spec["runtimeClassName"] == "nvidia"
    assert {"key": "nvidia.com/gpu", "operator": "Exists",
            "effect": "NoSchedule"} in spec["tolerations"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{
        "key": "nvidia.com/gpu.product", "operator": "In",
        "values": ["NVIDIA-A100-SXM4-80GB", "NVIDIA-L4"]}]}]


def test_a_gpu_service_without_constraints_has_no_affinity_or_runtime_class() -> None:
    spec = pod(deployment(gpu={}))
    assert spec["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "affinity" not in spec and "runtimeClassName" not in spec
    assert spec["tolerations"]


def _memory_expression(min_memory: int) -> dict[str, Any]:
    spec = pod(deployment(gpu={"minMemoryMiB": min_memory}))
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    expression: dict[str, Any] = terms[0]["matchExpressions"][0]
    assert len(terms[0]["matchExpressions"]) == 1
    return expression


@PROPERTIES
@given(min_memory=st.integers(1, 200_000), node_memory=st.integers(0, 200_000))
def test_min_memory_admits_exactly_the_nodes_with_that_much(min_memory: int,
                                                           node_memory: int) -> None:
    expression = _memory_expression(min_memory)
    assert expression["key"] == "nvidia.com/gpu.memory"
    assert expression["operator"] == "Gt"
    # Gt compares the node's label as an integer with the single value.
    (threshold,) = expression["values"]
    assert (node_memory > int(threshold)) == (node_memory >= min_memory)


@pytest.mark.parametrize("profile", ["1g.10gb", "2g.20gb", "3g.40gb"])
def test_a_mig_service_asks_for_its_slice(profile: str) -> None:
    limits = container(deployment(gpu={"sharing": "mig", "migProfile": profile}))[
        "resources"]["limits"]
    assert limits[f"nvidia.com/mig-{profile}"] == "1"
    assert "nvidia.com/gpu" not in limits


def test_time_slicing_asks_for_the_shared_gpu_resource() -> None:
    limits = container(deployment(gpu={"sharing": "timeSlicing"}))["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"


def test_a_cpu_service_has_no_gpu_settings() -> None:
    spec = pod(deployment())
    assert not [k for k in spec["containers"][0]["resources"]["limits"] if "nvidia" in k]
    assert {"tolerations", "affinity", "runtimeClassName"}.isdisjoint(spec)


# -- termination ---------------------------------------------------------------------

def test_a_terminating_pod_keeps_serving_until_its_endpoints_are_gone() -> None:
    # Routers learn of a pod's removal from the endpoints a moment after its deletion:
    # it stops only after a pause, well within its grace period.
    spec = pod(deployment())
    pause = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 1 <= pause < spec["terminationGracePeriodSeconds"] - 10


# -- placement: nodeSelector and tolerations ----------------------------------------

ON_THE_REAL_NODE = {
    "nodeSelector": {"toolfleet.io/real-node": "true"},
    "tolerations": [{"key": "toolfleet.io/real-node", "operator": "Exists",
                     "effect": "NoSchedule"}],
}


def test_node_selector_and_tolerations_reach_the_pod_as_written() -> None:
    spec = pod(deployment(**ON_THE_REAL_NODE))
    assert spec["nodeSelector"] == {"toolfleet.io/real-node": "true"}
    assert spec["tolerations"] == ON_THE_REAL_NODE["tolerations"]


def test_unset_fields_of_a_toleration_stay_unset() -> None:
    spec = pod(deployment(tolerations=[{"key": "dedicated", "value": "tools",
                                        "effect": "NoExecute", "tolerationSeconds": 30}]))
    assert spec["tolerations"] == [{"key": "dedicated", "value": "tools", "effect": "NoExecute",
                                    "tolerationSeconds": 30}]


def test_a_gpu_services_placement_keeps_the_users_and_the_gpus_both() -> None:
    spec = pod(deployment(gpu={"products": ["NVIDIA-L4"]},
                          nodeSelector={"topology.kubernetes.io/zone": "eu-1a"},
                          tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    # Both must hold: the zone from the nodeSelector, the product from node affinity.
    assert spec["nodeSelector"] == {"topology.kubernetes.io/zone": "eu-1a"}
    assert spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"][0]["matchExpressions"][0]["key"] == "nvidia.com/gpu.product"
    assert spec["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Exists"}]


def test_the_gpu_toleration_written_again_by_the_user_appears_once() -> None:
    gpu_taint = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    spec = pod(deployment(gpu={}, tolerations=[gpu_taint]))
    assert spec["tolerations"] == [gpu_taint]


def test_placement_is_not_a_new_revision() -> None:
    # Moving pods to other nodes replaces them in place (a rolling update), not by a canary.
    assert revision_of(owner(**ON_THE_REAL_NODE).spec) == revision_of(owner().spec)


# -- metadata, selector, replicas ---------------------------------------------------

def test_labels_follow_app_kubernetes_io() -> None:
    dep = deployment(version="2.0.1")
    for labels in (dep["metadata"]["labels"], pod_template_labels(dep)):
        assert labels["app.kubernetes.io/name"] == "forecaster"
        assert labels["app.kubernetes.io/instance"] == "forecaster"
        assert labels["app.kubernetes.io/version"] == "2.0.1"
        assert labels["app.kubernetes.io/component"] == "tool-service"
        assert labels["app.kubernetes.io/managed-by"] == "toolfleet"


@PROPERTIES
@given(pre=st.from_regex(r"[0-9A-Za-z-]{1,30}(\.[0-9A-Za-z-]{1,30}){0,3}", fullmatch=True),
       build=st.from_regex(r"[0-9A-Za-z-]{1,20}", fullmatch=True) | st.just(""))
def test_the_version_label_is_a_valid_label_value_for_any_version(pre: str,
                                                                  build: str) -> None:
    version = f"10.20.30-{pre}" + (f"+{build}" if build else "")
    dep = deployment(version=version)
    for labels in (dep["metadata"]["labels"], pod_template_labels(dep)):
        value = labels["app.kubernetes.io/version"]
        assert len(value) <= 63 and LABEL_VALUE.match(value), value


def test_the_deployment_is_owned_by_its_toolservice() -> None:
    meta = deployment()["metadata"]
    assert (meta["name"], meta["namespace"]) == ("forecaster", "team-a")
    assert meta["ownerReferences"] == [{
        "apiVersion": "toolfleet.io/v1alpha1", "kind": "ToolService", "name": "forecaster",
        "uid": UID, "controller": True, "blockOwnerDeletion": True}]


def test_the_canary_is_a_second_deployment_beside_the_stable_one() -> None:
    stable, canary = deployment(Track.stable), deployment(Track.canary)
    assert canary["metadata"]["name"] == "forecaster-canary"
    assert stable["metadata"]["name"] == "forecaster"
    # Neither Deployment adopts the other's pods.
    assert not selects(stable["spec"]["selector"], pod_template_labels(canary))
    assert not selects(canary["spec"]["selector"], pod_template_labels(stable))


@PROPERTIES
@given(body=specs(), track=st.sampled_from([Track.stable, Track.canary]))
def test_the_selector_matches_the_pods_and_never_names_the_revision(body: dict[str, Any],
                                                                    track: str) -> None:
    svc = owner_of(ToolServiceSpec.model_validate(body))
    dep = build_deployment(svc, svc.spec, revision_of(svc.spec), track)
    selector = dep["spec"]["selector"]
    assert selects(selector, pod_template_labels(dep))
    assert REVISION_LABEL not in selector["matchLabels"]
    # A Deployment's selector is immutable: it must be the same for every spec.
    baseline = build_deployment(owner(), owner().spec, "0000000000", track)
    assert selector == baseline["spec"]["selector"]


def test_pods_carry_their_revision() -> None:
    dep = deployment(image="registry.example/x:9")
    revision = revision_of(ToolServiceSpec.model_validate(wire(image="registry.example/x:9")))
    assert pod_template_labels(dep)[REVISION_LABEL] == revision
    assert dep["metadata"]["labels"][REVISION_LABEL] == revision


def test_replicas_are_left_to_the_autoscaler_unless_given() -> None:
    assert "replicas" not in deployment()["spec"]
    assert deployment(replicas=0)["spec"]["replicas"] == 0
    assert deployment(replicas=3)["spec"]["replicas"] == 3


def test_a_rolling_update_never_drops_below_the_wanted_replicas() -> None:
    strategy = deployment()["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0
