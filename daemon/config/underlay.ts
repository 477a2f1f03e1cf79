// The underlay: which interface VXLAN leaves by, the public IP peers send to, and its MTU.
// Flannel's order: each --iface (name or IPv4) in turn, the first that exists with an IPv4
// address; then each --iface-regex in turn, matched against every IPv4 address, then every
// interface name; when neither is given, --iface-can-reach (the interface `ip route get <ip>`
// names); else the interface of the default route; else the single non-loopback IPv4 interface
// (several: an error naming --iface). --public-ip overrides the address advertised in the lease.
// An --iface value may also be an IPv6 address (the interface holding it). The IPv6 underlay, for
// a dual-stack lease (PublicIPv6), is on the same interface, as Flannel's --iface picks both
// families: its first global IPv6 address (not link-local, not loopback), or --public-ipv6.
// An --iface (or --iface-can-reach) interface without IPv4 serves with --public-ip, or, for an
// IPv6-only network (EnableIPv4 false), with a global IPv6 address or --public-ipv6: the underlay
// is then IPv6 alone (noIpv4; its IPv4 addresses are Flannel's zero 0.0.0.0, never bound or sent
// to), and weftd refuses it for a network config that enables IPv4.
// MTU comes from /sys/class/net/<iface>/mtu.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { WeftError } from '../errors.js';
import { formatIpv6, isIpv4Mapped, parseIpv6 } from '../net/ipv6.js';

export interface Underlay {
  readonly iface: string;
  /** 0.0.0.0 (NO_IPV4) when noIpv4. */
  readonly ifaceIp: string;
  /** 0.0.0.0 (NO_IPV4, Flannel's PublicIP of an IPv6-only lease) when noIpv4. */
  readonly publicIp: string;
  readonly mtu: number;
  /** The interface has no IPv4 address and no --public-ip was given: an IPv6-only underlay (ipv6 is set). */
  readonly noIpv4?: true;
  /** The IPv6 underlay on the same interface, when it has a global IPv6 address or --public-ipv6 is given. */
  readonly ipv6?: Underlay6 | undefined;
}

/** IPv6 addresses in Go's net.IP.String() form (formatIpv6), as leases carry them. */
export interface Underlay6 {
  /** The interface's first global IPv6 address; undefined when only --public-ipv6 gave one. */
  readonly ifaceIp: string | undefined;
  /** PublicIPv6: --public-ipv6, else ifaceIp. */
  readonly publicIp: string;
}

/** What the operator asked for; see the header for the order. */
export interface UnderlayRequest {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly ifaceCanReach: string | undefined;
  readonly publicIp: string | undefined;
  /** --public-ipv6, in formatIpv6 form. */
  readonly publicIpv6?: string | undefined;
}

/** The kernel's answer to `ip route get <--iface-can-reach>`: the device and its preferred source. */
export interface RouteAnswer {
  readonly dev: string;
  readonly prefsrc?: string;
}

export type InterfaceTable = Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;

/** The IPv4 addresses of an IPv6-only underlay (Go's zero ip.IP4, as Flannel's IPv6-only lease has it). */
export const NO_IPV4 = '0.0.0.0';

function fail(message: string): never {
  throw new WeftError('WEFT_ERR_UNDERLAY', message);
}

/** The interface of the IPv4 default route in /proc/net/route text (lowest metric). */
export function defaultRouteInterface(procNetRoute: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000') continue;
    const metric = Number(f[6]);
    if (!best || metric < best.metric) best = { iface: f[0], metric };
  }
  return best?.iface;
}

function ipv4Of(infos: readonly NetworkInterfaceInfo[] | undefined): string | undefined {
  return infos?.find((i) => i.family === 'IPv4')?.address;
}

/** `ip -j route get` output → the route's device and source; undefined when it names none. */
export function parseRouteGet(json: string): RouteAnswer | undefined {
  let routes: unknown;
  try {
    routes = JSON.parse(json);
  } catch {
    return undefined;
  }
  const r = Array.isArray(routes) ? (routes[0] as { dev?: unknown; prefsrc?: unknown } | undefined) : undefined;
  if (typeof r?.dev !== 'string') return undefined;
  return typeof r.prefsrc === 'string' ? { dev: r.dev, prefsrc: r.prefsrc } : { dev: r.dev };
}

interface Picked {
  readonly iface: string;
  readonly ifaceIp: string | undefined;
}

/** The first global IPv6 address (not loopback, link-local or IPv4-mapped), in formatIpv6 form. */
export function globalIpv6Of(infos: readonly NetworkInterfaceInfo[] | undefined): string | undefined {
  for (const i of infos ?? []) {
    if (i.family !== 'IPv6' || i.internal) continue;
    const v = parseIpv6(i.address);
    if (v === null || v === 1n || isIpv4Mapped(v) || v >> 118n === 0x3fan) continue;
    return formatIpv6(v);
  }
  return undefined;
}

/** One --iface value: an interface of that name, or the one holding that IPv4 (or IPv6) address. */
function byNameOrIp(wanted: string, ifaces: InterfaceTable): Picked | undefined {
  const byName = ifaces[wanted];
  if (byName) return { iface: wanted, ifaceIp: ipv4Of(byName) };
  const wanted6 = parseIpv6(wanted);
  for (const [name, infos] of Object.entries(ifaces)) {
    if (infos?.some((i) => i.family === 'IPv4' && i.address === wanted)) return { iface: name, ifaceIp: wanted };
    if (wanted6 !== null && infos?.some((i) => i.family === 'IPv6' && parseIpv6(i.address) === wanted6)) return { iface: name, ifaceIp: ipv4Of(infos) };
  }
  return undefined;
}

/** One --iface-regex: the first IPv4 address it matches, else the first interface name with an IPv4 address. */
function byRegex(pattern: string, ifaces: InterfaceTable): Picked | undefined {
  const re = new RegExp(pattern);
  const entries = Object.entries(ifaces);
  for (const [name, infos] of entries) {
    const hit = infos?.find((i) => i.family === 'IPv4' && re.test(i.address));
    if (hit) return { iface: name, ifaceIp: hit.address };
  }
  for (const [name, infos] of entries) if (re.test(name) && ipv4Of(infos)) return { iface: name, ifaceIp: ipv4Of(infos) };
  return undefined;
}

function listInterfaces(ifaces: InterfaceTable): string {
  return Object.entries(ifaces).map(([n, infos]) => `${n}${ipv4Of(infos) ? ` ${ipv4Of(infos)}` : ''}`).join(', ');
}

/** Picks from --iface then --iface-regex, in order; undefined when neither was given. */
function pickRequested(req: UnderlayRequest, ifaces: InterfaceTable): Picked | undefined {
  if (req.iface.length === 0 && req.ifaceRegex.length === 0) return undefined;
  const named = req.iface.map((w) => byNameOrIp(w, ifaces));
  const usable = named.find((p) => p?.ifaceIp !== undefined);
  if (usable) return usable;
  for (const r of req.ifaceRegex) {
    const hit = byRegex(r, ifaces);
    if (hit) return hit;
  }
  // An interface without IPv4 serves only with --public-ip (the address VXLAN is sent to).
  const bare = named.find((p) => p !== undefined);
  if (bare && (req.publicIp || req.publicIpv6 || globalIpv6Of(ifaces[bare.iface]))) return bare;
  const tried = [...req.iface.map((i) => `--iface ${i}`), ...req.ifaceRegex.map((r) => `--iface-regex ${r}`)].join(', ');
  if (bare) fail(`${tried}: ${bare.iface} has no IPv4 address and nothing else matched; give it one or set --public-ip (or, for an IPv6-only network, give it a global IPv6 address or set --public-ipv6)`);
  return fail(`${tried}: no interface has that name or IPv4 address, or matches (have: ${listInterfaces(ifaces)})`);
}

/** Chooses the underlay interface and addresses (pure); `canReach` is the route to --iface-can-reach. */
export function chooseUnderlay(
  req: UnderlayRequest,
  ifaces: InterfaceTable,
  defaultRouteIface: string | undefined,
  canReach?: RouteAnswer,
): Omit<Underlay, 'mtu'> {
  let picked = pickRequested(req, ifaces);
  if (!picked && req.ifaceCanReach !== undefined) {
    if (!canReach) fail(`--iface-can-reach ${req.ifaceCanReach}: no route to it; add one or choose the underlay with --iface`);
    const ifaceIp = canReach.prefsrc ?? ipv4Of(ifaces[canReach.dev]);
    if (!ifaceIp && !req.publicIp && !req.publicIpv6 && !globalIpv6Of(ifaces[canReach.dev])) fail(`--iface-can-reach ${req.ifaceCanReach}: the route leaves by ${canReach.dev}, which has no IPv4 address; give it one or set --public-ip`);
    picked = { iface: canReach.dev, ifaceIp };
  }
  if (!picked && defaultRouteIface && ipv4Of(ifaces[defaultRouteIface])) {
    picked = { iface: defaultRouteIface, ifaceIp: ipv4Of(ifaces[defaultRouteIface]) };
  }
  if (!picked) {
    const candidates = Object.entries(ifaces).filter(([, infos]) => infos?.some((i) => i.family === 'IPv4' && !i.internal));
    if (candidates.length === 0) fail('no default route and no non-loopback IPv4 interface; choose the underlay with --iface (and --public-ip)');
    if (candidates.length > 1) fail(`no default route and several IPv4 interfaces (${candidates.map(([n]) => n).join(', ')}); choose one with --iface`);
    picked = { iface: candidates[0][0], ifaceIp: ipv4Of(candidates[0][1]) };
  }
  const ifaceIp6 = globalIpv6Of(ifaces[picked.iface]);
  const publicIp6 = req.publicIpv6 ?? ifaceIp6;
  const publicIp = req.publicIp ?? picked.ifaceIp;
  if (!publicIp && publicIp6) return { iface: picked.iface, ifaceIp: NO_IPV4, publicIp: NO_IPV4, noIpv4: true, ipv6: { ifaceIp: ifaceIp6, publicIp: publicIp6 } };
  if (!publicIp) return fail('could not determine the underlay address; set --iface and --public-ip');
  const chosen = { iface: picked.iface, ifaceIp: picked.ifaceIp ?? publicIp, publicIp };
  return publicIp6 ? { ...chosen, ipv6: { ifaceIp: ifaceIp6, publicIp: publicIp6 } } : chosen;
}

/** `ip -j route get <ip>` in weftd's own network namespace; undefined when there is no route. */
function routeTo(ip: string): RouteAnswer | undefined {
  let out: string;
  try {
    out = execFileSync('ip', ['-j', 'route', 'get', ip], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return fail(`--iface-can-reach needs the ip command (iproute2): ${e.message}`);
    return undefined; // "Network is unreachable" and the like
  }
  return parseRouteGet(out);
}

/** Resolves the underlay from this host's interfaces, routes and sysfs. */
export function resolveUnderlay(req: UnderlayRequest): Underlay {
  let routes = '';
  try {
    routes = readFileSync('/proc/net/route', 'utf8');
  } catch {
    routes = '';
  }
  const canReach = req.iface.length === 0 && req.ifaceRegex.length === 0 && req.ifaceCanReach !== undefined ? routeTo(req.ifaceCanReach) : undefined;
  const chosen = chooseUnderlay(req, networkInterfaces(), defaultRouteInterface(routes), canReach);
  let mtu: number;
  try {
    mtu = Number(readFileSync(`/sys/class/net/${chosen.iface}/mtu`, 'utf8').trim());
  } catch (err) {
    return fail(`cannot read the MTU of ${chosen.iface} from /sys/class/net/${chosen.iface}/mtu: ${(err as Error).message}`);
  }
  if (!Number.isInteger(mtu) || mtu <= 0) fail(`/sys/class/net/${chosen.iface}/mtu holds no MTU`);
  return { ...chosen, mtu };
}
