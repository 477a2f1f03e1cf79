// weft's one IPv6 vocabulary, beside ipv4.ts: addresses, CIDRs, subnets and the IPv6 half of
// Flannel's subnet key names, parsed by one strict set of rules and handed between modules as
// bigints. Set-up code only, never per packet. No third-party imports, so weft-cni may load it
// (test/unit/net/ipv6.test.ts checks it against ipaddr.js).
//
// Rules (refused input gives null, or a WEFT_ERR_CONFIG from the require* forms):
//   address   RFC 4291 text as Go's net.ParseIP reads it: eight groups of 1..4 hex digits (either
//             case) joined by ':', at most one '::' standing for one or more zero groups, and an
//             optional dotted quad (ipv4.ts rules) as the last 32 bits. No zone ('%eth0'), no
//             brackets, no whitespace, no IPv4 address alone.
//   CIDR      <address>/<len>, len decimal 0..128 without leading zeros; host bits as written.
//   subnet    a CIDR naming a network: parseSubnet6 refuses host bits; subnetOf6 clears them
//             (Go's net.ParseCIDR, which Flannel applies to IPv6Network).
//   output    formatIpv6 is Go's net.IP.String(): lower-case hex, no leading zeros, the longest
//             run (first of equals) of two or more zero groups written '::', and an IPv4-mapped
//             address (::ffff:0:0/96) as its bare dotted quad. Flannel writes keys, lease values
//             and subnet.env with it, so weft's bytes equal Flannel's.
import { WeftError } from '../errors.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';

const GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LEN = /^(0|[1-9][0-9]{0,2})$/;
const ALL = (1n << 128n) - 1n;
/** The IPv6 half of a dual-stack key name, as Flannel's ParseSubnetKey admits it: `fd00:10:244:1::-64`. */
const KEY_NAME6 = /^([0-9a-f:]+)-([0-9]+)$/;

/** An IPv6 network: `base` is the network address (host bits zero), `len` its prefix length. */
export interface Subnet6 {
  readonly base: bigint;
  readonly len: number;
}

/** An address with a prefix length, as written: host bits of `ip` may be set. */
export interface Cidr6 {
  readonly ip: bigint;
  readonly len: number;
}

function groupsOf(part: string): number[] | null {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!GROUP.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** 'fd00:10:244:1::' → 128-bit value; null when not an IPv6 address by the rules above. */
export function parseIpv6(s: string): bigint | null {
  if (s.length < 2 || s.length > 45) return null;
  let text = s;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = lastColon < 0 ? null : parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >>> 16, v4 & 0xffff];
    const head = text.slice(0, lastColon + 1);
    text = head.endsWith('::') ? head : head.slice(0, -1);
    if (text === '') return null;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  let groups: number[];
  if (halves.length === 2) {
    const head = groupsOf(halves[0]);
    const rest = groupsOf(halves[1]);
    if (!head || !rest) return null;
    const zeros = 8 - tail.length - head.length - rest.length;
    if (zeros < 1) return null;
    groups = [...head, ...new Array<number>(zeros).fill(0), ...rest, ...tail];
  } else {
    const all = groupsOf(text);
    if (!all) return null;
    groups = [...all, ...tail];
  }
  if (groups.length !== 8) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}

/** Go's net.IP.String() of a 16-byte address (see the rules above). */
export function formatIpv6(v: bigint): string {
  if (v >> 32n === 0xffffn) return formatIpv4(Number(v & 0xffffffffn));
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

/** True for an IPv6 address by the rules above ('fd00::1', '::ffff:10.0.0.1'). */
export function isIpv6(s: string): boolean {
  return parseIpv6(s) !== null;
}

/** True for an address in ::ffff:0:0/96 (an IPv4 address in IPv6 clothing; Go prints it as IPv4). */
export function isIpv4Mapped(v: bigint): boolean {
  return v >> 32n === 0xffffn;
}

/** 'fd00:10:244:1::1/64' → { ip, len }, host bits as written; null when malformed. */
export function parseCidr6(s: string): Cidr6 | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIpv6(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (ip === null || !PREFIX_LEN.test(lenText)) return null;
  const len = Number(lenText);
  return len > 128 ? null : { ip, len };
}

/** Netmask for a prefix length. */
export function prefixMask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

/** Number of addresses in a /len. */
export function subnetSize6(len: number): bigint {
  return 1n << BigInt(128 - len);
}

/** The network a CIDR lies in: host bits cleared. */
export function subnetOf6(c: Cidr6): Subnet6 {
  return { base: c.ip & prefixMask6(c.len), len: c.len };
}

/** 'fd00:10:244::/56' → { base, len }; null when malformed or host bits are set. */
export function parseSubnet6(s: string): Subnet6 | null {
  const c = parseCidr6(s);
  if (c === null || (c.ip & ~prefixMask6(c.len) & ALL) !== 0n) return null;
  return { base: c.ip, len: c.len };
}

export function formatCidr6(s: Subnet6): string {
  return `${formatIpv6(s.base)}/${s.len}`;
}

export function contains6(net: Subnet6, ip: bigint): boolean {
  return (ip & prefixMask6(net.len)) === net.base;
}

/** True when the two subnets share any address (one contains the other). */
export function overlaps6(a: Subnet6, b: Subnet6): boolean {
  const m = prefixMask6(Math.min(a.len, b.len));
  return (a.base & m) === (b.base & m);
}

export function sameSubnet6(a: Subnet6 | undefined, b: Subnet6 | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.base === b.base && a.len === b.len);
}

/** The IPv6 half of Flannel's key name: `fd00:10:244:1::-64` (IP6Net.StringSep(":", "-")). */
export function subnetKeyName6(s: Subnet6): string {
  return `${formatIpv6(s.base)}-${s.len}`;
}

/** Parses the IPv6 half of a key name by the subnet rules and Flannel's key regex (lower-case hex only). */
export function parseSubnetKeyName6(name: string): Subnet6 | null {
  const m = KEY_NAME6.exec(name);
  return m ? parseSubnet6(`${m[1]}/${m[2]}`) : null;
}

export function requireIpv6(field: string, s: string): bigint {
  const v = parseIpv6(s);
  if (v === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not an IPv6 address (expected e.g. fd00:198:18::1, without a zone or brackets)`);
  if (isIpv4Mapped(v)) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is an IPv4-mapped address; give the IPv4 address to the IPv4 flag instead`);
  return v;
}

/** The 16 bytes of an address in network order (what sockets and packets carry). */
export function ipv6Bytes(v: bigint): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** The address in u8[at, at + 16) (network order). */
export function ipv6FromBytes(u8: Uint8Array, at = 0): bigint {
  let v = 0n;
  for (let i = at; i < at + 16; i++) v = (v << 8n) | BigInt(u8[i]);
  return v;
}
