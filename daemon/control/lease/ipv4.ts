// IPv4 addresses as unsigned 32-bit numbers, CIDR subnets, and Flannel's subnet key format
// (`10.244.1.0-24`). Pure functions; no allocation beyond the returned values.
// The dotted-quad codec is the data plane's, so the daemon has one parser.
import { formatIpv4 as formatIPv4, parseIpv4 as parseIPv4 } from '../../dataplane/addr.js';

export { formatIPv4, parseIPv4 };

/** An IPv4 subnet: `base` is the network address (host bits zero), `len` the prefix length. */
export interface Subnet4 {
  readonly base: number;
  readonly len: number;
}

/** Number of addresses in a /len. */
export function subnetSize(len: number): number {
  return 2 ** (32 - len);
}

/** The network mask for /len as an unsigned number. */
export function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

/**
 * Parses `a.b.c.d/len`. Host bits are cleared (as Go's net.ParseCIDR, which Flannel uses);
 * `hostBitsSet` tells the caller they were present.
 */
export function parseCidr(s: string): (Subnet4 & { hostBitsSet: boolean }) | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIPv4(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (ip === null || !/^\d{1,2}$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > 32) return null;
  const base = (ip & maskOf(len)) >>> 0;
  return { base, len, hostBitsSet: base !== ip };
}

export function formatCidr(s: Subnet4): string {
  return `${formatIPv4(s.base)}/${s.len}`;
}

export function contains(net: Subnet4, ip: number): boolean {
  return ((ip & maskOf(net.len)) >>> 0) === net.base;
}

/** True when the two subnets share any address (one contains the other). */
export function overlaps(a: Subnet4, b: Subnet4): boolean {
  const len = Math.min(a.len, b.len);
  const m = maskOf(len);
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

export function sameSubnet(a: Subnet4, b: Subnet4): boolean {
  return a.base === b.base && a.len === b.len;
}

/** Flannel's key name for a subnet: `10.244.1.0-24` (MakeSubnetKey). */
export function subnetKeyName(s: Subnet4): string {
  return `${formatIPv4(s.base)}-${s.len}`;
}

const KEY_RE = /(\d+\.\d+\.\d+\.\d+)-(\d+)$/;

/**
 * Parses the last path element of a lease key (`…/subnets/10.244.1.0-24`). Dual-stack keys
 * (`…-24&fc00::-64`) and anything else return null.
 */
export function parseSubnetKeyName(key: string): Subnet4 | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const m = KEY_RE.exec(name);
  if (!m || m.index !== 0) return null;
  const parsed = parseCidr(`${m[1]}/${m[2]}`);
  if (!parsed || parsed.hostBitsSet) return null;
  return { base: parsed.base, len: parsed.len };
}
