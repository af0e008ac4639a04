#!/usr/bin/env bash
# A real Kubernetes control plane as local processes, for development, the demo
# and the e2e tests: etcd, kube-apiserver (secure serving, RBAC, the default
# admission chain, service-account signing), kube-controller-manager (garbage
# collector, Deployment/ReplicaSet, HPA, ...), kube-scheduler and kwok, which
# keeps the fake nodes of hack/nodes.yaml Ready and runs scheduled pods.
#
#   hack/cluster.sh up       start (or find running) and wait until nodes are Ready
#   hack/cluster.sh down     stop everything it started, free every port, remove state
#   hack/cluster.sh status   say whether it is up, and where
#   hack/cluster.sh env      print `export KUBECONFIG=...` for eval
#
# State lives in $TOOLFLEET_CLUSTER_DIR (default: .cluster/ in this checkout),
# ports are picked free at `up`, so two checkouts run two clusters side by side.
#
# TOOLFLEET_REAL_NODE=1 hack/cluster.sh up also joins a real node (hack/realnode.sh:
# kubelet, containerd, kube-proxy, kube-router) where the machine allows it, and
# says why not where it does not. The API server then listens on the host's
# address too, so that pods reach it through the kubernetes Service, and may call
# the kubelet. `down` takes the real node down first and undoes its host changes.
#
# TOOLFLEET_SCALE_NODES=N adds N fake CPU nodes (scale-0 ... scale-N-1, label
# toolfleet.io/node-pool=scale) for fleets and benchmarks, each taking
# TOOLFLEET_SCALE_NODE_PODS pods (default 110, the kubelet's default). On a cluster
# that is up, `up` with it set resizes the pool to N (0 removes it); unset, `up`
# leaves the pool as it is. The address ranges are in hack/network.env.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=network.env
source "$repo/hack/network.env"
dir=${TOOLFLEET_CLUSTER_DIR:-$repo/.cluster}
kubeconfig="$dir/kubeconfig"
# Written at `up` when a real node joins: REAL_NODE_IP, the address the API server advertises.
real_node_env="$dir/real-node.env"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf 'cluster: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# alive PID: running, and not a zombie (orphans may wait to be reaped for a while).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }

pid_alive() { [ -f "$dir/pids/$1" ] && alive "$(cat "$dir/pids/$1")"; }

is_up() {
  [ -f "$dir/ports.env" ] || return 1
  local c
  for c in "${components[@]}"; do pid_alive "$c" || return 1; done
  "$bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1
}

wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS - start < limit )) || { log "timed out after ${limit}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

signed() { # signed NAME SUBJECT EXTFILE, in the pki dir
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -out "$1.crt" ${3:+-extfile "$3"} 2>/dev/null
  rm -f "$1.csr"
}

# The kubernetes Service's ClusterIP: the first address of the Service range.
kubernetes_service_ip() {
  python3 -c 'import ipaddress, sys; print(next(ipaddress.ip_network(sys.argv[1]).hosts()))' \
    "$SERVICE_CIDR"
}

apiserver_cert() { # apiserver_cert [IP]: the serving certificate, valid for IP too when given
  # Pods reach the API server at the kubernetes Service's ClusterIP, by that address.
  cat > apiserver.ext <<EOF
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$(kubernetes_service_ip)${1:+,IP:$1}
extendedKeyUsage=serverAuth
EOF
  signed apiserver "/CN=kube-apiserver" apiserver.ext
}

names_ip() { # names_ip IP: whether the serving certificate (in the pki dir) names IP
  openssl x509 -in apiserver.crt -noout -ext subjectAltName \
    | grep -qE "IP Address:$1(,|\$)"
}

real_node_certs() { # what a real node needs: the host's address in the serving
  # certificate (pods reach the API there) and a client certificate to call kubelets.
  names_ip "$REAL_NODE_IP" || apiserver_cert "$REAL_NODE_IP"
  [ -f apiserver-kubelet-client.crt ] \
    || signed apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" client.ext
}

certs() {
  local pki="$dir/pki"
  mkdir -p "$pki"
  if [ -f "$pki/ca.crt" ]; then
    # Kept from an earlier `up`: renewed when the Service range has moved since.
    (cd "$pki" && { names_ip "$(kubernetes_service_ip)" || apiserver_cert; })
    if [ -n "${REAL_NODE_IP:-}" ]; then (cd "$pki" && real_node_certs); fi
    return 0
  fi
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout ca.key -out ca.crt \
      -subj "/CN=toolfleet-local-ca" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    apiserver_cert
    if [ -n "${REAL_NODE_IP:-}" ]; then real_node_certs; fi
    signed admin "/O=system:masters/CN=toolfleet-admin" client.ext
    signed controller-manager "/CN=system:kube-controller-manager" client.ext
    signed scheduler "/CN=system:kube-scheduler" client.ext
    signed kwok "/O=system:masters/CN=kwok" client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

write_kubeconfig() { # write_kubeconfig FILE USER
  local file=$1 user=$2
  cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: toolfleet-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $dir/pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $dir/pki/$user.crt
    client-key: $dir/pki/$user.key
contexts:
- name: toolfleet-local
  context: {cluster: toolfleet-local, user: $user, namespace: default}
current-context: toolfleet-local
EOF
}

start() { # start NAME ARGS...
  local name=$1
  shift
  # setsid: the process outlives the shell that started it (make, pytest), and
  # `down` can end its whole group.
  setsid "$bin/$name" "$@" >"$dir/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$dir/pids/$name"
}

up() {
  # A typo stops here, before anything starts.
  whole_number TOOLFLEET_SCALE_NODES "${TOOLFLEET_SCALE_NODES:-0}" >/dev/null
  whole_number TOOLFLEET_SCALE_NODE_PODS "${TOOLFLEET_SCALE_NODE_PODS:-110}" >/dev/null
  if is_up; then
    log "already up: KUBECONFIG=$kubeconfig"
    if [ -n "${TOOLFLEET_SCALE_NODES:-}" ]; then
      scale_nodes "$TOOLFLEET_SCALE_NODES"
      wait_for 60 "all nodes Ready" all_nodes_ready
    fi
    if [ "${TOOLFLEET_REAL_NODE:-0}" = 1 ]; then
      if [ -f "$real_node_env" ]; then
        "$repo/hack/realnode.sh" up
      else
        log "it runs without a real node: hack/cluster.sh down first to start one with it"
      fi
    fi
    return 0
  fi
  [ -d "$dir/pids" ] && down_quiet
  mkdir -p "$dir/logs" "$dir/pids" "$dir/etcd"
  local api_address=(--bind-address 127.0.0.1 --advertise-address 127.0.0.1)
  REAL_NODE_IP=""
  if [ "${TOOLFLEET_REAL_NODE:-0}" = 1 ]; then
    if "$repo/hack/realnode.sh" check >&2; then
      REAL_NODE_IP=$("$repo/hack/realnode.sh" node-ip)
      # Pods reach the API server through the kubernetes Service (the first address
      # of SERVICE_CIDR), whose endpoint is the advertised address; logs and exec go
      # to the kubelet.
      api_address=(--bind-address 0.0.0.0 --advertise-address "$REAL_NODE_IP"
        --kubelet-preferred-address-types InternalIP,Hostname
        --kubelet-client-certificate "$dir/pki/apiserver-kubelet-client.crt"
        --kubelet-client-key "$dir/pki/apiserver-kubelet-client.key")
    else
      log "starting without a real node (the reason is above)"
    fi
  fi
  certs
  local started=$SECONDS
  {
    echo "ETCD_PORT=$(free_port)"; echo "ETCD_PEER_PORT=$(free_port)"
    echo "API_PORT=$(free_port)"; echo "KCM_PORT=$(free_port)"
    echo "SCHED_PORT=$(free_port)"; echo "KWOK_PORT=$(free_port)"
  } > "$dir/ports.env"
  # shellcheck disable=SC1091
  source "$dir/ports.env"
  write_kubeconfig "$kubeconfig" admin
  write_kubeconfig "$dir/controller-manager.kubeconfig" controller-manager
  write_kubeconfig "$dir/scheduler.kubeconfig" scheduler
  write_kubeconfig "$dir/kwok.kubeconfig" kwok

  start etcd --data-dir "$dir/etcd" --name local \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "local=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --quota-backend-bytes 4294967296
  wait_for 30 etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  local pki="$dir/pki"
  start kube-apiserver \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    "${api_address[@]}" --secure-port "$API_PORT" \
    --cert-dir "$dir/pki" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$pki/sa.pub" \
    --service-account-signing-key-file "$pki/sa.key" \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --allow-privileged=false \
    --profiling=false
  wait_for 60 kube-apiserver "$bin/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz

  # kwok is the kubelet of the fake nodes, and its heartbeats do not keep the
  # node-lifecycle controller satisfied: after the grace period it declares every
  # node not-Ready and marks their pods NotReady, which kwok never restores. The
  # controller is still needed (it lifts the not-ready taint of new nodes), so
  # its grace period outlasts any session instead. Its client's own rate limit
  # (20 requests a second by default, a ReplicaSet, a pod and status updates each
  # per Deployment) would take minutes to start a fleet of thousands, as would the
  # scheduler's 50 bindings a second: both get 200.
  start kube-controller-manager \
    --kubeconfig "$dir/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$dir/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$dir/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" \
    --root-ca-file "$pki/ca.crt" \
    --service-account-private-key-file "$pki/sa.key" \
    --use-service-account-credentials \
    --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
    --leader-elect=false \
    --concurrent-gc-syncs 4 \
    --kube-api-qps 200 --kube-api-burst 400 \
    --concurrent-deployment-syncs 10 --concurrent-replicaset-syncs 10 \
    --horizontal-pod-autoscaler-sync-period 5s \
    --node-monitor-grace-period 8760h \
    --profiling=false
  start kube-scheduler \
    --kubeconfig "$dir/scheduler.kubeconfig" \
    --authentication-kubeconfig "$dir/scheduler.kubeconfig" \
    --authorization-kubeconfig "$dir/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" \
    --kube-api-qps 200 --kube-api-burst 400 \
    --leader-elect=false --profiling=false
  start kwok \
    --kubeconfig "$dir/kwok.kubeconfig" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 \
    --cidr "$KWOK_POD_CIDR" \
    --server-address "127.0.0.1:$KWOK_PORT"

  "$bin/kubectl" --kubeconfig "$kubeconfig" apply -f "$repo/hack/nodes.yaml" >/dev/null
  scale_nodes "${TOOLFLEET_SCALE_NODES:-0}"
  wait_for 60 "all nodes Ready" all_nodes_ready
  wait_for 60 "the default ServiceAccount (controller-manager running)" \
    "$bin/kubectl" --kubeconfig "$kubeconfig" get serviceaccount default -n default
  log "up in $((SECONDS - started))s: export KUBECONFIG=$kubeconfig"
  if [ -n "$REAL_NODE_IP" ]; then
    echo "REAL_NODE_IP=$REAL_NODE_IP" > "$real_node_env"
    "$repo/hack/realnode.sh" up
  fi
}

whole_number() { # whole_number NAME VALUE: VALUE if it is one, else a clear stop
  [[ $2 =~ ^[0-9]+$ ]] || die "$1 must be a whole number (got '$2')"
  echo "$((10#$2))"
}

scale_node() { # scale_node INDEX PODS: one fake CPU node of the scale pool, as JSON
  local name="scale-$1" capacity="{\"cpu\": \"32\", \"memory\": \"128Gi\", \"pods\": \"$2\"}"
  cat <<EOF
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "$name", "annotations": {"kwok.x-k8s.io/node": "fake"},
   "labels": {"kubernetes.io/hostname": "$name", "kubernetes.io/os": "linux",
     "kubernetes.io/arch": "amd64", "node.kubernetes.io/instance-type": "cpu-standard",
     "toolfleet.io/node-pool": "scale"}},
 "status": {"capacity": $capacity, "allocatable": $capacity}}
EOF
}

# scale_nodes N: the scale pool holds exactly scale-0 ... scale-N-1. A node kept from
# an earlier size keeps the capacity it registered with.
scale_nodes() {
  local want pods i name
  want=$(whole_number TOOLFLEET_SCALE_NODES "$1")
  pods=$(whole_number TOOLFLEET_SCALE_NODE_PODS "${TOOLFLEET_SCALE_NODE_PODS:-110}")
  if [ "$want" -gt 0 ]; then
    {
      echo '{"apiVersion": "v1", "kind": "List", "items": ['
      for ((i = 0; i < want; i++)); do
        if [ "$i" -gt 0 ]; then echo ','; fi
        scale_node "$i" "$pods"
      done
      echo ']}'
    } | "$bin/kubectl" --kubeconfig "$kubeconfig" apply -f - >/dev/null
  fi
  for name in $("$bin/kubectl" --kubeconfig "$kubeconfig" get nodes \
                  -l toolfleet.io/node-pool=scale -o name); do
    i=${name#node/scale-}
    if ! [[ $i =~ ^[0-9]+$ ]] || [ "$i" -ge "$want" ]; then
      "$bin/kubectl" --kubeconfig "$kubeconfig" delete "$name" --wait=false >/dev/null
    fi
  done
  if [ "$want" -gt 0 ]; then log "scale pool: $want node(s), new ones taking $pods pods each"; fi
}

all_nodes_ready() {
  local want have
  want=$("$bin/kubectl" --kubeconfig "$kubeconfig" get nodes -o name | wc -l)
  have=$("$bin/kubectl" --kubeconfig "$kubeconfig" get nodes \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    | grep -c '^True$' || true)
  [ "$want" -gt 0 ] && [ "$want" = "$have" ]
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

down_quiet() {
  local c pid
  # The real node first, while the control plane is still there; a failure to undo
  # its host changes stops here, leaving everything up to look at.
  if [ -d "$dir/realnode" ]; then "$repo/hack/realnode.sh" down; fi
  for c in "${components[@]}"; do
    [ -f "$dir/pids/$c" ] || continue
    pid=$(cat "$dir/pids/$c")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for c in "${components[@]}"; do
    [ -f "$dir/pids/$c" ] || continue
    pid=$(cat "$dir/pids/$c")
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pids/$c"
  done
  rm -rf "$dir/etcd" "$dir/ports.env" "$real_node_env"
}

down() {
  [ -d "$dir" ] || { log "not running"; return 0; }
  local ports=""
  [ -f "$dir/ports.env" ] && ports=$(cut -d= -f2 "$dir/ports.env" | tr '\n' ' ')
  down_quiet
  local p
  for p in $ports; do
    wait_for 10 "port $p to be free" port_free "$p" || die "port $p is still in use"
  done
  log "down"
}

status() {
  if is_up; then
    # shellcheck disable=SC1091
    source "$dir/ports.env"
    echo "up: https://127.0.0.1:$API_PORT (KUBECONFIG=$kubeconfig)"
    if [ -f "$real_node_env" ]; then "$repo/hack/realnode.sh" status || true; fi
  else
    echo "down"
    return 1
  fi
}

case ${1:-} in
  up|down|status) ;;
  env) echo "export KUBECONFIG=$kubeconfig"; exit 0 ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
if [ "$1" = up ]; then
  bin=$("$repo/hack/binaries.sh") || die "control-plane binaries are missing (see hack/binaries.sh)"
else
  bin=$("$repo/hack/binaries.sh" --check 2>/dev/null) || bin=$(dirname "$(command -v kubectl || echo /usr/bin/kubectl)")
fi
"$1"
