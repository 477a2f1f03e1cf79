// ICMP destination unreachable (net unreachable) for a packet the data plane cannot route, and
// ICMPv6 Packet Too Big for one its path cannot carry, built in place in the headroom before the
// packet and written back to the TUN.
import { finish, ipv6PseudoSum, sum16 } from './checksum.js';
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_HEADER_SIZE,
  ICMP_NET_UNREACHABLE,
  ICMPV6_DEST_UNREACHABLE,
  ICMPV6_ERROR_TYPES_BELOW,
  ICMPV6_NO_ROUTE,
  ICMPV6_PACKET_TOO_BIG,
  IP_PROTO_ICMP,
  IP_PROTO_ICMPV6,
  IPV4_MIN_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  IPV6_MIN_MTU,
} from './constants.js';

/** Headroom the reply needs before the packet: IPv4 + ICMP header. */
export const ICMP_REPLY_HEADER = IPV4_MIN_HEADER_SIZE + ICMP_HEADER_SIZE;
/** Headroom an ICMPv6 reply needs before the packet: IPv6 + ICMPv6 header. */
export const ICMPV6_REPLY_HEADER = IPV6_HEADER_SIZE + ICMP_HEADER_SIZE;

/**
 * Builds, in the ICMP_REPLY_HEADER bytes before the IPv4 packet at u8[off, off+len), an ICMP net
 * unreachable for it, quoting its header and 8 bytes in place. The reply's source is the
 * unreachable destination (not a local address, so the kernel accepts it from the TUN; routed back
 * through the TUN, so it passes reverse-path filtering). Returns the reply length (it starts at
 * off − ICMP_REPLY_HEADER), or 0 when no reply is due (ICMP errors, non-first fragments,
 * unspecified or multicast sources).
 */
export function writeNetUnreachable(u8: Uint8Array, off: number, len: number): number {
  const ihl = (u8[off] & 0x0f) << 2;
  if (ihl < IPV4_MIN_HEADER_SIZE || ihl > len) return 0;
  if ((((u8[off + 6] << 8) | u8[off + 7]) & 0x1fff) !== 0) return 0;
  if (u8[off + 9] === IP_PROTO_ICMP && (ihl + 1 > len || !isIcmpQuery(u8[off + ihl]))) return 0;
  const srcHi = u8[off + 12];
  if ((srcHi | u8[off + 13] | u8[off + 14] | u8[off + 15]) === 0 || srcHi >= 224) return 0;
  const quoted = Math.min(len, ihl + 8);
  const total = ICMP_REPLY_HEADER + quoted;
  const r = off - ICMP_REPLY_HEADER;
  // ICMP header first (it sits right before the quote), then the IP header.
  const c = r + IPV4_MIN_HEADER_SIZE;
  u8[c] = ICMP_DEST_UNREACHABLE;
  u8[c + 1] = ICMP_NET_UNREACHABLE;
  u8.fill(0, c + 2, c + ICMP_HEADER_SIZE);
  const ic = finish(sum16(u8, c, ICMP_HEADER_SIZE + quoted, 0));
  u8[c + 2] = ic >>> 8;
  u8[c + 3] = ic & 0xff;
  u8[r] = 0x45;
  u8[r + 1] = 0xc0;
  u8[r + 2] = total >>> 8;
  u8[r + 3] = total & 0xff;
  u8.fill(0, r + 4, r + 8);
  u8[r + 8] = 64;
  u8[r + 9] = IP_PROTO_ICMP;
  u8[r + 10] = 0;
  u8[r + 11] = 0;
  // source = the original destination, destination = the original source
  u8[r + 12] = u8[off + 16];
  u8[r + 13] = u8[off + 17];
  u8[r + 14] = u8[off + 18];
  u8[r + 15] = u8[off + 19];
  u8[r + 16] = srcHi;
  u8[r + 17] = u8[off + 13];
  u8[r + 18] = u8[off + 14];
  u8[r + 19] = u8[off + 15];
  const hc = finish(sum16(u8, r, IPV4_MIN_HEADER_SIZE, 0));
  u8[r + 10] = hc >>> 8;
  u8[r + 11] = hc & 0xff;
  return total;
}

/** ICMP types that are queries (may be answered with an error); errors never are. */
function isIcmpQuery(type: number): boolean {
  return type === 8 || type === 13 || type === 15 || type === 17;
}

/**
 * The IPv6 twin of writeNetUnreachable: an ICMPv6 destination unreachable (no route to
 * destination) for the IPv6 packet at u8[off, off+len), built in the ICMPV6_REPLY_HEADER bytes
 * before it, quoting as much of it as keeps the reply within IPV6_MIN_MTU (RFC 4443 2.4(c)).
 * Source: the unreachable destination; destination: the original source. Returns the reply length
 * (it starts at off − ICMPV6_REPLY_HEADER), or 0 when no reply is due (RFC 4443 2.4(e): ICMPv6
 * errors, unspecified or multicast sources, multicast destinations; or a packet shorter than its header).
 */
export function writeNoRoute6(u8: Uint8Array, off: number, len: number): number {
  return writeError6(u8, off, len, ICMPV6_DEST_UNREACHABLE, ICMPV6_NO_ROUTE, 0);
}

/**
 * ICMPv6 Packet Too Big (RFC 4443 3.2) announcing `mtu` for the IPv6 packet at u8[off, off+len),
 * built as writeNoRoute6 builds its error (same source, quote, refusals and return value). The
 * sender's kernel caches `mtu` for the destination, as for a router's on the path.
 */
export function writePacketTooBig6(u8: Uint8Array, off: number, len: number, mtu: number): number {
  return writeError6(u8, off, len, ICMPV6_PACKET_TOO_BIG, 0, mtu);
}

/** An ICMPv6 error of `type`/`code` whose 32-bit field after the checksum is `word`. */
function writeError6(u8: Uint8Array, off: number, len: number, type: number, code: number, word: number): number {
  if (len < IPV6_HEADER_SIZE || u8[off] >> 4 !== 6) return 0;
  if (u8[off + 8] === 0xff || u8[off + 24] === 0xff || isUnspecified6(u8, off + 8)) return 0;
  if (u8[off + 6] === IP_PROTO_ICMPV6 && (len < IPV6_HEADER_SIZE + 1 || u8[off + IPV6_HEADER_SIZE] < ICMPV6_ERROR_TYPES_BELOW)) return 0;
  const quoted = Math.min(len, IPV6_MIN_MTU - ICMPV6_REPLY_HEADER);
  const payload = ICMP_HEADER_SIZE + quoted;
  const r = off - ICMPV6_REPLY_HEADER;
  u8[r] = 0x60;
  u8.fill(0, r + 1, r + 4);
  u8[r + 4] = payload >>> 8;
  u8[r + 5] = payload & 0xff;
  u8[r + 6] = IP_PROTO_ICMPV6;
  u8[r + 7] = 255;
  u8.copyWithin(r + 8, off + 24, off + 40); // source = the original destination
  u8.copyWithin(r + 24, off + 8, off + 24); // destination = the original source
  const c = r + IPV6_HEADER_SIZE;
  u8[c] = type;
  u8[c + 1] = code;
  u8[c + 2] = 0;
  u8[c + 3] = 0;
  u8[c + 4] = word >>> 24;
  u8[c + 5] = (word >>> 16) & 0xff;
  u8[c + 6] = (word >>> 8) & 0xff;
  u8[c + 7] = word & 0xff;
  const ic = finish(sum16(u8, c, payload, ipv6PseudoSum(u8, r, IP_PROTO_ICMPV6, payload)));
  u8[c + 2] = ic >>> 8;
  u8[c + 3] = ic & 0xff;
  return IPV6_HEADER_SIZE + payload;
}

function isUnspecified6(u8: Uint8Array, at: number): boolean {
  for (let i = 0; i < 16; i++) if (u8[at + i] !== 0) return false;
  return true;
}
