#!/usr/bin/env bash
# Prints the directory holding the standard Gateway API CRDs (GatewayClass,
# Gateway, HTTPRoute, ...) at the version pinned in hack/versions.env, taken
# from the sigs.k8s.io/gateway-api Go module (downloaded once into Go's module
# cache). For clusters that route canary traffic with trafficRouting: gatewayAPI.
#
#   kubectl apply -f "$(hack/gateway-api-crds.sh)"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
dir=$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod go mod download -json \
  "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
echo "$dir/config/crd/standard"
