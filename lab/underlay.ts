// The underlay: one "switch" namespace holding bridge `br0`; every node (and etcd) hangs off it by a
// veth pair created from inside the switch namespace, so nothing ever appears in the root namespace.
import { ipIn, nsRun } from './exec.js';
import type { Families } from './state.js';

const UNDERLAY_PREFIX_LEN = 15;
const UNDERLAY6_PREFIX_LEN = 64;
export const UNDERLAY_MTU = 1500;
const BRIDGE = 'br0';

export function underlayIp(index: number): string {
  return `198.18.0.${index}`;
}

/** The IPv6 underlay address of node `index` in a dual-stack or IPv6-only lab: `fd00:198:18::<index in hex>`. */
export function underlayIp6(index: number): string {
  return `fd00:198:18::${index.toString(16)}`;
}

/** Bridge br0 in namespace `ns`, up; with `ip`/15 on it when the switch namespace serves something itself. */
export async function createSwitch(ns: string, ip?: string): Promise<void> {
  await ipIn(ns, 'link', 'add', BRIDGE, 'type', 'bridge');
  if (ip !== undefined) await ipIn(ns, 'addr', 'add', `${ip}/${UNDERLAY_PREFIX_LEN}`, 'dev', BRIDGE);
  await ipIn(ns, 'link', 'set', BRIDGE, 'up');
}

/**
 * Connects namespace `ns` to the switch: port `port` on `br0`, `eth0` with `ip/15` in `ns` when given
 * (an IPv6-only lab has none) and `ip6/64`, without duplicate address detection, when given; both
 * ends with MTU `mtu`.
 */
export async function attach(switchNs: string, port: string, ns: string, ip: string | undefined, mtu = UNDERLAY_MTU, ip6?: string): Promise<void> {
  await ipIn(switchNs, 'link', 'add', port, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', 'eth0', 'mtu', String(mtu), 'netns', ns);
  await ipIn(switchNs, 'link', 'set', port, 'master', BRIDGE, 'up');
  if (ip !== undefined) await ipIn(ns, 'addr', 'add', `${ip}/${UNDERLAY_PREFIX_LEN}`, 'dev', 'eth0');
  if (ip6 !== undefined) await ipIn(ns, 'addr', 'add', `${ip6}/${UNDERLAY6_PREFIX_LEN}`, 'dev', 'eth0', 'nodad');
  await ipIn(ns, 'link', 'set', 'eth0', 'up');
}

/** Turns IPv6 on inside `ns` (only there: the sysctls are per namespace), for links created after. */
export async function enableIpv6(ns: string): Promise<void> {
  await nsRun(ns, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0']);
}

/** Routing on in `ns` for the families the lab carries. */
export async function enableForwarding(ns: string, f: Families): Promise<void> {
  await nsRun(ns, 'sysctl', ['-q', '-w', ...(f.ipv4 ? ['net.ipv4.ip_forward=1'] : []), ...(f.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : [])]);
}
