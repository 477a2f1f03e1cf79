// The underlay: which interface VXLAN leaves by, the public IP peers send to, and its MTU.
//   --iface (name or IPv4) → else the interface of the default route → else the single
//   non-loopback IPv4 interface (several: an error naming --iface). --public-ip overrides the
//   address advertised in the lease. MTU comes from /sys/class/net/<iface>/mtu.
import { readFileSync } from 'node:fs';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { WeftError } from '../errors.js';

export interface Underlay {
  readonly iface: string;
  readonly ifaceIp: string;
  readonly publicIp: string;
  readonly mtu: number;
}

export type InterfaceTable = Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>;

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

/** Chooses the underlay interface and addresses (pure). */
export function chooseUnderlay(
  opts: { iface: string | undefined; publicIp: string | undefined },
  ifaces: InterfaceTable,
  defaultRouteIface: string | undefined,
): { iface: string; ifaceIp: string; publicIp: string } {
  let iface: string | undefined;
  let ifaceIp: string | undefined;
  if (opts.iface !== undefined) {
    const byName = ifaces[opts.iface];
    if (byName) {
      iface = opts.iface;
      ifaceIp = ipv4Of(byName);
      if (!ifaceIp && !opts.publicIp) fail(`--iface ${opts.iface} has no IPv4 address; give it one or set --public-ip`);
    } else {
      for (const [name, infos] of Object.entries(ifaces)) {
        if (infos?.some((i) => i.family === 'IPv4' && i.address === opts.iface)) {
          iface = name;
          ifaceIp = opts.iface;
        }
      }
      if (!iface) fail(`--iface ${opts.iface}: no interface has that name or IPv4 address (have: ${Object.keys(ifaces).join(', ')})`);
    }
  } else if (defaultRouteIface && ipv4Of(ifaces[defaultRouteIface])) {
    iface = defaultRouteIface;
    ifaceIp = ipv4Of(ifaces[defaultRouteIface]);
  } else {
    const candidates = Object.entries(ifaces).filter(([, infos]) => infos?.some((i) => i.family === 'IPv4' && !i.internal));
    if (candidates.length === 0) fail('no default route and no non-loopback IPv4 interface; choose the underlay with --iface (and --public-ip)');
    if (candidates.length > 1) fail(`no default route and several IPv4 interfaces (${candidates.map(([n]) => n).join(', ')}); choose one with --iface`);
    iface = candidates[0][0];
    ifaceIp = ipv4Of(candidates[0][1]);
  }
  const publicIp = opts.publicIp ?? ifaceIp;
  if (!iface || !publicIp) return fail('could not determine the underlay address; set --iface and --public-ip');
  return { iface, ifaceIp: ifaceIp ?? publicIp, publicIp };
}

/** Resolves the underlay from this host's interfaces, routes and sysfs. */
export function resolveUnderlay(opts: { iface: string | undefined; publicIp: string | undefined }): Underlay {
  let routes = '';
  try {
    routes = readFileSync('/proc/net/route', 'utf8');
  } catch {
    routes = '';
  }
  const chosen = chooseUnderlay(opts, networkInterfaces(), defaultRouteInterface(routes));
  let mtu: number;
  try {
    mtu = Number(readFileSync(`/sys/class/net/${chosen.iface}/mtu`, 'utf8').trim());
  } catch (err) {
    return fail(`cannot read the MTU of ${chosen.iface} from /sys/class/net/${chosen.iface}/mtu: ${(err as Error).message}`);
  }
  if (!Number.isInteger(mtu) || mtu <= 0) fail(`/sys/class/net/${chosen.iface}/mtu holds no MTU`);
  return { ...chosen, mtu };
}
