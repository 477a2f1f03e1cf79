#!/bin/sh
# Installs weft's CNI plugin and/or its network config on a host, atomically (temp + rename), so
# the container runtime never runs half a plugin or reads half a config. Run by the DaemonSet's
# init containers with the host's /opt/cni/bin and /etc/cni/net.d mounted; safe to repeat.
#
#   install-cni.sh plugin   CNI_BIN_DIR/weft (a sh wrapper: CNI "type": "weft") and beside it
#                           CNI_BIN_DIR/weft-cni-<content hash>/ (node + the compiled shim);
#                           older weft-cni-* payloads are removed once the wrapper points away
#   install-cni.sh conf     CNI_CONF_DIR/CNI_CONF_NAME from CONFLIST (e.g. a ConfigMap's cni-conf.json)
#   install-cni.sh          both
#
# Environment (defaults): WEFT_CNI_PAYLOAD (/opt/weft/cni, staged by deploy/stage-cni.sh),
# CNI_BIN_DIR (/opt/cni/bin), CNI_CONF_DIR (/etc/cni/net.d), CNI_CONF_NAME (10-weft.conflist),
# CONFLIST ($WEFT_CNI_PAYLOAD/10-weft.conflist).
set -eu
payload=${WEFT_CNI_PAYLOAD:-/opt/weft/cni}
bin_dir=${CNI_BIN_DIR:-/opt/cni/bin}
conf_dir=${CNI_CONF_DIR:-/etc/cni/net.d}
conf_name=${CNI_CONF_NAME:-10-weft.conflist}
conflist=${CONFLIST:-$payload/10-weft.conflist}
what=${1:-all}

fail() {
  echo "install-cni: $*" >&2
  exit 1
}

install_plugin() {
  [ -x "$payload/weft-cni/node" ] && [ -f "$payload/weft-cni/cni-shim/main.js" ] ||
    fail "no CNI payload in $payload (expected weft-cni/node and weft-cni/cni-shim/main.js; see deploy/stage-cni.sh)"
  mkdir -p "$bin_dir"
  # -L: in the image weft-cni/node is a symlink to the image's own node; the host gets the file.
  id=$(cd "$payload/weft-cni" && find -L . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
  dir=weft-cni-$id
  if [ ! -f "$bin_dir/$dir/cni-shim/main.js" ]; then
    rm -rf "$bin_dir/.$dir.tmp"
    cp -RL "$payload/weft-cni" "$bin_dir/.$dir.tmp"
    rm -rf "$bin_dir/$dir"
    mv "$bin_dir/.$dir.tmp" "$bin_dir/$dir"
  fi
  tmp="$bin_dir/.weft.tmp.$$"
  cat >"$tmp" <<WRAPPER
#!/bin/sh
# weft CNI plugin ("type": "weft"), installed by weft's install-cni.sh: runs weft-cni with the
# Node runtime installed beside it. Do not edit; the next install replaces it.
unset NODE_OPTIONS
d=\$(dirname -- "\$0")/$dir
exec "\$d/node" "\$d/cni-shim/main.js" "\$@"
WRAPPER
  chmod 0755 "$tmp"
  mv -f "$tmp" "$bin_dir/weft"
  for old in "$bin_dir"/weft-cni-*; do
    [ -d "$old" ] && [ "$old" != "$bin_dir/$dir" ] && rm -rf "$old"
  done
  echo "install-cni: installed $bin_dir/weft ($dir)"
}

install_conf() {
  [ -s "$conflist" ] || fail "CNI config $conflist is missing or empty"
  mkdir -p "$conf_dir"
  tmp="$conf_dir/.$conf_name.tmp.$$"
  cp "$conflist" "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$conf_dir/$conf_name"
  echo "install-cni: installed $conf_dir/$conf_name"
}

case $what in
  plugin) install_plugin ;;
  conf) install_conf ;;
  all) install_plugin && install_conf ;;
  *) fail "unknown argument '$what' (use plugin, conf or nothing for both)" ;;
esac
