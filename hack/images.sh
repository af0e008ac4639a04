#!/usr/bin/env bash
# Builds the operator's and the services' images from their own Dockerfiles with
# buildah: no daemon, no registry. Each is exported as an OCI archive to
# build/images/ and, when the real node is up (hack/realnode.sh), imported into its
# containerd under the exact name the chart and the ToolService manifests use, so
# that the kubelet finds it without a pull.
#
#   hack/images.sh         build what changed (`make images`)
#
# The base image is the Dockerfiles' PYTHON_IMAGE. With no registry at hand, it is
# made here from Debian's packages (mmdebstrap), unless TOOLFLEET_PYTHON_IMAGE
# names one buildah can pull. pip inside a build reaches the package index with
# this machine's CA bundle and pip configuration, mounted read-only, never copied
# into an image.
#
# An image is rebuilt only when its inputs change: its Dockerfile, the files its
# ignore file lets into the context, and the base image. Archives are cached in
# ~/.cache/toolfleet/images, keyed by those inputs, and so shared by checkouts
# (the three newest of each image are kept).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${TOOLFLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/toolfleet}
out="$repo/build/images"
base=${TOOLFLEET_PYTHON_IMAGE:-localhost/toolfleet/debian-python:bookworm}

log() { printf 'images: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (buildah with chroot isolation and vfs storage)"
"$repo/hack/deps.sh" --images || die "buildah and mmdebstrap are needed (see above)"

export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot TMPDIR="$cache/containers/tmp"
# buildah makes these host directories on first use (network backend, blob-info cache);
# the ones this run makes go again when it ends, so that the host stays as it was.
host_dirs=(/etc/cni /etc/containers/networks /run/containers /var/lib/containers)
made_here=()
for d in "${host_dirs[@]}"; do [ -e "$d" ] || made_here+=("$d"); done
trap 'for d in "${made_here[@]}"; do rm -rf "$d"; done' EXIT
mkdir -p "$TMPDIR" "$cache/images" "$out"
# buildah's storage under the cache, not /var/lib/containers: vfs keeps every layer
# whole, and the host stays as it was.
buildah=(buildah --root "$cache/containers/storage" --runroot "$cache/containers/run"
         --storage-driver vfs)

# debian_base: python3 and venv from Debian's packages, as a one-layer image.
debian_base() {
  "${buildah[@]}" inspect --type image "$base" >/dev/null 2>&1 && return 0
  log "making $base from Debian's packages (once)"
  local rootfs="$TMPDIR/debian-python-bookworm.tar" c
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$rootfs"
  c=$("${buildah[@]}" from scratch)
  "${buildah[@]}" add "$c" "$rootfs" / >/dev/null
  "${buildah[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 "$c"
  "${buildah[@]}" commit --quiet "$c" "$base" >/dev/null
  "${buildah[@]}" rm "$c" >/dev/null
  rm -f "$rootfs"
}

# inputs_hash DOCKERFILE IGNOREFILE: the contents of what the build reads, and the base.
inputs_hash() {
  local dockerfile=$1 ignorefile=$2 paths
  # The ignore files list what they let in as `!path` lines.
  paths=$(sed -n 's/^!//p' "$ignorefile")
  {
    sha256sum "$dockerfile" "$ignorefile"
    # shellcheck disable=SC2086
    (cd "$repo" && find $paths -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 2>/dev/null \
      | sort -z | xargs -0 sha256sum)
    echo "base $base $("${buildah[@]}" inspect --type image --format '{{.FromImageID}}' "$base")"
  } | sha256sum | cut -c1-16
}

# build NAME DOCKERFILE IGNOREFILE: NAME is repository:tag, as the manifests write it.
build() {
  local name=$1 dockerfile=$2 ignorefile=$3 file key archive started=$SECONDS
  file=$(echo "${name%:*}" | tr '/' '_')
  key=$(inputs_hash "$repo/$dockerfile" "$repo/$ignorefile")
  archive="$cache/images/$file-${name##*:}-$key.oci.tar"
  if [ -f "$archive" ]; then
    log "$name: unchanged"
  else
    log "$name: building $dockerfile"
    local mounts=()
    # Only this machine's settings, and only for the build: never a layer.
    [ -d /etc/ssl/certs ] && mounts+=(-v /etc/ssl/certs:/etc/ssl/certs:ro)
    [ -f /etc/pip.conf ] && mounts+=(-v /etc/pip.conf:/etc/pip.conf:ro)
    "${buildah[@]}" bud --quiet --layers=false --format oci \
      --build-arg "PYTHON_IMAGE=$base" "${mounts[@]}" \
      -f "$repo/$dockerfile" --ignorefile "$repo/$ignorefile" -t "$name" "$repo" >/dev/null
    # The archive's index names the tag only; the repository comes back at import
    # (hack/realnode.sh import), as it does for any tag-only OCI layout.
    rm -f "$archive.tmp"
    "${buildah[@]}" push --quiet "$name" "oci-archive:$archive.tmp:${name##*:}"
    mv "$archive.tmp" "$archive"
    "${buildah[@]}" rmi "$name" >/dev/null
    log "$name: built in $((SECONDS - started))s"
    # The three newest archives of this image stay (checkouts share the cache); older go.
    # shellcheck disable=SC2012
    ls -t "$cache/images/$file-"*.oci.tar | tail -n +4 | xargs -r rm -f
  fi
  ln -sfn "$archive" "$out/$file.oci.tar"
  echo "$name" > "$out/$file.ref"
  if "$repo/hack/realnode.sh" status >/dev/null 2>&1; then
    "$repo/hack/realnode.sh" import "$archive" "$name"
    log "$name: in the real node"
  fi
}

# image_of MANIFEST: the image a ToolService manifest names.
image_of() { sed -n 's/^  image: *//p' "$repo/$1"; }

if [ -z "${TOOLFLEET_PYTHON_IMAGE:-}" ]; then debian_base; fi
app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$repo/charts/toolfleet/Chart.yaml")
operator_repo=$(sed -n '/^image:/,/^[^ ]/s/^  repository: *//p' "$repo/charts/toolfleet/values.yaml")
build "$operator_repo:$app_version" Dockerfile .dockerignore
for service in cluster-analyzer anomaly-detector; do
  build "$(image_of "services/$service/deploy/toolservice.yaml")" \
    "services/$service/Dockerfile" "services/$service/Dockerfile.dockerignore"
done
# Intermediate stages are left as dangling images; vfs keeps each one whole.
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true
