// The per-batch packet logic of the data plane, over memory the native engine shares with it.
//
// Outbound (TUN → UDP), per packet of a batch:
//   1. parse the IPv4 destination; 2. subnet index → peer (RouteTable, O(1));
//   3. write VXLAN header + inner Ethernet into the ENCAP_SIZE bytes before the packet (headroom);
//   4. append (offset, length, peer public IP, port) to udpOut. No route → count, and write an
//      ICMP net-unreachable back to the TUN (built in the headroom, quoting the packet in place).
// Inbound (UDP → TUN), per datagram: validate VXLAN header, sender, inner Ethernet and IPv4,
//   source-in-sender's-subnet, destination-in-our-subnet, inner L4 checksum (finishing partial
//   ones); append (inner offset, inner length) to tunOut. A UDP GRO buffer is split into its
//   datagrams; a kernel TSO super-datagram is cut to the MTU (segment.ts).
// With TUN offloads: a TSO read is routed once and cut into MSS-sized datagrams (encapSuper), and
//   TCP runs of a GRO buffer are merged into one GSO write (coalesce.ts).
//
// Contracts: single-threaded; `onTun`/`onUdp` run synchronously inside the native callback and set
// ctl[CTL_UDP_OUT]/ctl[CTL_TUN_OUT]; every buffer is borrowed from the engine and only valid
// during the call. No allocation, exception or log per packet: drops are `drops[reason]++`.
import { checkIpv4L4, finish, L4_BAD, L4_FINISHED, sum16 } from './checksum.js';
import {
  CTL_TUN_OUT,
  CTL_UDP_OUT,
  ENCAP_SIZE,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ICMP_DEST_UNREACHABLE,
  ICMP_HEADER_SIZE,
  ICMP_NET_UNREACHABLE,
  IN_ADDR,
  IN_FLAG_TRUNCATED,
  IN_FLAGS,
  IN_FLAG_NEEDS_CSUM,
  IN_CSUM,
  IN_GSO_TYPE,
  IN_GSO_SIZE,
  IN_LENGTH,
  IN_OFFSET,
  IP_PROTO_ICMP,
  IP_PROTO_TCP,
  IPV4_MIN_HEADER_SIZE,
  META_STRIDE,
  TUN_OUT_LENGTH,
  TUN_OUT_FLAGS,
  TUN_OUT_GSO_TYPE,
  VIRTIO_GSO_ECN,
  VIRTIO_GSO_TCPV4,
  TUN_OUT_OFFSET,
  UDP_OUT_ADDR,
  UDP_OUT_LENGTH,
  UDP_OUT_OFFSET,
  UDP_OUT_PORT,
  VXLAN_FLAG_VNI,
  VXLAN_HEADER_SIZE,
} from './constants.js';
import { Count, Drop, DROP_COUNT, PEER_FIELDS, PeerCount } from './counters.js';
import type { RouteTable } from './route-table.js';
import { segmentSlack, segmentTcpInPlace } from './segment.js';
import { TcpCoalescer } from './coalesce.js';
import type { BatchMemory } from './native.js';


export interface ForwarderOptions {
  readonly vni: number;
  /** Destination UDP port of peers (Backend.Port). */
  readonly port: number;
  /** This node's subnet (uint32 base, prefix length = routes.subnetLen). */
  readonly localSubnetBase: number;
  readonly localVtepMac: Uint8Array;
  /** TUN MTU: larger inner TCP packets (kernel TSO super-packets) are cut to it. */
  readonly mtu: number;
  /** Bytes from a received datagram's offset to the end of its slot. */
  readonly udpCapacity: number;
  /** Bytes from a TUN packet's offset to the end of its slot (room for segmenting a TSO read). */
  readonly tunCapacity: number;
  /** The TUN carries virtio-net headers: TCP runs of a UDP GRO buffer are coalesced into GSO writes. */
  readonly tunOffloads?: boolean;
}

/** tunOut entries one received datagram may need (a 64 KiB super-packet cut to the MTU). */
export function maxSegments(mtu: number): number {
  return Math.ceil(65535 / (mtu - 60 - 60)) + 1;
}

/** Headroom a packet needs in front of it: ENCAP_SIZE outbound, 28 for an ICMP reply. */
const ICMP_REPLY_HEADER = IPV4_MIN_HEADER_SIZE + ICMP_HEADER_SIZE;

export class Forwarder {
  routes: RouteTable;
  /** Drop counters by reason (Drop.*). */
  readonly drops = new Float64Array(DROP_COUNT);
  /** Totals (Count.*). */
  readonly counts = new Float64Array(8);
  /** Result of the last decapOne that returned −1: the inner packet to write to the TUN. */
  innerOffset = 0;
  innerLength = 0;
  /** 0: one packet; k > 0: k segments at innerOffset + i * segmentStride, the last one shorter. */
  segments = 0;
  segmentStride = 0;
  private segmentHeader = 0;

  private readonly u8: Uint8Array;
  private readonly tunIn: Int32Array;
  private readonly udpIn: Int32Array;
  private readonly udpOut: Int32Array;
  private readonly tunOut: Int32Array;
  private readonly ctl: Int32Array;
  private readonly vni: number;
  private readonly mtu: number;
  private readonly udpCapacity: number;
  private readonly tunCapacity: number;
  /** Set with tunOffloads; its counters are reported as totals. */
  readonly coalescer: TcpCoalescer | null;
  private readonly port: number;
  private readonly localBase: number;
  private readonly localMask: number;
  private readonly mac0: number;
  private readonly mac1: number;
  private readonly mac2: number;
  private readonly mac3: number;
  private readonly mac4: number;
  private readonly mac5: number;
  private readonly vni0: number;
  private readonly vni1: number;
  private readonly vni2: number;

  constructor(mem: BatchMemory, routes: RouteTable, opts: ForwarderOptions) {
    this.u8 = new Uint8Array(mem.arena);
    this.tunIn = mem.tunIn;
    this.udpIn = mem.udpIn;
    this.udpOut = mem.udpOut;
    this.tunOut = mem.tunOut;
    this.ctl = mem.ctl;
    this.routes = routes;
    this.vni = opts.vni;
    this.mtu = opts.mtu;
    this.udpCapacity = opts.udpCapacity;
    this.tunCapacity = opts.tunCapacity;
    this.coalescer = opts.tunOffloads ? new TcpCoalescer(this.u8, this.tunOut) : null;
    this.vni0 = (opts.vni >>> 16) & 0xff;
    this.vni1 = (opts.vni >>> 8) & 0xff;
    this.vni2 = opts.vni & 0xff;
    this.port = opts.port;
    this.localBase = opts.localSubnetBase | 0;
    this.localMask = routes.subnetLen === 0 ? 0 : (0xffffffff << (32 - routes.subnetLen)) | 0;
    const m = opts.localVtepMac;
    this.mac0 = m[0];
    this.mac1 = m[1];
    this.mac2 = m[2];
    this.mac3 = m[3];
    this.mac4 = m[4];
    this.mac5 = m[5];
  }

  /** Native callback: `count` packets read from the TUN are described in tunIn. */
  readonly onTun = (count: number): void => {
    const tunIn = this.tunIn;
    const udpOut = this.udpOut;
    const tunOut = this.tunOut;
    let udpN = 0;
    let tunN = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = tunIn[m + IN_OFFSET];
      const len = tunIn[m + IN_LENGTH];
      const gsoType = tunIn[m + IN_GSO_TYPE] & ~VIRTIO_GSO_ECN;
      if (gsoType !== 0) {
        udpN = this.encapSuper(off, len, gsoType, tunIn[m + IN_GSO_SIZE], udpN);
        continue;
      }
      if ((tunIn[m + IN_FLAGS] & IN_FLAG_NEEDS_CSUM) !== 0) finishPartial(this.u8, off, len, tunIn[m + IN_CSUM]);
      const peer = this.encapOne(off, len);
      if (peer >= 0) {
        const o = udpN * META_STRIDE;
        udpOut[o + UDP_OUT_OFFSET] = off - ENCAP_SIZE;
        udpOut[o + UDP_OUT_LENGTH] = len + ENCAP_SIZE;
        udpOut[o + UDP_OUT_ADDR] = this.routes.peerPublicIp[peer];
        udpOut[o + UDP_OUT_PORT] = this.port;
        udpN++;
      } else if (peer === -2) {
        const replyLen = this.icmpNetUnreachable(off, len);
        if (replyLen > 0) {
          const o = tunN * META_STRIDE;
          tunOut[o + TUN_OUT_OFFSET] = off - ICMP_REPLY_HEADER;
          tunOut[o + TUN_OUT_LENGTH] = replyLen;
          tunOut[o + TUN_OUT_FLAGS] = 0;
          tunOut[o + TUN_OUT_GSO_TYPE] = 0;
          tunN++;
        }
      }
    }
    this.ctl[CTL_UDP_OUT] = udpN;
    this.ctl[CTL_TUN_OUT] = tunN;
  };

  /**
   * Native callback: `count` receive buffers are described in udpIn. A buffer with a UDP GRO
   * segment size holds several datagrams back to back (all of that size, the last one shorter),
   * unless it is one kernel TSO super-datagram (its inner IP length covers it all).
   */
  readonly onUdp = (count: number): void => {
    const udpIn = this.udpIn;
    const u8 = this.u8;
    let tunN = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = udpIn[m + IN_OFFSET];
      const len = udpIn[m + IN_LENGTH];
      const src = udpIn[m + IN_ADDR];
      const flags = udpIn[m + IN_FLAGS];
      const gso = udpIn[m + IN_GSO_SIZE];
      const whole = len >= ENCAP_SIZE + 4 && ((u8[off + ENCAP_SIZE + 2] << 8) | u8[off + ENCAP_SIZE + 3]) + ENCAP_SIZE === len;
      if (gso <= 0 || gso >= len || whole) {
        tunN = this.deliver(off, len, src, flags, this.udpCapacity - len, tunN);
        continue;
      }
      const end = off + len;
      const c = this.coalescer;
      for (let f = off; f < end; f += gso) {
        const n = Math.min(gso, end - f);
        if (c === null) {
          tunN = this.deliver(f, n, src, flags, 0, tunN);
          continue;
        }
        const reason = this.decapOne(f, n, src, flags, 0);
        if (reason >= 0) this.drops[reason]++;
        else tunN = c.add(this.innerOffset, this.innerLength, tunN);
      }
      if (c !== null) c.close();
    }
    this.ctl[CTL_UDP_OUT] = 0;
    this.ctl[CTL_TUN_OUT] = tunN;
  };

  /** Decaps one datagram and appends its packet(s) to tunOut from index tunN; returns the new count. */
  private deliver(off: number, len: number, src: number, flags: number, room: number, tunN: number): number {
    const reason = this.decapOne(off, len, src, flags, room);
    if (reason >= 0) {
      this.drops[reason]++;
      return tunN;
    }
    const tunOut = this.tunOut;
    if (this.segments === 0) {
      const o = tunN * META_STRIDE;
      tunOut[o + TUN_OUT_OFFSET] = this.innerOffset;
      tunOut[o + TUN_OUT_LENGTH] = this.innerLength;
      tunOut[o + TUN_OUT_FLAGS] = 0;
      tunOut[o + TUN_OUT_GSO_TYPE] = 0;
      return tunN + 1;
    }
    const k = this.segments;
    const stride = this.segmentStride;
    for (let s = 0; s < k; s++) {
      const o = (tunN + s) * META_STRIDE;
      tunOut[o + TUN_OUT_OFFSET] = this.innerOffset + s * stride;
      tunOut[o + TUN_OUT_LENGTH] = s < k - 1 ? stride : this.innerLength - s * (stride - this.segmentHeader);
      tunOut[o + TUN_OUT_FLAGS] = 0;
      tunOut[o + TUN_OUT_GSO_TYPE] = 0;
    }
    return tunN + k;
  }

  /**
   * A TSO super-packet read from a vnet-header TUN: one route decision, then cut in place into
   * MSS-sized segments spaced ENCAP_SIZE apart, each given its own VXLAN + Ethernet header, and
   * appended to udpOut (where the engine sends them with UDP GSO). Returns the new udpOut count.
   */
  private encapSuper(off: number, len: number, gsoType: number, mss: number, udpN: number): number {
    const u8 = this.u8;
    const ihl = (u8[off] & 0x0f) << 2;
    const total = len >= IPV4_MIN_HEADER_SIZE ? (u8[off + 2] << 8) | u8[off + 3] : 0;
    const h = ihl + ((u8[off + ihl + 12] >> 4) << 2);
    if (
      gsoType !== VIRTIO_GSO_TCPV4 ||
      total !== len ||
      u8[off] >> 4 !== 4 ||
      u8[off + 9] !== IP_PROTO_TCP ||
      mss <= 0 ||
      h + mss > this.mtu ||
      segmentSlack(len, h, this.mtu, ENCAP_SIZE, mss) > this.tunCapacity - len
    ) {
      this.drops[Drop.BAD_SUPER_PACKET]++;
      return udpN;
    }
    const peer = this.encapOne(off, len);
    if (peer < 0) return udpN; // counted; no ICMP for a super-packet (TCP learns from its timeout)
    const k = segmentTcpInPlace(u8, off, len, this.mtu, ENCAP_SIZE, mss);
    const stride = ENCAP_SIZE + h + mss;
    const ip = this.routes.peerPublicIp[peer];
    const udpOut = this.udpOut;
    for (let s = 0; s < k; s++) {
      const seg = off + s * stride;
      if (s > 0) u8.copyWithin(seg - ENCAP_SIZE, off - ENCAP_SIZE, off);
      const o = (udpN + s) * META_STRIDE;
      udpOut[o + UDP_OUT_OFFSET] = seg - ENCAP_SIZE;
      udpOut[o + UDP_OUT_LENGTH] = (s < k - 1 ? h + mss : len - s * mss) + ENCAP_SIZE;
      udpOut[o + UDP_OUT_ADDR] = ip;
      udpOut[o + UDP_OUT_PORT] = this.port;
    }
    this.counts[Count.TX_PACKETS] += k - 1;
    this.routes.peerCounters[peer * PEER_FIELDS + PeerCount.TX_PACKETS] += k - 1;
    this.counts[Count.SUPER_PACKETS]++;
    return udpN + k;
  }

  /**
   * Routes the IP packet at u8[off, off+len) and writes VXLAN + inner Ethernet into the
   * ENCAP_SIZE bytes before it. Returns the peer index, −2 for "no route: answer with ICMP",
   * −1 for any other drop (counted here).
   */
  encapOne(off: number, len: number): number {
    const u8 = this.u8;
    const drops = this.drops;
    if (len < IPV4_MIN_HEADER_SIZE) {
      drops[len > 0 && u8[off] >> 4 === 6 ? Drop.IPV6_UNSUPPORTED : Drop.MALFORMED_OUTBOUND]++;
      return -1;
    }
    const version = u8[off] >> 4;
    if (version !== 4) {
      drops[version === 6 ? Drop.IPV6_UNSUPPORTED : Drop.MALFORMED_OUTBOUND]++;
      return -1;
    }
    const routes = this.routes;
    const dst = (u8[off + 16] << 24) | (u8[off + 17] << 16) | (u8[off + 18] << 8) | u8[off + 19];
    const idx = routes.subnetIndex(dst);
    if (idx < 0 || (dst & this.localMask) === this.localBase) {
      drops[Drop.NOT_OVERLAY]++;
      return -1;
    }
    const peer = routes.peerBySubnet[idx];
    if (peer < 0) {
      drops[Drop.NO_ROUTE]++;
      return -2;
    }
    let h = off - ENCAP_SIZE;
    u8[h] = VXLAN_FLAG_VNI;
    u8[h + 1] = 0;
    u8[h + 2] = 0;
    u8[h + 3] = 0;
    u8[h + 4] = this.vni0;
    u8[h + 5] = this.vni1;
    u8[h + 6] = this.vni2;
    u8[h + 7] = 0;
    h += VXLAN_HEADER_SIZE;
    const mac = routes.peerMac;
    const pm = peer * 6;
    u8[h] = mac[pm];
    u8[h + 1] = mac[pm + 1];
    u8[h + 2] = mac[pm + 2];
    u8[h + 3] = mac[pm + 3];
    u8[h + 4] = mac[pm + 4];
    u8[h + 5] = mac[pm + 5];
    u8[h + 6] = this.mac0;
    u8[h + 7] = this.mac1;
    u8[h + 8] = this.mac2;
    u8[h + 9] = this.mac3;
    u8[h + 10] = this.mac4;
    u8[h + 11] = this.mac5;
    u8[h + 12] = ETHERTYPE_IPV4 >> 8;
    u8[h + 13] = ETHERTYPE_IPV4 & 0xff;
    const pc = routes.peerCounters;
    pc[peer * PEER_FIELDS + PeerCount.TX_PACKETS]++;
    pc[peer * PEER_FIELDS + PeerCount.TX_BYTES] += len;
    this.counts[Count.TX_PACKETS]++;
    this.counts[Count.TX_BYTES] += len;
    return peer;
  }

  /**
   * Validates the VXLAN datagram at u8[off, off+len) from outer source srcIp (int32). Returns a
   * Drop reason (not yet counted), or −1 with innerOffset/innerLength set to the IP packet (and
   * segments > 0 when an oversized TCP packet was cut; `room` = bytes free after the datagram
   * that the cut may use).
   */
  decapOne(off: number, len: number, srcIp: number, flags: number, room: number): number {
    const u8 = this.u8;
    if ((flags & IN_FLAG_TRUNCATED) !== 0 || len < ENCAP_SIZE + IPV4_MIN_HEADER_SIZE) return Drop.TRUNCATED;
    if (u8[off] !== VXLAN_FLAG_VNI) return Drop.BAD_FLAGS;
    if ((u8[off + 1] | u8[off + 2] | u8[off + 3] | u8[off + 7]) !== 0) return Drop.BAD_RESERVED;
    if (((u8[off + 4] << 16) | (u8[off + 5] << 8) | u8[off + 6]) !== this.vni) return Drop.WRONG_VNI;
    const routes = this.routes;
    const sender = routes.senderIndex(srcIp);
    if (sender < 0) return Drop.UNKNOWN_SENDER;
    const e = off + VXLAN_HEADER_SIZE;
    if (
      u8[e] !== this.mac0 ||
      u8[e + 1] !== this.mac1 ||
      u8[e + 2] !== this.mac2 ||
      u8[e + 3] !== this.mac3 ||
      u8[e + 4] !== this.mac4 ||
      u8[e + 5] !== this.mac5
    ) {
      return Drop.WRONG_DST_MAC;
    }
    const type = (u8[e + 12] << 8) | u8[e + 13];
    if (type !== ETHERTYPE_IPV4) return type === ETHERTYPE_IPV6 ? Drop.INNER_IPV6 : Drop.NON_IP;
    const ip = off + ENCAP_SIZE;
    const ipLen = len - ENCAP_SIZE;
    const vihl = u8[ip];
    const ihl = (vihl & 0x0f) << 2;
    const total = (u8[ip + 2] << 8) | u8[ip + 3];
    if (vihl >> 4 !== 4 || ihl < IPV4_MIN_HEADER_SIZE || total < ihl || total > ipLen) return Drop.MALFORMED_INNER;
    const src = (u8[ip + 12] << 24) | (u8[ip + 13] << 16) | (u8[ip + 14] << 8) | u8[ip + 15];
    const srcIdx = routes.subnetIndex(src);
    const owner = srcIdx < 0 ? -1 : routes.peerBySubnet[srcIdx];
    if (owner < 0 || routes.peerPublicIp[owner] !== (srcIp | 0)) return Drop.SPOOFED_SOURCE;
    const dst = (u8[ip + 16] << 24) | (u8[ip + 17] << 16) | (u8[ip + 18] << 8) | u8[ip + 19];
    if ((dst & this.localMask) !== this.localBase) return Drop.NOT_FOR_US;
    const l4 = checkIpv4L4(u8, ip, ihl, total);
    if (l4 === L4_BAD) return Drop.BAD_L4_CHECKSUM;
    if (l4 === L4_FINISHED) this.counts[Count.CHECKSUMS_FINISHED]++;
    const pc = routes.peerCounters;
    pc[owner * PEER_FIELDS + PeerCount.RX_PACKETS]++;
    pc[owner * PEER_FIELDS + PeerCount.RX_BYTES] += total;
    this.counts[Count.RX_PACKETS]++;
    this.counts[Count.RX_BYTES] += total;
    this.innerOffset = ip;
    this.innerLength = total;
    this.segments = 0;
    if (total > this.mtu) return this.cut(ip, ihl, total, room + (len - ENCAP_SIZE - total));
    return -1;
  }

  /** Cuts an oversized inner TCP packet (see segment.ts); other oversized packets go out whole. */
  private cut(ip: number, ihl: number, total: number, room: number): number {
    const u8 = this.u8;
    const h = ihl + ((u8[ip + ihl + 12] >> 4) << 2);
    if (u8[ip + 9] !== IP_PROTO_TCP || h + 8 > this.mtu) return -1;
    if (segmentSlack(total, h, this.mtu) > room) return Drop.MALFORMED_INNER;
    const k = segmentTcpInPlace(u8, ip, total, this.mtu);
    if (k > 1) {
      this.segments = k;
      this.segmentStride = this.mtu;
      this.segmentHeader = h;
      this.counts[Count.SEGMENTED]++;
    }
    return -1;
  }

  /**
   * Builds, in the 28 bytes before the IPv4 packet at off, an ICMP destination unreachable (net
   * unreachable) for it, quoting its header and 8 bytes in place. The reply's source is the
   * unreachable destination (not a local address, so the kernel accepts it from the TUN; routed
   * back through the TUN, so it passes reverse-path filtering). Returns the reply length, or 0 when
   * no reply is due (ICMP errors, non-first fragments, unspecified or multicast sources).
   */
  icmpNetUnreachable(off: number, len: number): number {
    const u8 = this.u8;
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
    u8[c + 2] = 0;
    u8[c + 3] = 0;
    u8[c + 4] = 0;
    u8[c + 5] = 0;
    u8[c + 6] = 0;
    u8[c + 7] = 0;
    const ic = finish(sum16(u8, c, ICMP_HEADER_SIZE + quoted, 0));
    u8[c + 2] = ic >>> 8;
    u8[c + 3] = ic & 0xff;
    u8[r] = 0x45;
    u8[r + 1] = 0xc0;
    u8[r + 2] = total >>> 8;
    u8[r + 3] = total & 0xff;
    u8[r + 4] = 0;
    u8[r + 5] = 0;
    u8[r + 6] = 0;
    u8[r + 7] = 0;
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
    this.counts[Count.ICMP_SENT]++;
    return total;
  }
}

/** Finishes a partial L4 checksum (vnet header NEEDS_CSUM): csum = csum_start | csum_offset << 16. */
function finishPartial(u8: Uint8Array, off: number, len: number, csum: number): void {
  const start = csum & 0xffff;
  const at = off + start + (csum >>> 16);
  if (start >= len || at + 2 > off + len) return;
  let c = finish(sum16(u8, off + start, len - start, 0));
  if (c === 0 && u8[off + 9] === 17) c = 0xffff;
  u8[at] = c >>> 8;
  u8[at + 1] = c & 0xff;
}

/** ICMP types that are queries (may be answered with an error); errors never are. */
function isIcmpQuery(type: number): boolean {
  return type === 8 || type === 13 || type === 15 || type === 17;
}
