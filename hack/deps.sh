#!/usr/bin/env bash
# System packages the e2e tests need beside the Python ones: Prometheus (the
# canary analysis queries a real one). Installed from Debian's packages when
# missing and we may (root); otherwise says what to install.
#
#   hack/deps.sh           ensure the test dependencies
#   hack/deps.sh --bench   also nginx, the baseline of hack/bench/bench_catalog.py
set -euo pipefail

packages=(prometheus)
[ "${1:-}" = "--bench" ] && packages+=(nginx wrk)

missing=()
for p in "${packages[@]}"; do
  command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || missing+=("$p")
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
