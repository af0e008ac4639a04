#!/usr/bin/env bash
# System packages the e2e tests need beside the Python ones. Installed from
# Debian's packages when missing and we may (root); otherwise says what to install.
#
#   hack/deps.sh              Prometheus (the canary analysis queries a real one)
#   hack/deps.sh --bench      also nginx and wrk: the baseline and the load generator of
#                             hack/bench/bench_catalog.py and bench_gateway.py
#   hack/deps.sh --real-node  what hack/realnode.sh runs: containerd, runc, the CNI
#                             plugins, netfilter tools, ipset, umoci (packs the pause image)
#   hack/deps.sh --images     what `make images` builds with: buildah, mmdebstrap
set -euo pipefail

case ${1:-} in
  "") packages=(prometheus) ;;
  --bench) packages=(prometheus nginx wrk) ;;
  --real-node) packages=(containerd runc containernetworking-plugins iptables nftables conntrack
                         socat ipset umoci) ;;
  --images) packages=(buildah mmdebstrap) ;;
  *) echo "usage: $0 [--bench|--real-node|--images]" >&2; exit 2 ;;
esac

installed() { # a command of that name, or the package itself (containernetworking-plugins has none)
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] \
    || dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "deps: missing ${missing[*]}: install them (Debian/Ubuntu: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "deps: installing ${missing[*]} from the distribution's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages enable system services; the tests start their own processes.
for p in "${missing[@]}"; do
  { systemctl disable --now "$p" || service "$p" stop; } >/dev/null 2>&1 || true
done
