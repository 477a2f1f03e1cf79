// Address parsing for data plane set-up (never per packet). IPv4 addresses are uint32 in host
// order; the hot path stores them as int32 (`| 0`) so typed-array reads stay small integers.
import { WeftError } from '../errors.js';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** '10.244.1.0' → 0x0af40100; null if not a dotted quad (octets above 255, or with leading zeros). */
export function parseIpv4(s: string): number | null {
  const m = IPV4.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i];
    if (part.length > 1 && part[0] === '0') return null;
    const o = Number(part);
    if (o > 255) return null;
    v = v * 256 + o;
  }
  return v;
}

export function formatIpv4(v: number): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export interface Cidr {
  /** Network address (host bits cleared), uint32. */
  readonly base: number;
  readonly prefixLen: number;
}

/** '10.244.0.0/16' → { base, prefixLen }; null if malformed or host bits are set. */
export function parseCidr(s: string): Cidr | null {
  const slash = s.indexOf('/');
  if (slash < 0) return null;
  const base = parseIpv4(s.slice(0, slash));
  const lenText = s.slice(slash + 1);
  if (base === null || !/^\d{1,2}$/.test(lenText)) return null;
  const prefixLen = Number(lenText);
  if (prefixLen > 32) return null;
  if ((base & ~prefixMask(prefixLen)) !== 0) return null;
  return { base, prefixLen };
}

/** Netmask for a prefix length, as int32 (so `(ip & mask) === base | 0` compares int32s). */
export function prefixMask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) | 0;
}

/** 'aa:bb:cc:dd:ee:ff' → 6 bytes; null if malformed. */
export function parseMac(s: string): Uint8Array | null {
  if (!MAC.test(s)) return null;
  return Uint8Array.from(s.split(':'), (h) => parseInt(h, 16));
}

export function formatMac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(b[off + i].toString(16).padStart(2, '0'));
  return parts.join(':');
}

export function requireIpv4(field: string, s: string): number {
  const v = parseIpv4(s);
  if (v === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not an IPv4 address (expected a.b.c.d)`);
  return v;
}

export function requireCidr(field: string, s: string): Cidr {
  const c = parseCidr(s);
  if (c === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not an IPv4 network (expected a.b.c.d/len with host bits zero)`);
  return c;
}

export function requireMac(field: string, s: string): Uint8Array {
  const m = parseMac(s);
  if (m === null) throw new WeftError('WEFT_ERR_CONFIG', `${field}: '${s}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
  return m;
}
