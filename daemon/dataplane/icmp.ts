// ICMP destination unreachable (net unreachable) for a packet the data plane cannot route, built in
// place in the headroom before the packet and written back to the TUN.
import { finish, sum16 } from './checksum.js';
import { ICMP_DEST_UNREACHABLE, ICMP_HEADER_SIZE, ICMP_NET_UNREACHABLE, IP_PROTO_ICMP, IPV4_MIN_HEADER_SIZE } from './constants.js';

/** Headroom the reply needs before the packet: IPv4 + ICMP header. */
export const ICMP_REPLY_HEADER = IPV4_MIN_HEADER_SIZE + ICMP_HEADER_SIZE;

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
