// What to fix on this node's TUN, from what `ip -j` reports: pure, so the rules are unit-tested.
//
//   before open: a device named like the TUN that is not a single-queue TUN (a TAP, a multi-queue
//   TUN, a veth…) would make TUNSETIFF fail, so it is removed and created anew.
//   after open (and every --link-resync period): the state tunLink() wants (daemon/dataplane/tun-link.ts):
//   the link up, the inner MTU, exactly one IPv4 address (<subnet>.0/32) and exactly one main-table
//   route on the TUN: Network, no gateway, metric 0. Anything else on the TUN (an address or route
//   of an older subnet or network, a duplicate at another metric) was left by an earlier weftd and
//   is removed; a missing or foreign-owned Network route is replaced.
import type { TunLink } from '../../dataplane/index.js';

/** `ip -d -j link show` entry (the fields used). */
export interface IpLink {
  readonly ifname: string;
  readonly mtu: number;
  /** Interface flags ("UP", …); absent = not checked. */
  readonly flags?: readonly string[];
  readonly linkinfo?: { readonly info_kind?: string; readonly info_data?: { readonly type?: string; readonly multi_queue?: boolean } };
}

/** `ip -j addr show` addr_info entry. */
export interface IpAddr {
  readonly family: string;
  readonly local: string;
  readonly prefixlen: number;
  /** 'global', 'link', 'host'…; absent = global. */
  readonly scope?: string;
}

/** `ip -j route show` entry. */
export interface IpRoute {
  readonly dst: string;
  readonly dev?: string;
  readonly gateway?: string;
  readonly metric?: number;
}

/** The wanted state, built by the data plane's tunLink() (the address and route rule). */
export type TunWanted = TunLink;

export interface Fix {
  /** Operator-readable: what was wrong. */
  readonly why: string;
  /** `ip` arguments that fix it; empty for IPv6 switches, set in /proc (reconcile/index.ts). */
  readonly args: readonly string[];
}

/** Why an existing device named like the TUN cannot be reattached, or undefined when it can. */
export function unusableTun(link: IpLink): string | undefined {
  const kind = link.linkinfo?.info_kind;
  const data = link.linkinfo?.info_data;
  if (kind !== 'tun') return `${link.ifname} is a ${kind ?? 'plain'} device, not a TUN`;
  if (data?.type !== 'tun') return `${link.ifname} is a ${data?.type ?? 'unknown'} device, not a TUN`;
  if (data.multi_queue) return `${link.ifname} is a multi-queue TUN`;
  return undefined;
}

function routeKey(r: IpRoute): string {
  return `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''}${r.metric ? ` metric ${r.metric}` : ''}`;
}

/** Fixes that bring the TUN to `want`, given its link, IPv4 addresses, its main-table routes and the main-table routes for exactly `want.network`. */
export function planTunFixes(want: TunWanted, link: IpLink, addrs: readonly IpAddr[], tunRoutes: readonly IpRoute[], networkRoutes: readonly IpRoute[]): Fix[] {
  const fixes: Fix[] = [];
  const dev = want.name;
  if (link.flags && !link.flags.includes('UP')) fixes.push({ why: `${dev} is down`, args: ['link', 'set', 'dev', dev, 'up'] });
  if (link.mtu !== want.mtu) fixes.push({ why: `MTU ${link.mtu}, want ${want.mtu}`, args: ['link', 'set', 'dev', dev, 'mtu', String(want.mtu)] });
  const inet = addrs.filter((a) => a.family === 'inet');
  for (const a of inet) {
    const cidr = `${a.local}/${a.prefixlen}`;
    if (cidr !== want.address) fixes.push({ why: `stale address ${cidr}`, args: ['addr', 'del', cidr, 'dev', dev] });
  }
  if (want.address !== undefined && !inet.some((a) => `${a.local}/${a.prefixlen}` === want.address)) fixes.push({ why: `address ${want.address} missing`, args: ['addr', 'add', want.address, 'dev', dev] });
  const isWanted = (r: IpRoute): boolean => r.dst === want.network && !r.gateway && !r.metric;
  const ours = networkRoutes.find((r) => isWanted(r) && (r.dev === undefined || r.dev === dev));
  const foreign = networkRoutes.find((r) => isWanted(r) && r.dev !== undefined && r.dev !== dev);
  const onTun = tunRoutes.some(isWanted);
  if (want.network !== undefined && !onTun && !ours) {
    fixes.push({ why: foreign ? `route ${want.network} goes to ${foreign.dev}` : `route ${want.network} missing`, args: ['route', 'replace', want.network, 'dev', dev] });
  }
  let kept = false;
  for (const r of tunRoutes) {
    if (isWanted(r) && !kept) {
      kept = true;
      continue;
    }
    const spec = ['route', 'del', r.dst, 'dev', dev, ...(r.gateway ? ['via', r.gateway] : []), ...(r.metric ? ['metric', String(r.metric)] : [])];
    fixes.push({ why: isWanted(r) ? `duplicate route ${routeKey(r)}` : `stale route ${routeKey(r)}`, args: spec });
  }
  return fixes;
}

/**
 * Dual-stack: fixes that give the TUN exactly one global IPv6 address, `want.address6` (added
 * without DAD), and a main-table route for `want.network6` through it with no gateway, given its
 * addresses and the IPv6 main-table routes for exactly `want.network6`. Other IPv6 routes on the
 * TUN (the kernel's own for its address) are left alone. None without `want.address6`.
 */
export function planTunFixes6(want: TunWanted, addrs: readonly IpAddr[], networkRoutes: readonly IpRoute[]): Fix[] {
  if (want.address6 === undefined || want.network6 === undefined) return [];
  const fixes: Fix[] = [];
  const dev = want.name;
  const inet6 = addrs.filter((a) => a.family === 'inet6' && (a.scope ?? 'global') === 'global');
  for (const a of inet6) {
    const cidr = `${a.local}/${a.prefixlen}`;
    if (cidr !== want.address6) fixes.push({ why: `stale address ${cidr}`, args: ['addr', 'del', cidr, 'dev', dev] });
  }
  if (!inet6.some((a) => `${a.local}/${a.prefixlen}` === want.address6)) fixes.push({ why: `address ${want.address6} missing`, args: ['addr', 'add', want.address6, 'dev', dev, 'nodad'] });
  if (!networkRoutes.some((r) => r.dst === want.network6 && !r.gateway && r.dev === dev)) {
    const foreign = networkRoutes.find((r) => r.dst === want.network6);
    fixes.push({ why: foreign ? `route ${want.network6} goes to ${foreign.dev ?? foreign.gateway}` : `route ${want.network6} missing`, args: ['-6', 'route', 'replace', want.network6, 'dev', dev] });
  }
  return fixes;
}
