// The config weft-cni hands to its delegate: Flannel's rendering (flannel-io/cni-plugin doCmdAdd)
// plus hairpinMode, a gateway on the cluster route and a host-local dataDir under weft's own.
// One host-local range set per family the subnet file has (IPv4 first, as Flannel orders them), so a
// dual-stack pod gets one address of each; one route per family's cluster network, via its gateway.
import { join } from 'node:path';
import type { JsonObject, NetConf } from './netconf.js';
import { podNetworks, type SubnetEnv } from './subnet-env.js';

/** Where host-local keeps leases unless the netconf's ipam says otherwise. */
export function ipamDataDir(conf: NetConf): string {
  return typeof conf.ipam.dataDir === 'string' ? conf.ipam.dataDir : join(conf.dataDir, 'ipam');
}

export function delegateType(conf: NetConf): string {
  return typeof conf.delegate.type === 'string' ? conf.delegate.type : 'bridge';
}

export function ipamType(conf: NetConf): string {
  return typeof conf.ipam.type === 'string' ? conf.ipam.type : 'host-local';
}

function buildIpam(conf: NetConf, env: SubnetEnv): JsonObject {
  const extraRoutes = Array.isArray(conf.ipam.routes) ? conf.ipam.routes : [];
  return {
    ...conf.ipam,
    type: ipamType(conf),
    dataDir: ipamDataDir(conf),
    ranges: podNetworks(env).map((n) => [{ subnet: n.subnet }]),
    // gw is required by Debian's bridge 1.1.1 CHECK (containernetworking/plugins#886).
    routes: [...extraRoutes, ...podNetworks(env).map((n) => ({ dst: n.network, gw: n.gateway }))],
  };
}

/** The full delegate config for `cniVersion` (which may be older than the netconf's, see negotiate). */
export function buildDelegateConfig(conf: NetConf, env: SubnetEnv, cniVersion: string): JsonObject {
  const type = delegateType(conf);
  const out: JsonObject = {
    cniVersion,
    name: conf.name,
    type,
    ipMasq: !env.ipMasq,
    mtu: env.mtu,
  };
  if (type === 'bridge') {
    out.bridge = 'cni0';
    out.isGateway = true;
    out.hairpinMode = true;
  }
  Object.assign(out, conf.delegate);
  out.cniVersion = cniVersion;
  out.name = conf.name;
  out.ipam = buildIpam(conf, env);
  if (conf.runtimeConfig) out.runtimeConfig = conf.runtimeConfig;
  if (conf.args) out.args = conf.args;
  return out;
}
