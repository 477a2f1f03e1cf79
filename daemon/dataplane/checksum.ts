// Internet checksum (RFC 1071) over caller-owned bytes, and the inner TCP/UDP check done on decap.
//
// Why decap touches L4 checksums: a Linux vxlan device (Flannel's flannel.1) sending over veth
// leaves the inner checksum CHECKSUM_PARTIAL — the field holds only the folded pseudo-header sum,
// to be finished by a NIC that never comes. Written to a TUN as is, the pod's TCP stack drops it.
// So each inner TCP/UDP packet is checked: valid → untouched; partial → finished here; anything
// else → dropped and counted.
import { IP_PROTO_TCP, IP_PROTO_UDP, IPV6_HEADER_SIZE, TCP_CHECKSUM_OFFSET, TCP_MIN_HEADER_SIZE, UDP_CHECKSUM_OFFSET, UDP_HEADER_SIZE } from './constants.js';

let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/**
 * Ones-complement sum of big-endian 16-bit words in u8[off, off+len), added to acc, not folded.
 * 4-byte aligned ranges are summed as little-endian 32-bit words (RFC 1071: the sum is byte-order
 * independent up to a final byte swap); the Uint32Array view is cached per buffer, so the data
 * plane's arena costs one view for its lifetime.
 */
export function sum16(u8: Uint8Array, off: number, len: number, acc: number): number {
  if (len < 32 || ((u8.byteOffset + off) & 3) !== 0) return sum16Bytes(u8, off, len, acc);
  const buf = u8.buffer;
  if (buf !== wordsOf) {
    words = new Uint32Array(buf, 0, buf.byteLength >>> 2);
    wordsOf = buf;
  }
  const w = words;
  const first = (u8.byteOffset + off) >>> 2;
  const n = len >>> 2;
  let s = 0;
  for (let i = first, end = first + n; i < end; i++) s += w[i];
  const f = fold(s);
  return sum16Bytes(u8, off + (n << 2), len & 3, acc + (((f & 0xff) << 8) | (f >>> 8)));
}

function sum16Bytes(u8: Uint8Array, off: number, len: number, acc: number): number {
  const end = off + len;
  const even = off + (len & ~1);
  let i = off;
  let s = 0;
  for (; i + 8 <= even; i += 8) {
    s += ((u8[i] << 8) | u8[i + 1]) + ((u8[i + 2] << 8) | u8[i + 3]) + ((u8[i + 4] << 8) | u8[i + 5]) + ((u8[i + 6] << 8) | u8[i + 7]);
  }
  for (; i < even; i += 2) s += (u8[i] << 8) | u8[i + 1];
  if (even < end) s += u8[even] << 8;
  return acc + s;
}

/** Folds a sum to 16 bits (result 0..0xffff). */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum to store for the bytes summed (complement of the folded sum). */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/** Computes and stores the header checksum of the IPv4 header of ihl bytes at ip. */
export function storeIpv4HeaderChecksum(u8: Uint8Array, ip: number, ihl: number): void {
  u8[ip + 10] = 0;
  u8[ip + 11] = 0;
  const c = finish(sum16(u8, ip, ihl, 0));
  u8[ip + 10] = c >>> 8;
  u8[ip + 11] = c & 0xff;
}

/** IPv4 pseudo-header sum (addresses from the IP header at ip, protocol, L4 length). */
export function ipv4PseudoSum(u8: Uint8Array, ip: number, proto: number, l4len: number): number {
  return sum16(u8, ip + 12, 8, proto + l4len);
}

/** Unfolded sum of the IPv6 pseudo-header (source, destination, upper-layer length, next header) of the packet at ip. */
export function ipv6PseudoSum(u8: Uint8Array, ip: number, proto: number, l4len: number): number {
  return sum16(u8, ip + 8, 32, proto + (l4len >>> 16) + (l4len & 0xffff));
}

export const L4_OK = 0;
export const L4_FINISHED = 1;
export const L4_BAD = -1;

/**
 * Checks the TCP/UDP checksum of the IPv4 packet at ip (header ihl bytes, total length total) and
 * finishes a partial one in place. Returns L4_OK, L4_FINISHED or L4_BAD. Other protocols,
 * fragments and UDP without a checksum are L4_OK (left for the receiver to judge).
 */
export function checkIpv4L4(u8: Uint8Array, ip: number, ihl: number, total: number): number {
  const proto = u8[ip + 9];
  if (proto !== IP_PROTO_TCP && proto !== IP_PROTO_UDP) return L4_OK;
  if ((((u8[ip + 6] << 8) | u8[ip + 7]) & 0x3fff) !== 0) return L4_OK; // MF or fragment offset
  const l4len = total - ihl;
  if (l4len < (proto === IP_PROTO_TCP ? TCP_MIN_HEADER_SIZE : UDP_HEADER_SIZE)) return L4_BAD;
  const at = ip + ihl + (proto === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET);
  if (proto === IP_PROTO_UDP && ((u8[at] << 8) | u8[at + 1]) === 0) return L4_OK;
  return checkL4(u8, proto, ip + ihl, l4len, ipv4PseudoSum(u8, ip, proto, l4len));
}

/**
 * The IPv6 twin of checkIpv4L4 for the packet at ip (total bytes, header included): TCP/UDP right
 * after the fixed 40-byte header (behind extension headers, and other next headers, L4_OK: the
 * receiving kernel checks). A UDP checksum of 0 is L4_BAD (mandatory over IPv6, RFC 8200 8.1).
 */
export function checkIpv6L4(u8: Uint8Array, ip: number, total: number): number {
  const proto = u8[ip + 6];
  if (proto !== IP_PROTO_TCP && proto !== IP_PROTO_UDP) return L4_OK;
  const l4len = total - IPV6_HEADER_SIZE;
  if (l4len < (proto === IP_PROTO_TCP ? TCP_MIN_HEADER_SIZE : UDP_HEADER_SIZE)) return L4_BAD;
  return checkL4(u8, proto, ip + IPV6_HEADER_SIZE, l4len, ipv6PseudoSum(u8, ip, proto, l4len));
}

/** The TCP/UDP segment at u8[l4, l4+l4len) against its pseudo-header sum: valid, partial (finished in place) or bad. */
function checkL4(u8: Uint8Array, proto: number, l4: number, l4len: number, pseudo: number): number {
  const at = l4 + (proto === IP_PROTO_TCP ? TCP_CHECKSUM_OFFSET : UDP_CHECKSUM_OFFSET);
  const stored = (u8[at] << 8) | u8[at + 1];
  const data = sum16(u8, l4, l4len, 0);
  if (fold(pseudo + data) === 0xffff) return L4_OK;
  if (stored !== fold(pseudo)) return L4_BAD;
  // Partial: data without the field, plus the pseudo-header, complemented.
  let c = finish(pseudo + data + (~stored & 0xffff));
  if (proto === IP_PROTO_UDP && c === 0) c = 0xffff;
  u8[at] = c >>> 8;
  u8[at + 1] = c & 0xff;
  return L4_FINISHED;
}
