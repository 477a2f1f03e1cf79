// What the kernel says of the TUN, read without starting a process. The --link-resync check runs
// `ip -j -batch` (a fork of weftd and an exec: about 3 ms of CPU, most of an idle weftd's cost
// outside gossip) only when this changed since the TUN was last found right. It covers everything
// reconcileTun() compares, coarser where that costs nothing: the link's index, flags and MTU
// (/sys/class/net), its addresses (getifaddrs), the whole main IPv4 table (/proc/net/route) and
// the IPv6 tables (/proc/net/ipv6_route) without their reference and use counts, and the TUN's
// IPv6 switches (/proc/sys). A route change anywhere on the node therefore costs one full check.
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { ipv6Enabled, ipv6NotQuiet } from '../../dataplane/index.js';

/** Columns of /proc/net/route and /proc/net/ipv6_route that count use, not state. */
const ROUTE_COUNTERS = { '/proc/net/route': [4, 5], '/proc/net/ipv6_route': [6, 7] } as const;

/** The TUN's fingerprint; undefined when its link cannot be read (gone: the full check says so). */
export function tunFingerprint(name: string): string | undefined {
  let link: string;
  try {
    link = ['ifindex', 'flags', 'mtu'].map((f) => readFileSync(`/sys/class/net/${name}/${f}`, 'utf8').trim()).join(' ');
  } catch {
    return undefined;
  }
  const addrs = (networkInterfaces()[name] ?? []).map((a) => `${a.cidr ?? `${a.address} ${a.netmask}`} ${a.family}`).sort();
  const routes = Object.entries(ROUTE_COUNTERS).map(([path, counters]) => table(path, counters));
  return JSON.stringify([link, addrs, routes, ipv6Enabled(name), ipv6NotQuiet(name)]);
}

function table(path: string, counters: readonly number[]): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/).filter((_, i) => !counters.includes(i)).join(' '));
}
