#!/bin/sh
# Installs weft's CNI plugin and/or its network config on a host, atomically (temp + rename), so
# the container runtime never runs half a plugin or reads half a config. Run by the DaemonSet's
# init containers with the host's /opt/cni/bin and /etc/cni/net.d mounted; safe to repeat.
#
#   install-cni.sh plugin   CNI_BIN_DIR/weft (CNI "type": "weft"): weft-cni, one self-contained
#                           executable; the weft-cni-<hash>/ folders of earlier releases go
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
  [ -f "$payload/weft-cni" ] && [ -x "$payload/weft-cni" ] ||
    fail "no CNI payload in $payload (expected the weft-cni executable; see deploy/stage-cni.sh)"
  mkdir -p "$bin_dir"
  if ! cmp -s "$payload/weft-cni" "$bin_dir/weft"; then
    tmp="$bin_dir/.weft.tmp.$$"
    trap 'rm -f "$tmp"' EXIT
    cp "$payload/weft-cni" "$tmp"
    chmod 0755 "$tmp"
    mv -f "$tmp" "$bin_dir/weft"
    trap - EXIT
  fi
  # earlier releases installed a sh wrapper and node + .js files in weft-cni-<hash>/
  for old in "$bin_dir"/weft-cni-*; do
    [ -d "$old" ] && rm -rf "$old"
  done
  echo "install-cni: installed $bin_dir/weft (sha256 $(sha256sum "$bin_dir/weft" | cut -c1-12))"
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
