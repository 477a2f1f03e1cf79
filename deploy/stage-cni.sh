#!/bin/sh
# Stages the weft CNI payload from a checkout with its dev dependencies installed (bash .ci/build)
# into DEST:
#   DEST/weft-cni          weft-cni as one self-contained executable: a Node single executable
#                          application (the node on PATH with the shim, bundled by esbuild into one
#                          CommonJS script, injected by postject). NODE_OPTIONS is ignored
#                          (execArgvExtension "none"): a runtime's environment cannot break it.
#   DEST/10-weft.conflist  the default CNI network config
# The Dockerfile runs it into /opt/weft/cni; deploy/install-cni.sh installs DEST/weft-cni on a host.
# Usage: deploy/stage-cni.sh DEST
# WEFT_CNI_CODE_CACHE=false leaves V8's code cache out of the executable (bench:cni compares).
set -eu
[ $# -eq 1 ] || { echo "usage: $0 DEST" >&2; exit 2; }
dest=$1
repo=$(cd "$(dirname "$0")/.." && pwd)
code_cache=${WEFT_CNI_CODE_CACHE:-true}
fail() {
  echo "stage-cni: $*" >&2
  exit 1
}
[ -x "$repo/node_modules/.bin/esbuild" ] && [ -f "$repo/node_modules/postject/dist/cli.js" ] ||
  fail "esbuild or postject missing in $repo/node_modules: install the dev dependencies first (bash .ci/build)"
node=$(readlink -f "$(command -v node)") || fail "no node on PATH"
major=$("$node" -p 'process.versions.node.split(".")[0]')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$repo/node_modules/.bin/esbuild" "$repo/cni-shim/main.ts" --bundle --platform=node --format=cjs \
  --target="node$major" --log-level=warning --outfile="$work/weft-cni.cjs"
cat >"$work/sea-config.json" <<EOF
{
  "main": "$work/weft-cni.cjs",
  "output": "$work/weft-cni.blob",
  "disableExperimentalSEAWarning": true,
  "useCodeCache": $code_cache,
  "execArgvExtension": "none"
}
EOF
"$node" --experimental-sea-config "$work/sea-config.json" >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "node --experimental-sea-config failed"; }
cp "$node" "$work/weft-cni"
chmod 0755 "$work/weft-cni"
# The fuse is Node's constant for SEA; LIEF's warnings about note sections are noise.
"$node" "$repo/node_modules/postject/dist/cli.js" "$work/weft-cni" NODE_SEA_BLOB "$work/weft-cni.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >"$work/log" 2>&1 || { cat "$work/log" >&2; fail "postject failed"; }
CNI_COMMAND=VERSION "$work/weft-cni" </dev/null | grep -q '"supportedVersions"' || fail "the built $work/weft-cni does not answer VERSION"

rm -rf "$dest"
mkdir -p "$dest"
mv "$work/weft-cni" "$dest/weft-cni"
cp "$repo/deploy/10-weft.conflist" "$dest/10-weft.conflist"
