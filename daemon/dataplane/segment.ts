// TCP segmentation of an inner IPv4 or IPv6 super-packet, in place.
//
// A kernel VXLAN peer on the same host (flannel.1 or flannel-v6.1 over veth) hands its TSO segments
// to the UDP layer unsegmented, and a plain UDP socket receives them as one datagram of up to 64 KiB
// carrying one TCP super-segment (with a partial checksum). The TUN takes MTU-sized packets, so it
// is cut here into segments of at most `mtu` bytes: any cut is a valid TCP segmentation. The same
// cut serves TUN TSO reads once offloads exist (issue 7).
//
// Layout: segment i is written at ip + i * (gap + H + M) (H = IP + TCP header bytes, M = payload
// per segment, gap = bytes left free before each segment after the first, e.g. for its VXLAN
// header). Its payload comes from ip + H + i * M, never behind where it goes, so working from the
// last segment to the first needs no scratch memory; the buffer needs (k − 1) * (gap + H) bytes
// of slack after the packet.
import { finish, ipv4PseudoSum, ipv6PseudoSum, storeIpv4HeaderChecksum, sum16 } from './checksum.js';
import { IP_PROTO_TCP, IPV6_HEADER_SIZE, TCP_CHECKSUM_OFFSET } from './constants.js';

const TCP_FIN = 0x01;
const TCP_PSH = 0x08;
const TCP_CWR = 0x80;

/** Bytes of slack a super-packet of `total` bytes needs after it to be cut for `mtu`. */
export function segmentSlack(total: number, headerLen: number, mtu: number, gap = 0, mss = mtu - headerLen): number {
  const k = Math.ceil((total - headerLen) / mss);
  return (k - 1) * (headerLen + gap);
}

/**
 * Cuts the IPv4/TCP packet at u8[ip, ip+total) into segments of at most mtu bytes (payload at most
 * mss), in place. The TCP checksum is recomputed per segment, so the packet's own may be partial;
 * verify it first when it may be wrong. Returns the number of segments k (segment i at
 * ip + i * (gap + H + M); the last one shorter), 0 if the packet cannot be cut (not TCP,
 * fragment, headers leave no room).
 */
export function segmentTcpInPlace(u8: Uint8Array, ip: number, total: number, mtu: number, gap = 0, mssLimit = 0): number {
  if (u8[ip + 9] !== IP_PROTO_TCP || (((u8[ip + 6] << 8) | u8[ip + 7]) & 0x3fff) !== 0) return 0;
  return cut(u8, ip, (u8[ip] & 0x0f) << 2, false, total, mtu, gap, mssLimit);
}

/**
 * segmentTcpInPlace for the IPv6/TCP packet at u8[ip, ip+total) (total = 40 + payload length):
 * each segment gets its payload length; there is no IP id or header checksum; the TCP checksum
 * covers the IPv6 pseudo-header. Returns 0, leaving the packet alone, when the fixed header is not
 * followed by TCP (extension headers are not cut).
 */
export function segmentTcp6InPlace(u8: Uint8Array, ip: number, total: number, mtu: number, gap = 0, mssLimit = 0): number {
  if (u8[ip + 6] !== IP_PROTO_TCP) return 0;
  return cut(u8, ip, IPV6_HEADER_SIZE, true, total, mtu, gap, mssLimit);
}

function cut(u8: Uint8Array, ip: number, ihl: number, v6: boolean, total: number, mtu: number, gap: number, mssLimit: number): number {
  const tcp = ip + ihl;
  const thl = (u8[tcp + 12] >> 4) << 2;
  const h = ihl + thl;
  const m = mssLimit > 0 && mssLimit < mtu - h ? mssLimit : mtu - h;
  if (thl < 20 || m < 8 || total <= h) return 0;
  const payload = total - h;
  const k = Math.ceil(payload / m);
  const stride = gap + h + m;
  const id = v6 ? 0 : (u8[ip + 4] << 8) | u8[ip + 5];
  const seq = ((u8[tcp + 4] << 24) | (u8[tcp + 5] << 16) | (u8[tcp + 6] << 8) | u8[tcp + 7]) >>> 0;
  const flags = u8[tcp + 13];
  for (let i = k - 1; i >= 0; i--) {
    const out = ip + i * stride;
    const len = i === k - 1 ? payload - i * m : m;
    if (i > 0) {
      u8.copyWithin(out + h, ip + h + i * m, ip + h + i * m + len);
      u8.copyWithin(out, ip, ip + h);
    }
    if (v6) {
      const plen = thl + len;
      u8[out + 4] = plen >>> 8;
      u8[out + 5] = plen & 0xff;
    } else {
      const segTotal = h + len;
      u8[out + 2] = segTotal >>> 8;
      u8[out + 3] = segTotal & 0xff;
      const segId = (id + i) & 0xffff;
      u8[out + 4] = segId >>> 8;
      u8[out + 5] = segId & 0xff;
      storeIpv4HeaderChecksum(u8, out, ihl);
    }
    const t = out + ihl;
    const s = (seq + i * m) >>> 0;
    u8[t + 4] = s >>> 24;
    u8[t + 5] = (s >>> 16) & 0xff;
    u8[t + 6] = (s >>> 8) & 0xff;
    u8[t + 7] = s & 0xff;
    let f = flags;
    if (i !== k - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    u8[t + 13] = f;
    u8[t + TCP_CHECKSUM_OFFSET] = 0;
    u8[t + TCP_CHECKSUM_OFFSET + 1] = 0;
    const pseudo = v6 ? ipv6PseudoSum(u8, out, IP_PROTO_TCP, thl + len) : ipv4PseudoSum(u8, out, IP_PROTO_TCP, thl + len);
    const c = finish(sum16(u8, t, thl + len, pseudo));
    u8[t + TCP_CHECKSUM_OFFSET] = c >>> 8;
    u8[t + TCP_CHECKSUM_OFFSET + 1] = c & 0xff;
  }
  return k;
}
