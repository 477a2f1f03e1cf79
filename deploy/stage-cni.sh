#!/bin/sh
# Stages the weft CNI payload from a built checkout (bash .ci/build) into DEST:
#   DEST/weft-cni/node           the Node runtime that runs the plugin on the host
#   DEST/weft-cni/package.json   {"type":"module"}: the shim is ES modules
#   DEST/weft-cni/cni-shim/*.js  compiled weft-cni (node builtins only, see test/unit/import-graph.test.ts)
#   DEST/10-weft.conflist        the default CNI network config
# The Dockerfile runs it into /opt/weft/cni; deploy/install-cni.sh copies the payload to a host.
# Usage: deploy/stage-cni.sh DEST
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
dest=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f "$repo/dist/cni-shim/main.js" ]; then
  echo "stage-cni: $repo/dist/cni-shim/main.js is missing: build first (bash .ci/build)" >&2
  exit 1
fi
rm -rf "$dest"
mkdir -p "$dest/weft-cni"
cp "$(readlink -f "$(command -v node)")" "$dest/weft-cni/node"
printf '{"type":"module"}\n' >"$dest/weft-cni/package.json"
cp -R "$repo/dist/cni-shim" "$dest/weft-cni/cni-shim"
find "$dest/weft-cni/cni-shim" -name '*.map' -delete
cp "$repo/deploy/10-weft.conflist" "$dest/10-weft.conflist"
