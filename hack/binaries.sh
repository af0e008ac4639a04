#!/usr/bin/env bash
# Finds or builds the control-plane binaries and prints the directory holding them.
#
# Order of preference, per binary: $KUBEBUILDER_ASSETS, then the version-keyed
# cache (~/.cache/toolfleet/bin/<component>-<version>), then a build from Go
# modules into that cache. PATH is used only when its binary reports the pinned
# version, because a stray kubectl or etcd of another release changes behaviour.
#
# Usage: hack/binaries.sh              # ensure all, print the bin dir on stdout
#        hack/binaries.sh --check      # exit 1 if anything would need a build
#        hack/binaries.sh --real-node  # also kubelet, kube-proxy, kube-router and
#                                      # CoreDNS (hack/realnode.sh), same bin dir
# The flags combine: --check --real-node checks the real node's binaries too.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${TOOLFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolfleet}
bindir="$cache/bin/set-k8s-${KUBERNETES_VERSION}-etcd-${ETCD_VERSION}-kwok-${KWOK_VERSION}-helm-${HELM_VERSION}"
# kube-router has a version of its own, so it is cached in a directory keyed by
# it and linked into the bin dir (a bump re-points the link).
kube_router_dir="$cache/bin/kube-router-${KUBE_ROUTER_VERSION}"
coredns_dir="$cache/bin/coredns-${COREDNS_VERSION}"
check_only=false
real_node=false
for arg in "$@"; do
  case $arg in
    --check) check_only=true ;;
    --real-node) real_node=true ;;
    *) echo "usage: $0 [--check] [--real-node]" >&2; exit 2 ;;
  esac
done

log() { printf 'binaries: %s\n' "$*" >&2; }

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# take NAME: link NAME from $KUBEBUILDER_ASSETS or PATH into the bin dir when it fits.
take() {
  local name=$1 want=$2 cand
  for cand in "${KUBEBUILDER_ASSETS:+$KUBEBUILDER_ASSETS/$name}" "$(command -v "$name" 2>/dev/null || true)"; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    if "$cand" --version 2>/dev/null | grep -qF -- "${want#v}" \
       || "$cand" version --client 2>/dev/null | grep -qF -- "$want" \
       || "$cand" version 2>/dev/null | grep -qF -- "${want#v}"; then
      ln -sf "$cand" "$bindir/$name"
      log "$name: using $cand ($want)"
      return 0
    fi
  done
  return 1
}

# need NAME VERSION: true when NAME is neither cached nor found at the pinned version.
need() {
  [ -x "$bindir/$1" ] && return 1
  take "$1" "$2" && return 1
  return 0
}

k8s_ldflags() {
  local v=$KUBERNETES_VERSION minor
  minor=$(echo "$v" | cut -d. -f2)
  local f="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f+=" -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    f+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$f"
}

build_kubernetes() { # build_kubernetes CMD...: k8s.io/kubernetes/cmd/CMD into the bin dir
  local work gomod staging cmds="$*"
  work=$(mktemp -d)
  log "building $cmds $KUBERNETES_VERSION (takes a while, once)"
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
          | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
  # k8s.io/kubernetes replaces its staging modules with local paths, which a
  # dependent module cannot follow; point each at its published v0.Y.Z instead.
  staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  {
    echo "module toolfleet.local/kubernetes-build"
    echo "go $(sed -n 's/^go //p' "$gomod")"
    for m in $staging; do echo "replace $m => $m v0.${KUBERNETES_VERSION#v1.}"; done
  } > "$work/go.mod"
  (cd "$work" \
    && go get $(for c in $cmds; do printf 'k8s.io/kubernetes/cmd/%s@%s ' "$c" "$KUBERNETES_VERSION"; done) \
    && go build -trimpath -ldflags "$(k8s_ldflags)" -o "$bindir/" \
         $(for c in $cmds; do printf 'k8s.io/kubernetes/cmd/%s ' "$c"; done))
  rm -rf "$work"
}

build_etcd() {
  local work
  work=$(mktemp -d)
  log "building etcd $ETCD_VERSION"
  # etcd's server module replaces its siblings with relative paths; a wrapper
  # module sees its published requirements instead.
  (cd "$work" && go mod init toolfleet.local/etcd-build >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" \
    && go build -trimpath -ldflags "-s -w" -o "$bindir/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$work"
}

go_install() {
  local name=$1 pkg=$2
  log "building $name from $pkg"
  GOBIN="$bindir" go install -trimpath -ldflags "-s -w" "$pkg"
}

mkdir -p "$bindir"
missing=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  need "$b" "$KUBERNETES_VERSION" && missing+=("$b")
done
k8s_missing=("${missing[@]}")
if $real_node; then
  for b in kubelet kube-proxy; do
    need "$b" "$KUBERNETES_VERSION" && { missing+=("$b"); k8s_missing+=("$b"); }
  done
  if [ -x "$kube_router_dir/kube-router" ]; then
    ln -sfn "$kube_router_dir/kube-router" "$bindir/kube-router"
  else
    missing+=(kube-router)
  fi
  if [ -x "$coredns_dir/coredns" ]; then
    ln -sfn "$coredns_dir/coredns" "$bindir/coredns"
  else
    missing+=(coredns)
  fi
fi
need etcd "$ETCD_VERSION" && missing+=(etcd)
need kwok "$KWOK_VERSION" && missing+=(kwok)
need helm "$HELM_VERSION" && missing+=(helm)

if $check_only; then
  [ ${#missing[@]} -eq 0 ] || { log "missing: ${missing[*]}"; exit 1; }
  echo "$bindir"; exit 0
fi

command -v go >/dev/null || { log "Go is needed to build ${missing[*]}: install Go or set KUBEBUILDER_ASSETS"; exit 1; }
[ ${#k8s_missing[@]} -gt 0 ] && build_kubernetes "${k8s_missing[@]}"
for b in "${missing[@]}"; do
  case $b in
    etcd) build_etcd ;;
    kwok) go_install kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" ;;
    helm)
      # helm reads its version from ldflags too; without it `helm version` says v3.x-dev.
      GOBIN="$bindir" go install -trimpath \
        -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
        "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
    kube-router)
      # Only the firewall controller is used (NetworkPolicy); newer releases are
      # not all served by the module proxy, hence the pin in versions.env.
      mkdir -p "$kube_router_dir"
      GOBIN="$kube_router_dir" go install -trimpath \
        -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
        "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
      ln -sfn "$kube_router_dir/kube-router" "$bindir/kube-router" ;;
    coredns)
      # The real node's cluster DNS, run as a host process (no image to build).
      mkdir -p "$coredns_dir"
      log "building coredns $COREDNS_VERSION"
      GOBIN="$coredns_dir" go install -trimpath -ldflags "-s -w" \
        "github.com/coredns/coredns@$COREDNS_VERSION"
      ln -sfn "$coredns_dir/coredns" "$bindir/coredns" ;;
  esac
done
wanted=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)
$real_node && wanted+=(kubelet kube-proxy kube-router coredns)
for b in "${wanted[@]}"; do
  [ -x "$bindir/$b" ] || { log "$b was not built"; exit 1; }
done
echo "$bindir"
