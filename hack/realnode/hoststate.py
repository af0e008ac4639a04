#!/usr/bin/env python3
"""The host state a real node changes: recorded before `up`, restored at `down`, compared after.

    hoststate.py record BASELINE.json STATE_DIR    write the state as it is now
    hoststate.py restore BASELINE.json STATE_DIR   undo what changed since the record
    hoststate.py diff BASELINE.json STATE_DIR      print what differs; exit 1 if anything does

What a kubelet, containerd, the CNI bridge plugin, kube-proxy and kube-router
change on a host, per the checks behind hack/realnode.sh: sysctls, netfilter
tables, ipsets, network links, mounts, cgroups, a few well-known directories,
and processes. Restoring is exact for what they create (a table, set, link,
cgroup or directory that did not exist is removed) and conservative for what
existed before: a netfilter table that existed is put back as recorded, and a
sysctl gets its recorded value back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Sysctls the components write (kubelet: vm/kernel; bridge plugin and kube-proxy:
# forwarding and route_localnet; kube-proxy: conntrack limits), and the bridge
# netfilter switches the Service path depends on.
SYSCTLS = [
    "vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv4/conf/default/forwarding",
    "net/ipv4/conf/all/route_localnet", "net/ipv4/conf/all/rp_filter",
    "net/ipv6/conf/all/forwarding", "net/ipv6/conf/default/forwarding",
    "net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables",
    "net/netfilter/nf_conntrack_max", "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "net/netfilter/nf_conntrack_tcp_be_liberal",
]
# Directories the components create outside the state dir when they do not exist.
HOST_PATHS = [
    "/run/containerd", "/var/lib/cni", "/etc/cni", "/opt/cni", "/run/netns", "/var/run/netns",
    "/var/lib/kubelet", "/var/log/pods", "/var/log/containers", "/etc/kubernetes",
    "/var/lib/kube-router", "/run/runc", "/run/xtables.lock", "/run/kube-router",
    # libmount's utab directory, made by the kubelet's first mount.
    "/run/mount",
]
# Links a node creates (the CNI bridge; kube-router's, should it be asked for more than
# the firewall); the veths enslaved to a new bridge go with it.
NODE_LINKS = ("rn0", "kube-bridge", "kube-dummy-if", "kube-ipvs0")
# The executables whose processes belong to a node.
NODE_PROGRAMS = {"kubelet", "containerd", "kube-proxy", "kube-router", "containerd-shim-runc-v2",
                 "runc", "pause", "coredns"}
CGROUP_ROOT = Path("/sys/fs/cgroup")


def read_sysctls() -> dict[str, str]:
    """The SYSCTLS that exist on this kernel, with their values."""
    values = {}
    for key in SYSCTLS:
        path = Path("/proc/sys") / key
        if path.exists():
            values[key] = path.read_text().strip()
    return values


def nft_tables() -> dict[str, str]:
    """Every netfilter table as `family name` -> its ruleset text (empty without nft)."""
    if not shutil.which("nft"):
        return {}
    listing = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    tables = {}
    for line in listing.stdout.splitlines():
        _, family, name = line.split()
        text = subprocess.run(["nft", "list", "table", family, name],
                              capture_output=True, text=True, check=True).stdout
        tables[f"{family} {name}"] = text
    return tables


def ipsets() -> list[str]:
    """The names of the ipsets (empty without the ipset tool)."""
    if not shutil.which("ipset"):
        return []
    out = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def links() -> dict[str, str]:
    """Network links by name -> the bridge they are enslaved to ('' when none)."""
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True)
    return {link["ifname"]: link.get("master", "") for link in json.loads(out.stdout)}


def mounts() -> list[str]:
    """Every mount point, in mount order."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        points.append(point)
    return points


def cgroups() -> list[str]:
    """Top-level cgroups of every hierarchy, as `hierarchy/name`."""
    found = []
    if not CGROUP_ROOT.is_dir():
        return found
    for hierarchy in sorted(CGROUP_ROOT.iterdir()):
        if not hierarchy.is_dir():
            continue
        for child in sorted(hierarchy.iterdir()):
            if child.is_dir() and not child.is_symlink():
                found.append(f"{hierarchy.name}/{child.name}")
    return found


def node_processes(state_dir: str) -> dict[str, str]:
    """Processes of a node: a NODE_PROGRAMS executable, or any command naming STATE_DIR."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        command = " ".join(a.decode(errors="replace") for a in argv if a)
        if not command:
            continue
        if os.path.basename(argv[0].decode(errors="replace")) in NODE_PROGRAMS \
                or comm in NODE_PROGRAMS or state_dir in command:
            found[proc.name] = command
    return found


def record(state_dir: str) -> dict[str, Any]:
    """The host state now."""
    return {
        "sysctls": read_sysctls(),
        "nft": nft_tables(),
        "ipsets": ipsets(),
        "links": links(),
        "mounts": mounts(),
        "cgroups": cgroups(),
        "paths": {p: os.path.lexists(p) for p in HOST_PATHS},
        "processes": node_processes(state_dir),
    }


def differences(before: dict[str, Any], now: dict[str, Any], state_dir: str) -> list[str]:
    """What differs between two records, one line each, saying how."""
    diffs = []
    for key, value in before["sysctls"].items():
        if now["sysctls"].get(key, value) != value:
            diffs.append(f"sysctl {key}: {now['sysctls'][key]} (was {value})")
    for table in sorted(set(now["nft"]) | set(before["nft"])):
        if table not in before["nft"]:
            diffs.append(f"netfilter table {table}: added")
        elif table not in now["nft"]:
            diffs.append(f"netfilter table {table}: removed")
        elif now["nft"][table] != before["nft"][table]:
            diffs.append(f"netfilter table {table}: changed")
    diffs += [f"ipset {s}: added" for s in sorted(set(now["ipsets"]) - set(before["ipsets"]))]
    diffs += [f"link {name}: added" for name in sorted(set(now["links"]) - set(before["links"]))]
    diffs += [f"mount {m}: added" for m in now["mounts"] if m not in before["mounts"]]
    diffs += [f"mount {m}: left" for m in now["mounts"] if m.startswith(state_dir + "/")]
    diffs += [f"cgroup {c}: added" for c in sorted(set(now["cgroups"]) - set(before["cgroups"]))]
    diffs += [f"path {p}: added" for p, exists in now["paths"].items()
              if exists and not before["paths"].get(p, False)]
    diffs += [f"process {pid}: {cmd}" for pid, cmd in sorted(now["processes"].items())
              if pid not in before["processes"]]
    return diffs


def run(*argv: str) -> None:
    """Run a command; failures are reported, not raised, so restoring goes on."""
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"hoststate: {' '.join(argv)}: {proc.stderr.strip()}", file=sys.stderr)


def restore(before: dict[str, Any], state_dir: str) -> None:
    """Undo what changed since BEFORE, in dependency order (mounts, links, rules, sets, ...)."""
    _restore_mounts(before, state_dir)
    _restore_links(before)
    _restore_nft(before)
    for name in set(ipsets()) - set(before["ipsets"]):
        run("ipset", "destroy", name)
    _restore_sysctls(before)
    for name in sorted(set(cgroups()) - set(before["cgroups"])):
        remove_cgroup(CGROUP_ROOT / name)
    _remove_new_paths(before)


def _restore_mounts(before: dict[str, Any], state_dir: str) -> None:
    # Deepest first, so that a mount over a mount comes off before its parent.
    for point in sorted({m for m in mounts() if m.startswith(state_dir + "/")
                         or (m not in before["mounts"] and m.startswith(("/run/netns/",
                                                                          "/var/run/netns/",
                                                                          "/run/containerd/")))},
                        key=lambda m: m.count("/"), reverse=True):
        run("umount", "--lazy", point)


def _restore_links(before: dict[str, Any]) -> None:
    now_links = links()
    for name, master in now_links.items():
        if name not in before["links"] and master in now_links and master not in before["links"]:
            run("ip", "link", "delete", name)
    for name in links():
        if name not in before["links"] and name.startswith(NODE_LINKS):
            run("ip", "link", "delete", name)


def _restore_nft(before: dict[str, Any]) -> None:
    now_tables = nft_tables()
    for table, text in now_tables.items():
        if table not in before["nft"]:
            run("nft", "delete", "table", *table.split())
        elif text != before["nft"][table]:
            run("nft", "delete", "table", *table.split())
            subprocess.run(["nft", "-f", "-"], input=before["nft"][table], text=True, check=False)
    for table, text in before["nft"].items():
        if table not in now_tables:
            subprocess.run(["nft", "-f", "-"], input=text, text=True, check=False)


def _restore_sysctls(before: dict[str, Any]) -> None:
    for key, value in before["sysctls"].items():
        path = Path("/proc/sys") / key
        if path.exists() and path.read_text().strip() != value:
            try:
                path.write_text(value + "\n")
            except OSError as error:
                print(f"hoststate: sysctl {key}={value}: {error}", file=sys.stderr)


def _remove_new_paths(before: dict[str, Any]) -> None:
    for path, existed in before["paths"].items():
        if not existed and os.path.lexists(path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def remove_cgroup(path: Path) -> None:
    """rmdir a cgroup and its children, deepest first (cgroupfs allows only rmdir)."""
    for child in sorted((p for p in path.rglob("*") if p.is_dir()),
                        key=lambda p: len(p.parts), reverse=True):
        try:
            child.rmdir()
        except OSError as error:
            print(f"hoststate: rmdir {child}: {error}", file=sys.stderr)
    try:
        path.rmdir()
    except OSError as error:
        print(f"hoststate: rmdir {path}: {error}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """Entry point: record, restore or diff."""
    if len(argv) != 4 or argv[1] not in ("record", "restore", "diff"):
        print(__doc__, file=sys.stderr)
        return 2
    action, baseline, state_dir = argv[1], Path(argv[2]), os.path.realpath(argv[3])
    if action == "record":
        baseline.write_text(json.dumps(record(state_dir), indent=1, sort_keys=True))
        return 0
    before = json.loads(baseline.read_text())
    if action == "restore":
        restore(before, state_dir)
        return 0
    diffs = differences(before, record(state_dir), state_dir)
    for line in diffs:
        print(line)
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
