#!/usr/bin/env bash
# A real node beside the kwok nodes of hack/cluster.sh: containerd and runc (Debian
# packages), a kubelet and kube-proxy (built like the control plane), the CNI bridge
# plugin, kube-router's firewall controller, which enforces NetworkPolicy, and
# CoreDNS, the cluster DNS (*.svc.cluster.local) pods are given.
#
#   hack/realnode.sh up       join a real node named `realnode` to the local cluster
#                             (starting it with TOOLFLEET_REAL_NODE=1 when it is not up)
#   hack/realnode.sh down     stop it and undo everything it changed on the host
#   hack/realnode.sh status   say whether it is up
#   hack/realnode.sh import ARCHIVE NAME   load an OCI archive into its containerd as NAME
#   hack/realnode.sh check    exit 77, saying why, when this machine cannot run one
#   hack/realnode.sh node-ip  the address the node registers (and the API server advertises)
#
# The node is for CPU pods: it carries the label and the NoSchedule taint
# toolfleet.io/real-node=true, so only pods that ask for it (a nodeSelector and a
# toleration) run real containers, and every other pod keeps landing on kwok nodes.
#
# A real node changes the host: a bridge (rn0), netfilter rules and ipsets,
# sysctls, cgroups, mounts under its state dir. `up` records that state first
# (hack/realnode/hoststate.py) and `down` restores it, then checks that nothing
# differs. One real node per machine (the bridge, the pod range and kube-proxy's
# rules are global): a lock names the checkout that has it. The address ranges,
# shared with hack/cluster.sh, are in hack/network.env.
#
# Exit codes: 0 done, 1 failed, 77 this machine cannot run a real node (the message says why).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=network.env
source "$repo/hack/network.env"
dir=${TOOLFLEET_CLUSTER_DIR:-$repo/.cluster}
state="$dir/realnode"
cache=${TOOLFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolfleet}
node=realnode
pod_cidr=$REAL_NODE_POD_CIDR
bridge=rn0
# The bridge's own address (the pod range's first), the pods' gateway: CoreDNS listens
# there, so that it is reachable from pods and the host only (never an open resolver
# on the host's network).
bridge_ip=$(python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' "$pod_cidr")
cluster_domain=cluster.local
lock=/run/lock/toolfleet-realnode
sock="$state/containerd/containerd.sock"
baseline="$state/host-baseline.json"
hoststate=("python3" "$repo/hack/realnode/hoststate.py")
components=(coredns kube-router kube-proxy kubelet containerd)  # stop order
SKIP=77

log() { printf 'realnode: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
skip() { log "cannot run a real node here: $*"; exit $SKIP; }

alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
pid_alive() { [ -f "$state/pids/$1" ] && alive "$(cat "$state/pids/$1")"; }

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# node_ip: the host's address on its default route; the kubelet registers it, and
# the API server advertises it (pods reach the API through the kubernetes Service).
node_ip() {
  ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'
}

# check: what a real node needs from the machine, each missing one a clear skip.
check() {
  [ "$(id -u)" = 0 ] || skip "needs root (containerd, a bridge, netfilter rules, cgroups)"
  [ "$(uname -s)" = Linux ] || skip "needs Linux"
  grep -qw overlay /proc/filesystems || skip "the kernel has no overlay filesystem (containerd's snapshotter)"
  [ -d /sys/fs/cgroup ] || skip "no cgroup filesystem at /sys/fs/cgroup"
  [ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] \
    || skip "the kernel has no bridge netfilter (br_netfilter): pod-to-Service traffic on one bridge would not return"
  "$repo/hack/deps.sh" --real-node || skip "the packages above are missing and cannot be installed"
  nft list tables >/dev/null 2>&1 || skip "the kernel has no nf_tables (kube-proxy and kube-router program it)"
  ipset list -n >/dev/null 2>&1 || skip "the kernel has no ip_set (kube-router's NetworkPolicy sets)"
  [ -n "$(node_ip)" ] || skip "no IPv4 default route: the node needs an address pods can reach the API at"
  command -v go >/dev/null || "$repo/hack/binaries.sh" --check --real-node >/dev/null 2>&1 \
    || skip "Go is needed to build the kubelet, kube-proxy and kube-router"
}

# The lock file names the state dir of the node that has it, from `up` to the end
# of `down`. flock makes only the check-and-take atomic, and is let go at once:
# a held flock would be inherited by the node's processes. A lock whose owner has
# no recorded host state is stale. An owner none of whose processes still run (its
# checkout was killed, or the machine restarted) is taken over: its host changes
# are undone first, from its own record, as its `down` would.
take_lock() {
  mkdir -p "$(dirname "$lock")"
  exec 9<>"$lock"
  flock 9
  local owner
  owner=$(cat "$lock")
  if [ -n "$owner" ] && [ "$owner" != "$state" ] && [ -f "$owner/host-baseline.json" ]; then
    if owner_running "$owner"; then
      exec 9>&-
      die "one real node per machine, and $owner has it: run hack/realnode.sh down there (TOOLFLEET_CLUSTER_DIR=$(dirname "$owner"))"
    fi
    exec 9>&-
    log "the real node of $owner left the lock but none of its processes run: undoing its host changes"
    TOOLFLEET_CLUSTER_DIR=$(dirname "$owner") "$0" down \
      || die "could not undo $owner's host changes; run TOOLFLEET_CLUSTER_DIR=$(dirname "$owner") $0 down"
    take_lock
    return
  fi
  echo "$state" > "$lock"
  exec 9>&-
}

owner_running() { # owner_running STATE_DIR: any of that node's recorded processes alive
  local f
  # An `up` records the host before it starts a process: a fresh record is a node starting.
  [ -n "$(find "$1/host-baseline.json" -newermt '-2 minutes' 2>/dev/null)" ] && return 0
  for f in "$1"/pids/*; do
    [ -f "$f" ] && alive "$(cat "$f")" && return 0
  done
  return 1
}

release_lock() {
  [ -f "$lock" ] && [ "$(cat "$lock")" = "$state" ] && rm -f "$lock"
  return 0
}

start() { # start NAME ARGS...: its own process group, so that stop ends the group
  local name=$1
  shift
  setsid "$@" >"$state/logs/$name.log" 2>&1 < /dev/null 9>&- &
  echo $! > "$state/pids/$name"
}

stop() { # stop NAME: TERM, then KILL what is left after 10 s (an apiserver-like hang is known)
  local name=$1 pid
  [ -f "$state/pids/$name" ] || return 0
  pid=$(cat "$state/pids/$name")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$state/pids/$name"
}

sign() { # sign NAME SUBJECT: a client certificate from the cluster's CA
  local pki="$dir/pki"
  [ -f "$state/pki/$1.crt" ] && return 0
  openssl req -newkey rsa:2048 -nodes -keyout "$state/pki/$1.key" -out "$state/pki/$1.csr" \
    -subj "$2" 2>/dev/null
  openssl x509 -req -in "$state/pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" \
    -CAcreateserial -days 3650 -out "$state/pki/$1.crt" \
    -extfile <(printf 'extendedKeyUsage=clientAuth\n') 2>/dev/null
  rm -f "$state/pki/$1.csr"
}

kubeconfig() { # kubeconfig USER: a kubeconfig for USER's certificate
  cat > "$state/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: toolfleet-local
  cluster: {server: "https://127.0.0.1:$API_PORT", certificate-authority: "$dir/pki/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$state/pki/$1.crt", client-key: "$state/pki/$1.key"}
contexts:
- name: toolfleet-local
  context: {cluster: toolfleet-local, user: $1}
current-context: toolfleet-local
EOF
}

# pause_image: the sandbox image, built from hack/realnode/pause.go and packed with
# umoci; cached by the source's hash.
pause_image() {
  local src="$repo/hack/realnode/pause.go" key out work
  key=$(sha256sum "$src" | cut -c1-16)
  out="$cache/realnode/pause-$key.oci.tar"
  if [ ! -f "$out" ]; then
    log "building the pause image"
    work=$(mktemp -d)
    mkdir -p "$cache/realnode"
    (cd "$work" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
      go build -trimpath -ldflags '-s -w' -o pause "$src")
    umoci init --layout "$work/layout" >/dev/null
    umoci new --image "$work/layout:v1" >/dev/null
    umoci unpack --image "$work/layout:v1" "$work/bundle" >/dev/null
    install -m 0755 "$work/pause" "$work/bundle/rootfs/pause"
    umoci repack --image "$work/layout:v1" "$work/bundle" >/dev/null
    umoci config --image "$work/layout:v1" --config.entrypoint /pause \
      --config.user 65535:65535 >/dev/null
    umoci gc --layout "$work/layout" >/dev/null
    tar -C "$work/layout" -cf "$out.tmp" . && mv "$out.tmp" "$out"
    rm -rf "$work"
  fi
  echo "$out"
}

ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }

# import ARCHIVE NAME: NAME is repository:tag; the archive's index names the tag only
# (umoci and `make images` write it so), and --base-name adds the repository.
# normalized NAME: the image reference as the kubelet looks it up. A name without a
# registry domain (no "." or ":" in its first part, and not localhost) gets the
# reference grammar's default domain and, with one part only, its library/ path.
normalized() {
  local name=$1 first=${1%%/*}
  if [[ $name != */* ]]; then name="library/$name"; first=library; fi
  if [[ $first != *.* && $first != *:* && $first != localhost ]]; then
    name="docker.io/$name"
  fi
  echo "$name"
}

import_image() {
  local archive=$1 name want
  name=$(normalized "$2")
  # Already there with the archive's manifest: nothing to do (an import costs seconds).
  want=$({ tar -xOf "$archive" index.json 2>/dev/null || tar -xOf "$archive" ./index.json; } | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["digest"])')
  # Listings are read whole before matching: with pipefail, a `grep -q` that stops
  # early can fail the pipeline through the lister's SIGPIPE.
  local have
  have=$(ctr_ images ls "name==$name" | awk 'NR > 1 {print $3}')
  if grep -qxF "$want" <<<"$have"; then return 0; fi
  # Unpacked on first use: the CRI plugin unpacks an image when a container needs it,
  # so `up` does not spend tens of seconds unpacking images no pod may run.
  ctr_ images import --no-unpack --base-name "${name%:*}" "$archive" >/dev/null
  have=$(ctr_ images ls -q)
  grep -qxF "$name" <<<"$have" || die "importing $archive did not give $name"
}

# The images `make images` built for this checkout: build/images/*.oci.tar, each
# beside NAME.ref holding the image name the chart and the manifests use.
import_built_images() {
  local archive
  for archive in "$repo"/build/images/*.oci.tar; do
    [ -f "$archive" ] || continue
    import_image "$archive" "$(cat "${archive%.oci.tar}.ref")"
    log "imported $(cat "${archive%.oci.tar}.ref")"
  done
}

write_configs() {
  mkdir -p "$state/containerd" "$state/cni/net.d" "$state/cni/ipam" "$state/pod-logs" "$state/kubelet"
  cat > "$state/containerd/config.toml" <<EOF
# containerd for the real node only: its own root, state, socket and runc root.
version = 2
root = "$state/containerd/root"
state = "$state/containerd/state"
oom_score = 0
# /opt/containerd is the opt plugin's; the other snapshotters are unused here.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/realnode/pause:v1"
  # Root lacks CAP_SYS_RESOURCE on this kind of VM, so nothing may lower
  # oom_score_adj; without the clamp every sandbox fails in runc's nsexec.
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$state/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$state/runc"
EOF
  cat > "$state/cni/net.d/10-realnode.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "realnode",
  "plugins": [
    {"type": "bridge", "bridge": "$bridge", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$state/cni/ipam",
              "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat > "$state/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$dir/pki/ca.crt"}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
# This kind of VM runs cgroup v1 (hybrid); kubelet 1.31+ refuses it unless told.
failCgroupV1: false
containerRuntimeEndpoint: unix://$sock
podLogsDirectory: "$state/pod-logs"
resolvConf: /etc/resolv.conf
clusterDNS: [$bridge_ip]
clusterDomain: $cluster_domain
# A shared development VM: evict only when truly out of room.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
# No registry can give an image back once collected: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 50
EOF
  cat > "$state/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$state/kube-proxy.kubeconfig"}
hostnameOverride: $node
# nftables: its rules live in tables of its own (ip/ip6 kube-proxy), which down removes whole.
mode: nftables
clusterCIDR: $pod_cidr
healthzBindAddress: 127.0.0.1:$PROXY_HEALTHZ_PORT
metricsBindAddress: 127.0.0.1:$PROXY_METRICS_PORT
# Zeros leave the host's conntrack sysctls as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# kube-router reads pods, namespaces, nodes and NetworkPolicies; nothing more.
kube_router_rbac() {
  "$bin/kubectl" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "toolfleet:kube-router"}
rules:
- apiGroups: [""]
  resources: [namespaces, pods, services, nodes, endpoints]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "toolfleet:kube-router"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "toolfleet:kube-router"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "toolfleet:kube-router"}
EOF
}

# CoreDNS answers the cluster's names from the API (kubernetes plugin) and forwards
# the rest to the host's resolvers.
write_corefile() {
  cat > "$state/Corefile" <<EOF
.:53 {
  bind $bridge_ip
  errors
  health 127.0.0.1:$DNS_HEALTH_PORT
  ready 127.0.0.1:$DNS_READY_PORT
  kubernetes $cluster_domain in-addr.arpa ip6.arpa {
    kubeconfig $state/coredns.kubeconfig toolfleet-local
    pods insecure
    fallthrough in-addr.arpa ip6.arpa
  }
  forward . /etc/resolv.conf
  cache 30
  loop
}
EOF
}

# The bridge, made before any pod so that CoreDNS can listen on its address; the CNI
# bridge plugin takes it as it finds it. `down` removes it (hack/realnode/hoststate.py).
make_bridge() {
  ip link show "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge
  ip -4 addr show dev "$bridge" | grep -qF " $bridge_ip/" \
    || ip addr add "$bridge_ip/${pod_cidr#*/}" dev "$bridge"
  ip link set "$bridge" up
}

# CoreDNS reads Services, EndpointSlices, namespaces and pods; nothing more.
coredns_rbac() {
  "$bin/kubectl" --kubeconfig "$dir/kubeconfig" apply -f - >/dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "toolfleet:coredns"}
rules:
- apiGroups: [""]
  resources: [services, namespaces, pods]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "toolfleet:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "toolfleet:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "toolfleet:coredns"}
EOF
}

node_ready() {
  [ "$("$bin/kubectl" --kubeconfig "$dir/kubeconfig" get node "$node" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

up() {
  check
  if ! "$repo/hack/cluster.sh" status >/dev/null 2>&1; then
    # cluster.sh starts the API server for a real node, then comes back here.
    TOOLFLEET_REAL_NODE=1 exec "$repo/hack/cluster.sh" up
  fi
  [ -f "$dir/real-node.env" ] || die "the cluster in $dir was started without the real node's API server flags: run hack/cluster.sh down, then TOOLFLEET_REAL_NODE=1 hack/cluster.sh up"
  # shellcheck disable=SC1091
  source "$dir/ports.env"
  # shellcheck disable=SC1091
  source "$dir/real-node.env"
  bin=$("$repo/hack/binaries.sh" --real-node) || die "the real node's binaries are missing (hack/binaries.sh --real-node)"
  if status >/dev/null 2>&1; then
    import_built_images
    log "already up"
    return 0
  fi
  take_lock
  local started=$SECONDS ip
  ip=$(node_ip)
  [ "$ip" = "$REAL_NODE_IP" ] || die "the node address changed ($REAL_NODE_IP -> $ip): restart the cluster"
  mkdir -p "$state/pids" "$state/logs" "$state/pki"
  # A baseline that exists is from an `up` that was not followed by `down`: the host
  # may already be changed, so the older record is the true one.
  [ -f "$baseline" ] || "${hoststate[@]}" record "$baseline" "$state"
  for c in "${components[@]}"; do stop "$c"; done

  sign kubelet "/O=system:nodes/CN=system:node:$node"
  sign kube-proxy "/CN=system:kube-proxy"
  sign kube-router "/CN=toolfleet:kube-router"
  sign coredns "/CN=toolfleet:coredns"
  for u in kubelet kube-proxy kube-router coredns; do kubeconfig "$u"; done
  {
    echo "KUBELET_PORT=$(free_port)"; echo "KUBELET_HEALTHZ_PORT=$(free_port)"
    echo "PROXY_HEALTHZ_PORT=$(free_port)"; echo "PROXY_METRICS_PORT=$(free_port)"
    echo "ROUTER_HEALTH_PORT=$(free_port)"; echo "ROUTER_METRICS_PORT=$(free_port)"
    echo "DNS_HEALTH_PORT=$(free_port)"; echo "DNS_READY_PORT=$(free_port)"
  } > "$state/ports.env"
  # shellcheck disable=SC1091
  source "$state/ports.env"
  write_configs
  write_corefile
  make_bridge
  local pause
  pause=$(pause_image)

  start containerd containerd --config "$state/containerd/config.toml"
  wait_for 30 containerd ctr --address "$sock" version
  import_image "$pause" localhost/realnode/pause:v1
  import_built_images

  start kubelet "$bin/kubelet" \
    --config "$state/kubelet.yaml" \
    --kubeconfig "$state/kubelet.kubeconfig" \
    --root-dir "$state/kubelet" \
    --hostname-override "$node" --node-ip "$ip" \
    --node-labels "toolfleet.io/real-node=true" \
    --register-with-taints "toolfleet.io/real-node=true:NoSchedule"
  wait_for 90 "node $node to be Ready" node_ready || die "see $state/logs/kubelet.log"

  start kube-proxy "$bin/kube-proxy" --config "$state/kube-proxy.yaml"
  kube_router_rbac
  start kube-router "$bin/kube-router" \
    --kubeconfig "$state/kube-router.kubeconfig" \
    --hostname-override "$node" \
    --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --health-port "$ROUTER_HEALTH_PORT" --metrics-port "$ROUTER_METRICS_PORT"
  wait_for 30 kube-proxy curl -fsS "http://127.0.0.1:$PROXY_HEALTHZ_PORT/healthz" \
    || die "see $state/logs/kube-proxy.log"
  wait_for 30 kube-router curl -fsS "http://127.0.0.1:$ROUTER_HEALTH_PORT/healthz" \
    || die "see $state/logs/kube-router.log"
  coredns_rbac
  start coredns "$bin/coredns" -conf "$state/Corefile"
  wait_for 30 CoreDNS curl -fsS "http://127.0.0.1:$DNS_READY_PORT/ready" \
    || die "see $state/logs/coredns.log"
  log "up in $((SECONDS - started))s: node $node ($ip), pods in $pod_cidr, DNS at $bridge_ip"
}

# kill_pods: every container of the node, before containerd stops (its shims and
# the containers would outlive it otherwise). Tasks first, then whatever is still
# in the node's cgroups, then the shims that named this containerd.
kill_pods() {
  local id pid
  if pid_alive containerd; then
    for id in $(timeout 10 ctr --address "$sock" --namespace k8s.io tasks ls -q 2>/dev/null); do
      timeout 10 ctr_ tasks kill --signal SIGKILL "$id" >/dev/null 2>&1 || true
    done
  fi
  for pid in $(cat /sys/fs/cgroup/*/kubepods/cgroup.procs /sys/fs/cgroup/*/kubepods/*/cgroup.procs \
                   /sys/fs/cgroup/*/kubepods/*/*/cgroup.procs /sys/fs/cgroup/*/kubepods/*/*/*/cgroup.procs \
                   2>/dev/null | sort -u); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in $(pgrep -f -- "-address $sock" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
}

down() {
  if [ ! -f "$baseline" ] && [ -z "$(ls -A "$state/pids" 2>/dev/null)" ]; then
    log "not running"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then die "needs root to undo the host changes"; fi
  take_lock
  local started=$SECONDS
  stop coredns
  stop kube-router
  stop kube-proxy
  stop kubelet
  kill_pods
  stop containerd
  kill_pods
  if [ -f "$baseline" ]; then
    "${hoststate[@]}" restore "$baseline" "$state"
    local left
    if ! left=$("${hoststate[@]}" diff "$baseline" "$state"); then
      log "the host still differs from before up:"
      printf '  %s\n' "$left" >&2
      die "left as it is (the lock too) for a look; $state/host-baseline.json is the record"
    fi
    mv "$baseline" "$state/last-host-baseline.json"
  fi
  # Everything but the logs and the last baseline; no mount is left under it now.
  find "$state" -mindepth 1 -maxdepth 1 ! -name logs ! -name last-host-baseline.json \
    -exec rm -rf {} +
  release_lock
  log "down in $((SECONDS - started))s"
}

status() {
  local c
  for c in containerd kubelet kube-proxy kube-router coredns; do
    pid_alive "$c" || { echo "down"; return 1; }
  done
  bin=${bin:-$("$repo/hack/binaries.sh" --check --real-node)}
  node_ready || { echo "down: node $node is not Ready"; return 1; }
  echo "up: node $node (containerd at $sock)"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  check) check; echo "this machine can run a real node" ;;
  node-ip) node_ip ;;
  import)
    [ $# -eq 3 ] || { echo "usage: $0 import ARCHIVE NAME" >&2; exit 2; }
    pid_alive containerd || die "the real node is not up"
    import_image "$2" "$3" ;;
  *) echo "usage: $0 up|down|status|check|node-ip|import ARCHIVE NAME" >&2; exit 2 ;;
esac
