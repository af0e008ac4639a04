"""hack/realnode/hoststate.py: what counts as left behind by a real node (no host needed)."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[3]
STATE = "/work/checkout/.cluster/realnode"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "hoststate", REPO / "hack" / "realnode" / "hoststate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hoststate = load()


def baseline() -> dict[str, Any]:
    return {
        "sysctls": {"net/ipv4/ip_forward": "0", "vm/overcommit_memory": "0"},
        "nft": {"ip filter": "table ip filter {\n}\n"},
        "ipsets": [],
        "links": {"lo": "", "eth0": ""},
        "mounts": ["/", "/proc", "/sys/fs/cgroup/memory"],
        "cgroups": ["memory/user.slice"],
        "paths": {"/run/containerd": False, "/var/lib/cni": False},
        "processes": {"1": "/sbin/init"},
    }


def test_the_same_state_differs_in_nothing() -> None:
    assert hoststate.differences(baseline(), baseline(), STATE) == []


def test_every_kind_of_change_a_node_makes_is_named() -> None:
    now = copy.deepcopy(baseline())
    now["sysctls"]["net/ipv4/ip_forward"] = "1"
    now["nft"]["ip kube-proxy"] = "table ip kube-proxy {\n}\n"
    now["nft"]["ip filter"] = "table ip filter {\n\tchain KUBE-ROUTER-INPUT {\n\t}\n}\n"
    now["ipsets"] = ["KUBE-SRC-ABC"]
    now["links"]["rn0"] = ""
    now["mounts"].append(f"{STATE}/kubelet")
    now["cgroups"].append("memory/kubepods")
    now["paths"]["/var/lib/cni"] = True
    now["processes"]["4242"] = f"containerd --config {STATE}/containerd/config.toml"

    assert hoststate.differences(baseline(), now, STATE) == [
        "sysctl net/ipv4/ip_forward: 1 (was 0)",
        "netfilter table ip filter: changed",
        "netfilter table ip kube-proxy: added",
        "ipset KUBE-SRC-ABC: added",
        "link rn0: added",
        f"mount {STATE}/kubelet: added",
        f"mount {STATE}/kubelet: left",
        "cgroup memory/kubepods: added",
        "path /var/lib/cni: added",
        f"process 4242: containerd --config {STATE}/containerd/config.toml",
    ]


def test_a_sysctl_this_kernel_lacks_now_is_not_a_change() -> None:
    now = copy.deepcopy(baseline())
    del now["sysctls"]["vm/overcommit_memory"]
    assert hoststate.differences(baseline(), now, STATE) == []
