// weft's IPv6 vocabulary for set-up code (weft-cni's subnet file, the ip6tables rules): addresses and
// CIDRs parsed by one strict set of rules and handed on as bigints. No third-party imports: weft-cni
// loads this file and must start fast (ipv6.ts, which uses ipaddr.js, stays out of weft-cni).
//
// Rules (refused input gives null):
//   address   RFC 4291 §2.2 text: eight groups of 1..4 hex digits (either case) joined by ':', one
//             '::' standing for one or more zero groups, the last 32 bits optionally a dotted quad
//             by ipv4.ts's rules ('::ffff:10.0.0.1'). No zone ('%eth0'), brackets or whitespace.
//   CIDR      <address>/<len>, len decimal 0..128 without leading zeros; host bits may be set.
//   subnet    a CIDR naming a network: parseSubnet6 refuses host bits, subnetOf6 clears them.
// formatIpv6 writes RFC 5952's form (lowercase, leading zeros dropped, the longest run of two or
// more zero groups as '::', the first on a tie), the form Go's net.IP.String and the CNI plugins print.
import { parseIpv4 } from './ipv4.js';

/** An IPv6 network: `base` has its host bits zero, `len` is the prefix length. */
export interface Subnet6 {
  readonly base: bigint;
  readonly len: number;
}

/** An address with a prefix length, as written: host bits of `ip` may be set. */
export interface Cidr6 {
  readonly ip: bigint;
  readonly len: number;
}

const GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX_LEN = /^(0|[1-9][0-9]{0,2})$/;
const ALL = (1n << 128n) - 1n;

/** Groups of one side of '::' (or of the whole address), as 16-bit numbers; null when malformed. */
function groups(text: string, allowQuad: boolean): number[] | null {
  if (text === '') return [];
  const parts = text.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (allowQuad && i === parts.length - 1 && p.includes('.')) {
      const v4 = parseIpv4(p);
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else if (GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else {
      return null;
    }
  }
  return out;
}

/** 'fd00:10:244::1' → bigint; null when not an address by the rules above. */
export function parseIpv6(s: string): bigint | null {
  const gap = s.indexOf('::');
  let all: number[];
  if (gap < 0) {
    const g = groups(s, true);
    if (g === null || g.length !== 8) return null;
    all = g;
  } else {
    if (s.indexOf('::', gap + 1) >= 0) return null;
    const head = groups(s.slice(0, gap), false);
    const tail = groups(s.slice(gap + 2), true);
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  let v = 0n;
  for (const g of all) v = (v << 16n) | BigInt(g);
  return v;
}

export function formatIpv6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let bestAt = -1;
  let bestLen = 1; // a single zero group is written as 0, not ::
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => g.slice(from, to).map((x) => x.toString(16)).join(':');
  return bestAt < 0 ? hex(0, 8) : `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
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

export function prefixMask6(len: number): bigint {
  return (ALL << BigInt(128 - len)) & ALL;
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

/** True when every address of `inner` is in `outer`. */
export function within6(inner: Subnet6, outer: Subnet6): boolean {
  return inner.len >= outer.len && (inner.base & prefixMask6(outer.len)) === outer.base;
}
