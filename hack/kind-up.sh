#!/usr/bin/env bash
# For users who have Docker: a kind cluster with the same fake GPU nodes as the
# local control plane (hack/cluster.sh). kwok runs as a local process against
# the kind cluster and manages the nodes of hack/nodes.yaml; real pods still run
# on kind's own node.
#
#   hack/kind-up.sh        create the cluster "toolfleet" and the fake nodes
#   hack/kind-up.sh down   delete it
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
name=${KIND_CLUSTER_NAME:-toolfleet}
state="$repo/.cluster-kind"

command -v kind >/dev/null || { echo "kind is not installed: https://kind.sigs.k8s.io" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker engine: use hack/cluster.sh instead" >&2; exit 1; }

if [ "${1:-up}" = down ]; then
  [ -f "$state/kwok.pid" ] && kill "$(cat "$state/kwok.pid")" 2>/dev/null || true
  kind delete cluster --name "$name"
  rm -rf "$state"
  exit 0
fi

bin=$("$repo/hack/binaries.sh")
mkdir -p "$state"
kind create cluster --name "$name" --kubeconfig "$state/kubeconfig"
"$bin/kubectl" --kubeconfig "$state/kubeconfig" apply -f "$repo/hack/nodes.yaml"
setsid "$bin/kwok" --kubeconfig "$state/kubeconfig" \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  >"$state/kwok.log" 2>&1 < /dev/null &
echo $! > "$state/kwok.pid"
echo "export KUBECONFIG=$state/kubeconfig"
