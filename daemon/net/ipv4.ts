// weft's one IPv4 vocabulary, below both planes: addresses, CIDRs, subnets and Flannel's subnet key
// names, parsed by one strict set of rules and handed between modules as numbers. Set-up code only
// (config, leases, gossip, route-table builds, weft-cni), never per packet. No third-party imports:
// weft-cni loads this file and must start fast.
//
// Rules (refused input gives null, or a WEFT_ERR_CONFIG from the require* forms):
//   address   four decimal octets 0..255 joined by '.': no leading zeros ('010'), no hex ('0x0a')
//             or octal forms, no fewer octets ('10.1'), no empty octet, no sign, no whitespace.
//   CIDR      <address>/<len>, len decimal 0..32 without leading zeros. Host bits may be set:
//             parseCidr keeps the address as written (FLANNEL_SUBNET=10.244.1.1/24).
//   subnet    a CIDR naming a network: parseSubnet refuses host bits; subnetOf clears them (Go's
//             net.ParseCIDR, which Flannel applies to Network).
// Addresses and bases are uint32 (host order); prefixMask is int32 for the data plane's int32 reads.
import { WeftError } from '../errors.js';

const OCTET = '(0|[1-9][0-9]{0,2})';
const IPV4 = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const PREFIX_LEN = /^(0|[1-9][0-9]?)$/;
/** The last path element of a lease key: `10.244.1.0-24`. */
const KEY_NAME = /^([0-9.]+)-([0-9]+)$/;

/** An IPv4 network: `base` is the network address (host bits zero, uint32), `len` its prefix length. */
export interface Subnet4 {
  readonly base: number;
  readonly len: number;
}

/** An address with a prefix length, as written: host bits of `ip` may be set. */
export interface Cidr4 {
  readonly ip: number;
  readonly len: number;
}

/** '10.244.1.0' → 0x0af40100 (uint32); null when not a strict dotted quad (see the rules above). */
export function parseIpv4(s: string): number | null {
  const m = IPV4.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** '10.244.1.1/24' → { ip, len }, host bits as written; null when malformed. */
export function parseCidr(s: string): Cidr4 | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIpv4(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (ip === null || !PREFIX_LEN.test(lenText)) return null;
  const len = Number(lenText);
  return len > 32 ? null : { ip, len };
}

/** The network a CIDR lies in: host bits cleared. */
export function subnetOf(c: Cidr4): Subnet4 {
  return { base: (c.ip & prefixMask(c.len)) >>> 0, len: c.len };
}

/** '10.244.0.0/16' → { base, len }; null when malformed or host bits are set. */
export function parseSubnet(s: string): Subnet4 | null {
  const c = parseCidr(s);
  if (c === null || (c.ip & ~prefixMask(c.len)) !== 0) return null;
  return { base: c.ip, len: c.len };
}

export function formatCidr(s: Subnet4): string {
  return `${formatIpv4(s.base)}/${s.len}`;
}

/** Netmask for a prefix length as int32 (so `(ip & mask) === base | 0` compares int32s). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) | 0;
}

/** Number of addresses in a /len. */
export function subnetSize(len: number): number {
  return 2 ** (32 - len);
}

export function contains(net: Subnet4, ip: number): boolean {
  return ((ip & prefixMask(net.len)) >>> 0) === net.base;
}

/** True when the two subnets share any address (one contains the other). */
export function overlaps(a: Subnet4, b: Subnet4): boolean {
  const m = prefixMask(Math.min(a.len, b.len));
  return (a.base & m) === (b.base & m);
}

/** True when every address of `inner` is in `outer`. */
export function within(inner: Subnet4, outer: Subnet4): boolean {
  return inner.len >= outer.len && contains(outer, inner.base);
}

export function sameSubnet(a: Subnet4, b: Subnet4): boolean {
  return a.base === b.base && a.len === b.len;
}

/** Flannel's key name for a subnet: `10.244.1.0-24` (MakeSubnetKey). */
export function subnetKeyName(s: Subnet4): string {
  return `${formatIpv4(s.base)}-${s.len}`;
}

/**
 * Parses the last path element of a lease key (`…/subnets/10.244.1.0-24`) by the subnet rules.
 * Dual-stack keys (`…-24&fc00::-64`) and anything else return null; subnet-key.ts reads both families.
 */
export function parseSubnetKeyName(key: string): Subnet4 | null {
  const m = KEY_NAME.exec(key.slice(key.lastIndexOf('/') + 1));
  return m ? parseSubnet(`${m[1]}/${m[2]}`) : null;
}

export function requireIpv4(field: string, s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not an IPv4 address (expected a.b.c.d)`);
  return v;
}

export function requireSubnet(field: string, s: string): Subnet4 {
  const c = parseSubnet(s);
  if (c === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not an IPv4 network (expected a.b.c.d/len with host bits zero)`);
  return c;
}
