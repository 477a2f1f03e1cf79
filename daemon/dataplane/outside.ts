// UDP → TUN, the inbound half of the data plane (Nebula's outside.go).
//
// Per datagram: validate the VXLAN header, the sender (a peer's public IP), the inner Ethernet and
// IPv4 headers, the inner source (inside the sender's leased subnet) and destination (inside ours),
// and the inner L4 checksum: a kernel VXLAN sender leaves it partial over veth, so it is verified,
// or finished when partial. A weft sender that set VXLAN_WEFT_CSUM_PARTIAL (checksum elision,
// advertised in its lease) is trusted on the outer UDP checksum instead: nothing is summed, and the
// packet goes to the TUN with VIRTIO_NET_HDR_F_NEEDS_CSUM. A UDP GRO buffer is split into its
// datagrams and, with a vnet-header TUN, TCP runs are coalesced into one GSO write (coalesce.ts); a
// kernel TSO super-datagram is cut to the MTU (segment.ts). Both hold for IPv6 as for IPv4.
//
// IPv6 (dual-stack tables): a 0x86DD frame from a weft peer over the IPv4 underlay must be addressed
// to our IPv6 VTEP MAC; its inner source must lie in the IPv6 subnet leased to the node whose
// public IPv4 sent it, its destination in ours; its TCP/UDP checksum is checked (or trusted on the
// elision flag) as for IPv4 when TCP/UDP follows the fixed 40-byte header (other next headers are
// the receiver's to judge).
//
// Decision cache (native/weft_replay.h): after a one-packet batch whose datagram was delivered
// unchanged and unchecked (elided TCP/UDP handed on partial, or a protocol other than TCP/UDP),
// ctl[CTL_REPLAY] = sender slot + 1 lets the engine replay this decision for the sender's next lone
// datagrams of the same addresses and encap header.
//
// Contracts as inside.ts: single-threaded, inside the native callback, no allocation, exception or
// log per packet.
import { putTunPacket, putTunPartial } from './batch-out.js';
import { checkIpv4L4, checkIpv6L4, L4_BAD, L4_FINISHED } from './checksum.js';
import type { TcpCoalescer } from './coalesce.js';
import {
  CTL_REPLAY,
  CTL_TUN_OUT,
  CTL_UDP_OUT,
  ENCAP_SIZE,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IN_ADDR,
  IN_FLAGS,
  IN_FLAG_TRUNCATED,
  IN_FLAG_V6,
  IN_GSO_SIZE,
  IN_LENGTH,
  IN_OFFSET,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  META_STRIDE,
  TCP_CHECKSUM_OFFSET,
  TCP_MIN_HEADER_SIZE,
  UDP_CHECKSUM_OFFSET,
  UDP_HEADER_SIZE,
  VXLAN_FLAG_VNI,
  VXLAN_HEADER_SIZE,
  VXLAN_WEFT_CSUM_PARTIAL,
} from './constants.js';
import { Count, Drop, PEER_FIELDS, PeerCount } from './counters.js';
import { prefixMask } from '../net/ipv4.js';
import { PEER_CSUM_ELISION, type RouteTable } from './route-table.js';
import { segmentSlack, segmentTcp6InPlace, segmentTcpInPlace } from './segment.js';

/** decap() result for a packet to deliver; anything else is a Drop reason (not yet counted). */
export const DECAP_OK = -1;

export interface OutsideOptions {
  readonly vni: number;
  /** This node's subnet base (uint32); its length is the route table's subnetLen. */
  readonly localSubnetBase: number;
  readonly localVtepMac: Uint8Array;
  /** TUN MTU: larger inner TCP packets (kernel TSO super-datagrams) are cut to it. */
  readonly mtu: number;
  /** Bytes from a received datagram's offset to the end of its slot. */
  readonly udpCapacity: number;
  /** Dual-stack: this node's IPv6 subnet as an index of the table's Network6 (−1 or absent: none). */
  readonly localSubnet6Index?: number;
  /** Dual-stack: our IPv6 VTEP MAC (BackendV6Data.VtepMAC): IPv6 frames must be addressed to it. */
  readonly localVtepMac6?: Uint8Array;
}

export class Outside {
  routes: RouteTable;
  /** Result of the last decap() that returned DECAP_OK: the inner packet to write to the TUN. */
  innerOffset = 0;
  innerLength = 0;
  /** 0: checksum complete; else the L4 checksum field's offset from the L4 header (partial). */
  innerPartial = 0;
  /** IP header length of the inner packet (csum_start of a partial one; 40 for IPv6). */
  innerIhl = 0;
  /** 0: one packet; k > 0: k segments at innerOffset + i * segmentStride, the last one shorter. */
  segments = 0;
  segmentStride = 0;
  private segmentHeader = 0;
  /**
   * Set by decap() for DECAP_OK: the engine may replay the decision (CTL_REPLAY): the inner packet
   * goes to the TUN unchanged and unchecked (elided and handed on partial, or not TCP/UDP).
   */
  private replayable = false;
  /** The route table slot of the last delivered packet's sender. */
  private owner = 0;

  private readonly u8: Uint8Array;
  private readonly udpIn: Int32Array;
  private readonly tunOut: Int32Array;
  private readonly ctl: Int32Array;
  private readonly drops: Float64Array;
  private readonly counts: Float64Array;
  private readonly coalescer: TcpCoalescer | null;
  private readonly vni: number;
  private readonly mtu: number;
  private readonly udpCapacity: number;
  private readonly localBase: number;
  private readonly localMask: number;
  private readonly mac0: number;
  private readonly mac1: number;
  private readonly mac2: number;
  private readonly mac3: number;
  private readonly mac4: number;
  private readonly mac5: number;
  private readonly local6: number;
  private readonly mac6: Uint8Array;

  /** coalescer: set with a vnet-header TUN; partial checksums are then handed to the kernel. */
  constructor(
    mem: { readonly u8: Uint8Array; readonly udpIn: Int32Array; readonly tunOut: Int32Array; readonly ctl: Int32Array },
    counters: { readonly drops: Float64Array; readonly counts: Float64Array },
    routes: RouteTable,
    coalescer: TcpCoalescer | null,
    opts: OutsideOptions,
  ) {
    this.u8 = mem.u8;
    this.udpIn = mem.udpIn;
    this.tunOut = mem.tunOut;
    this.ctl = mem.ctl;
    this.drops = counters.drops;
    this.counts = counters.counts;
    this.routes = routes;
    this.coalescer = coalescer;
    this.vni = opts.vni;
    this.mtu = opts.mtu;
    this.udpCapacity = opts.udpCapacity;
    this.localBase = opts.localSubnetBase | 0;
    this.localMask = prefixMask(routes.subnetLen);
    const m = opts.localVtepMac;
    this.mac0 = m[0];
    this.mac1 = m[1];
    this.mac2 = m[2];
    this.mac3 = m[3];
    this.mac4 = m[4];
    this.mac5 = m[5];
    this.local6 = opts.localSubnet6Index ?? -1;
    this.mac6 = Uint8Array.from(opts.localVtepMac6 ?? m);
  }

  /**
   * `count` receive buffers are described in udpIn. A buffer with a UDP GRO segment size holds
   * several datagrams back to back (all of that size, the last one shorter), unless it is one kernel
   * TSO super-datagram (its inner IP length covers it all). Sets ctl[CTL_TUN_OUT].
   */
  onBatch(count: number): void {
    const udpIn = this.udpIn;
    const u8 = this.u8;
    const c = this.coalescer;
    let tunN = 0;
    for (let i = 0; i < count; i++) {
      const m = i * META_STRIDE;
      const off = udpIn[m + IN_OFFSET];
      const len = udpIn[m + IN_LENGTH];
      const src = udpIn[m + IN_ADDR];
      const flags = udpIn[m + IN_FLAGS];
      const gso = udpIn[m + IN_GSO_SIZE];
      const ip = off + ENCAP_SIZE;
      const whole = len >= ENCAP_SIZE + 6 && (u8[ip] >> 4 === 6 ? ((u8[ip + 4] << 8) | u8[ip + 5]) + IPV6_HEADER_SIZE : (u8[ip + 2] << 8) | u8[ip + 3]) + ENCAP_SIZE === len;
      if (gso <= 0 || gso >= len || whole) {
        const was = tunN;
        tunN = this.deliver(off, len, src, flags, this.udpCapacity - len, tunN);
        if (count === 1 && tunN === was + 1 && this.segments === 0 && this.replayable) this.ctl[CTL_REPLAY] = this.owner + 1;
        continue;
      }
      const end = off + len;
      for (let f = off; f < end; f += gso) {
        const n = Math.min(gso, end - f);
        if (c === null) {
          tunN = this.deliver(f, n, src, flags, 0, tunN);
          continue;
        }
        const reason = this.decap(f, n, src, flags, 0);
        if (reason !== DECAP_OK) this.drops[reason]++;
        else tunN = c.add(this.innerOffset, this.innerLength, this.innerPartial, tunN);
      }
      if (c !== null) c.close();
    }
    this.ctl[CTL_UDP_OUT] = 0;
    this.ctl[CTL_TUN_OUT] = tunN;
  }

  /** Decaps one datagram and appends its packet(s) to tunOut from index tunN; returns the new count. */
  private deliver(off: number, len: number, src: number, flags: number, room: number, tunN: number): number {
    const reason = this.decap(off, len, src, flags, room);
    if (reason !== DECAP_OK) {
      this.drops[reason]++;
      return tunN;
    }
    const tunOut = this.tunOut;
    if (this.segments === 0) return this.putInner(tunN);
    const k = this.segments;
    const stride = this.segmentStride;
    for (let s = 0; s < k; s++) {
      tunN = putTunPacket(tunOut, tunN, this.innerOffset + s * stride, s < k - 1 ? stride : this.innerLength - s * (stride - this.segmentHeader));
    }
    return tunN;
  }

  /** Appends the inner packet of the last decap() (one, not cut) to tunOut at tunN; returns the new count. */
  private putInner(tunN: number): number {
    if (this.innerPartial !== 0) return putTunPartial(this.tunOut, tunN, this.innerOffset, this.innerLength, this.innerIhl, this.innerPartial);
    return putTunPacket(this.tunOut, tunN, this.innerOffset, this.innerLength);
  }

  /**
   * Validates the VXLAN datagram at u8[off, off+len) from outer source srcIp (int32; with
   * IN_FLAG_V6 in flags, the peer slot the engine mapped the IPv6 source to, −1: none). Returns a
   * Drop reason (not yet counted), or DECAP_OK with innerOffset/innerLength/innerPartial set (and
   * segments > 0 when an oversized TCP packet was cut; `room` = bytes free after the datagram that
   * the cut may use).
   */
  decap(off: number, len: number, srcIp: number, flags: number, room: number): number {
    const u8 = this.u8;
    if ((flags & IN_FLAG_TRUNCATED) !== 0 || len < ENCAP_SIZE + IPV4_MIN_HEADER_SIZE) return Drop.TRUNCATED;
    if (u8[off] !== VXLAN_FLAG_VNI) return Drop.BAD_FLAGS;
    const weft = u8[off + 1];
    if (((weft & ~VXLAN_WEFT_CSUM_PARTIAL) | u8[off + 2] | u8[off + 3] | u8[off + 7]) !== 0) return Drop.BAD_RESERVED;
    if (((u8[off + 4] << 16) | (u8[off + 5] << 8) | u8[off + 6]) !== this.vni) return Drop.WRONG_VNI;
    const routes = this.routes;
    const sender = (flags & IN_FLAG_V6) === 0 ? routes.senderIndex(srcIp) : srcIp;
    if (sender < 0) return Drop.UNKNOWN_SENDER;
    if (weft !== 0 && (routes.peerFlags[sender] & PEER_CSUM_ELISION) === 0) return Drop.ELISION_UNEXPECTED;
    const e = off + VXLAN_HEADER_SIZE;
    const type = (u8[e + 12] << 8) | u8[e + 13];
    if (type === ETHERTYPE_IPV6) return this.decap6(off, len, srcIp, flags, weft, room);
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
    if (type !== ETHERTYPE_IPV4) return Drop.NON_IP;
    const ip = off + ENCAP_SIZE;
    const ipLen = len - ENCAP_SIZE;
    const vihl = u8[ip];
    const ihl = (vihl & 0x0f) << 2;
    const total = (u8[ip + 2] << 8) | u8[ip + 3];
    if (vihl >> 4 !== 4 || ihl < IPV4_MIN_HEADER_SIZE || total < ihl || total > ipLen) return Drop.MALFORMED_INNER;
    const src = (u8[ip + 12] << 24) | (u8[ip + 13] << 16) | (u8[ip + 14] << 8) | u8[ip + 15];
    const srcIdx = routes.subnetIndex(src);
    const owner = srcIdx < 0 ? -1 : routes.peerBySubnet[srcIdx];
    if (owner < 0 || !sentBy(routes, owner, srcIp, flags)) return Drop.SPOOFED_SOURCE;
    const dst = (u8[ip + 16] << 24) | (u8[ip + 17] << 16) | (u8[ip + 18] << 8) | u8[ip + 19];
    if ((dst & this.localMask) !== this.localBase) return Drop.NOT_FOR_US;
    let partial = 0;
    if (weft !== 0) {
      const field = partialField(u8, ip, ihl, total);
      if (field === 0) return Drop.BAD_ELISION;
      this.counts[Count.ELIDED_RECEIVED]++;
      if (this.coalescer !== null) partial = field;
    }
    // Without a vnet-header TUN to hand it to, a partial checksum is finished here like a kernel peer's.
    if (partial === 0) {
      const l4 = checkIpv4L4(u8, ip, ihl, total);
      if (l4 === L4_BAD) return Drop.BAD_L4_CHECKSUM;
      if (l4 === L4_FINISHED) this.counts[Count.CHECKSUMS_FINISHED]++;
    }
    const proto = u8[ip + 9];
    this.replayable = partial !== 0 || (weft === 0 && proto !== IP_PROTO_TCP && proto !== IP_PROTO_UDP);
    return this.accept(owner, ip, total, partial, ihl, room + (len - ENCAP_SIZE - total));
  }

  /** decap() of a 0x86DD frame, once the VXLAN header and its sender were checked. */
  private decap6(off: number, len: number, srcIp: number, flags: number, weft: number, room: number): number {
    const u8 = this.u8;
    const routes = this.routes;
    const v6 = routes.v6;
    if (v6 === undefined) return Drop.INNER_IPV6;
    const e = off + VXLAN_HEADER_SIZE;
    const mac = this.mac6;
    for (let j = 0; j < 6; j++) if (u8[e + j] !== mac[j]) return Drop.WRONG_DST_MAC;
    const ip = off + ENCAP_SIZE;
    if (len < ENCAP_SIZE + IPV6_HEADER_SIZE) return Drop.TRUNCATED;
    const payload = (u8[ip + 4] << 8) | u8[ip + 5];
    const total = IPV6_HEADER_SIZE + payload;
    if (u8[ip] >> 4 !== 6 || total > len - ENCAP_SIZE) return Drop.MALFORMED_INNER;
    const owner = v6.slotAt(v6.indexOf(u8, ip + 8));
    if (owner < 0 || !sentBy(routes, owner, srcIp, flags)) return Drop.SPOOFED_SOURCE;
    const dstIdx = v6.indexOf(u8, ip + 24);
    if (dstIdx < 0 || dstIdx !== this.local6) return Drop.NOT_FOR_US;
    let partial = 0;
    if (weft !== 0) {
      const field = partialField6(u8, ip, total);
      if (field === 0) return Drop.BAD_ELISION;
      this.counts[Count.ELIDED_RECEIVED]++;
      if (this.coalescer !== null) partial = field;
    }
    if (partial === 0) {
      const l4 = checkIpv6L4(u8, ip, total);
      if (l4 === L4_BAD) return Drop.BAD_L4_CHECKSUM;
      if (l4 === L4_FINISHED) this.counts[Count.CHECKSUMS_FINISHED]++;
    }
    this.replayable = false;
    return this.accept(owner, ip, total, partial, IPV6_HEADER_SIZE, room + (len - ENCAP_SIZE - total));
  }

  /**
   * Counts a packet decap() delivers (from peer slot `owner`), sets the inner* fields for it and
   * cuts it when it is larger than the MTU (`room`: bytes free after it). Returns DECAP_OK or a Drop
   * reason.
   */
  private accept(owner: number, ip: number, total: number, partial: number, ihl: number, room: number): number {
    this.owner = owner;
    const pc = this.routes.peerCounters;
    pc[owner * PEER_FIELDS + PeerCount.RX_PACKETS]++;
    pc[owner * PEER_FIELDS + PeerCount.RX_BYTES] += total;
    this.counts[Count.RX_PACKETS]++;
    this.counts[Count.RX_BYTES] += total;
    this.innerOffset = ip;
    this.innerLength = total;
    this.innerPartial = partial;
    this.innerIhl = ihl;
    this.segments = 0;
    if (total <= this.mtu) return DECAP_OK;
    this.innerPartial = 0; // a cut recomputes every segment's checksum
    return this.cut(ip, ihl, total, room);
  }

  /**
   * Cuts an oversized inner TCP packet (see segment.ts; IPv6: TCP right after the fixed header);
   * other oversized packets go out whole.
   */
  private cut(ip: number, ihl: number, total: number, room: number): number {
    const u8 = this.u8;
    const v6 = u8[ip] >> 4 === 6;
    const h = ihl + ((u8[ip + ihl + 12] >> 4) << 2);
    if (u8[ip + (v6 ? 6 : 9)] !== IP_PROTO_TCP || h + 8 > this.mtu) return DECAP_OK;
    if (segmentSlack(total, h, this.mtu) > room) return Drop.MALFORMED_INNER;
    const k = v6 ? segmentTcp6InPlace(u8, ip, total, this.mtu) : segmentTcpInPlace(u8, ip, total, this.mtu);
    if (k > 1) {
      this.segments = k;
      this.segmentStride = this.mtu;
      this.segmentHeader = h;
      this.counts[Count.SEGMENTED]++;
    }
    return DECAP_OK;
  }
}

/**
 * The peer at `owner` (the inner source's) is the one whose underlay address sent the datagram: its
 * public IPv4 is `src`, or, over the IPv6 underlay (IN_FLAG_V6), `src` is a slot with its public IPv6.
 */
function sentBy(routes: RouteTable, owner: number, src: number, flags: number): boolean {
  if ((flags & IN_FLAG_V6) === 0) return routes.peerPublicIp[owner] === (src | 0);
  if (owner === src) return true;
  const a = routes.peerPublicIp6;
  for (let i = 0; i < 16; i++) if (a[owner * 16 + i] !== a[src * 16 + i]) return false;
  return true;
}

/** partialField for IPv6: TCP or UDP right after the fixed header only. */
function partialField6(u8: Uint8Array, ip: number, total: number): number {
  return l4Field(u8, u8[ip + 6], ip + IPV6_HEADER_SIZE, total - IPV6_HEADER_SIZE);
}

/**
 * The checksum field offset (from the L4 header) of an elided packet: TCP 16, UDP 6; 0 when the
 * packet cannot carry a partial checksum (other protocols, fragments, L4 header cut short).
 */
function partialField(u8: Uint8Array, ip: number, ihl: number, total: number): number {
  if ((((u8[ip + 6] << 8) | u8[ip + 7]) & 0x3fff) !== 0) return 0;
  return l4Field(u8, u8[ip + 9], ip + ihl, total - ihl);
}

/** The checksum field offset of the TCP/UDP header of `proto` at u8[l4, l4+l4len), or 0 (other protocols, header cut short). */
function l4Field(u8: Uint8Array, proto: number, l4: number, l4len: number): number {
  if (proto === IP_PROTO_TCP) {
    const thl = (u8[l4 + 12] >> 4) << 2;
    return l4len >= TCP_MIN_HEADER_SIZE && thl >= TCP_MIN_HEADER_SIZE && thl <= l4len ? TCP_CHECKSUM_OFFSET : 0;
  }
  return proto === IP_PROTO_UDP && l4len >= UDP_HEADER_SIZE ? UDP_CHECKSUM_OFFSET : 0;
}
