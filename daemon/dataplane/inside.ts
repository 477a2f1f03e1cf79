// TUN → UDP, the outbound half of the data plane (Nebula's inside.go).
//
// Per packet read from the TUN: parse the IPv4 destination; subnet index → peer (RouteTable, O(1));
// write the VXLAN header + inner Ethernet into the ENCAP_SIZE bytes of headroom before it; append
// it to udpOut. A TSO super-packet (vnet header, gso TCPV4 or TCPV6) is routed once and handed to
// the engine whole: the addon cuts it into MSS-sized datagrams without moving the payload and
// computes each segment's TCP checksum, or leaves it partial towards a peer that advertises
// checksum elision (then VXLAN_WEFT_CSUM_PARTIAL is set; never towards a kernel VXLAN peer). No
// route → counted, and answered with ICMP net unreachable written back to the TUN.
//
// IPv6 (dual-stack tables): the destination's IPv6 subnet → peer; towards a weft peer (PEER_WEFT)
// the packet goes over the IPv4 underlay like an IPv4 one, inner Ethernet type 0x86DD, to the
// peer's IPv6 VTEP MAC; no route → ICMPv6 no route (writeNoRoute6). Only packets right after the
// fixed 40-byte header are eligible for checksum elision; other partial checksums are finished.
// Towards a Flannel (kernel VXLAN) peer, as its flannel-v6.1 expects: over the IPv6 underlay (udpOut
// entries with OUT_V6 and the peer's slot; the engine knows its PublicIPv6), to its IPv6 VTEP MAC,
// with full checksums; IPv6 packets larger than that underlay carries (the TUN MTU less the 20 more
// bytes of an IPv6 outer header) are answered with ICMPv6 Packet Too Big, and TSO6 super-packets to
// it are cut to that size.
//
// Decision cache (native/weft_replay.h): after a one-packet batch whose packet went out as it came
// (no checksum finished, no ICMP answer) over the IPv4 underlay, ctl[CTL_REPLAY] = peer slot + 1
// lets the engine replay this decision for the next lone packets to the same destination.
//
// Contracts: single-threaded; onBatch runs inside the native callback; buffers are borrowed from
// the engine for the call. No allocation, exception or log per packet: drops are `drops[reason]++`.
import { putDatagram, putTso, putTunPacket } from './batch-out.js';
import { finish, sum16 } from './checksum.js';
import {
  CSUM_FULL,
  CSUM_PARTIAL,
  CTL_REPLAY,
  CTL_TUN_OUT,
  CTL_UDP_OUT,
  ENCAP_SIZE,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  IN_CSUM,
  IN_FLAG_NEEDS_CSUM,
  IN_FLAGS,
  IN_GSO_SIZE,
  IN_GSO_TYPE,
  IN_LENGTH,
  IN_OFFSET,
  IP_PROTO_TCP,
  IP_PROTO_UDP,
  IPV4_MIN_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  META_STRIDE,
  OUT_V6,
  TCP_CHECKSUM_OFFSET,
  TCP_MIN_HEADER_SIZE,
  UDP_CHECKSUM_OFFSET,
  VIRTIO_GSO_ECN,
  VIRTIO_GSO_TCPV4,
  VIRTIO_GSO_TCPV6,
  VXLAN_FLAG_VNI,
  VXLAN_HEADER_SIZE,
  VXLAN_WEFT_CSUM_PARTIAL,
  VXLAN_WEFT_FLAGS_OFFSET,
} from './constants.js';
import { Count, Drop, PEER_FIELDS, PeerCount } from './counters.js';
import { ICMP_REPLY_HEADER, ICMPV6_REPLY_HEADER, writeNetUnreachable, writeNoRoute6, writePacketTooBig6 } from './icmp.js';
import { prefixMask } from '../net/ipv4.js';
import { PEER_CSUM_ELISION, PEER_WEFT, type RouteTable } from './route-table.js';

/** encap() results below zero; zero and above is the peer index. */
export const Encap = {
  /** Dropped and counted. */
  DROPPED: -1,
  /** No lease for the destination's subnet: counted; answer with ICMP net unreachable. */
  NO_ROUTE: -2,
  /** An IPv6 packet larger than the IPv6 underlay carries: counted; answer with Packet Too Big. */
  TOO_BIG: -3,
} as const;

/** An IPv6 outer header is this much longer than an IPv4 one: the IPv6 underlay's inner MTU is the TUN's less it. */
const IPV6_OUTER_EXTRA = IPV6_HEADER_SIZE - IPV4_MIN_HEADER_SIZE;

export interface InsideOptions {
  readonly vni: number;
  /** Destination UDP port of peers (Backend.Port). */
  readonly port: number;
  /** This node's subnet base (uint32); its length is the route table's subnetLen. */
  readonly localSubnetBase: number;
  readonly localVtepMac: Uint8Array;
  /** TUN MTU: the largest segment a super-packet may be cut into. */
  readonly mtu: number;
  /** Leave inner checksums partial towards peers that advertise checksum elision. */
  readonly csumElision: boolean;
  /** Dual-stack: this node's IPv6 subnet as an index of the table's Network6 (−1 or absent: none). */
  readonly localSubnet6Index?: number;
  /** Dual-stack: our IPv6 VTEP MAC (BackendV6Data.VtepMAC), the inner source MAC of IPv6 frames. */
  readonly localVtepMac6?: Uint8Array;
  /** The engine has an IPv6 underlay socket: IPv6 towards non-weft peers with a PublicIPv6 goes over it. */
  readonly underlay6?: boolean;
}

export class Inside {
  routes: RouteTable;
  private readonly u8: Uint8Array;
  private readonly tunIn: Int32Array;
  private readonly udpOut: Int32Array;
  private readonly tunOut: Int32Array;
  private readonly ctl: Int32Array;
  private readonly drops: Float64Array;
  private readonly counts: Float64Array;
  private readonly port: number;
  private readonly mtu: number;
  private readonly elision: boolean;
  private readonly localBase: number;
  private readonly localMask: number;
  private readonly mac: Uint8Array;
  private readonly local6: number;
  private readonly mac6: Uint8Array;
  private readonly underlay6: boolean;
  /** Set by encap6 to OUT_V6 for a packet that goes over the IPv6 underlay; read and reset by its caller. */
  private via = 0;
  private readonly vni0: number;
  private readonly vni1: number;
  private readonly vni2: number;

  constructor(
    mem: { readonly u8: Uint8Array; readonly tunIn: Int32Array; readonly udpOut: Int32Array; readonly tunOut: Int32Array; readonly ctl: Int32Array },
    counters: { readonly drops: Float64Array; readonly counts: Float64Array },
    routes: RouteTable,
    opts: InsideOptions,
  ) {
    this.u8 = mem.u8;
    this.tunIn = mem.tunIn;
    this.udpOut = mem.udpOut;
    this.tunOut = mem.tunOut;
    this.ctl = mem.ctl;
    this.drops = counters.drops;
    this.counts = counters.counts;
    this.routes = routes;
    this.port = opts.port;
    this.mtu = opts.mtu;
    this.elision = opts.csumElision;
    this.localBase = opts.localSubnetBase | 0;
    this.localMask = prefixMask(routes.subnetLen);
    this.mac = Uint8Array.from(opts.localVtepMac);
    this.local6 = opts.localSubnet6Index ?? -1;
    this.mac6 = Uint8Array.from(opts.localVtepMac6 ?? opts.localVtepMac);
    this.underlay6 = opts.underlay6 ?? false;
    this.vni0 = (opts.vni >>> 16) & 0xff;
    this.vni1 = (opts.vni >>> 8) & 0xff;
    this.vni2 = opts.vni & 0xff;
  }

  /** `count` packets read from the TUN are described in tunIn; sets ctl[CTL_UDP_OUT] and ctl[CTL_TUN_OUT]. */
  onBatch(count: number): void {
    const tunIn = this.tunIn;
    const u8 = this.u8;
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
      const peer = this.encap(off, len);
      if (peer >= 0) {
        let replay = peer + 1;
        if ((tunIn[m + IN_FLAGS] & IN_FLAG_NEEDS_CSUM) !== 0) {
          const csum = tunIn[m + IN_CSUM];
          if (this.elides(peer) && isStandardPartial(u8, off, len, csum)) {
            u8[off - ENCAP_SIZE + VXLAN_WEFT_FLAGS_OFFSET] = VXLAN_WEFT_CSUM_PARTIAL;
            this.counts[Count.ELIDED_SENT]++;
          } else {
            finishPartial(u8, off, len, csum);
            replay = 0;
          }
        }
        const via = this.via;
        if (via === 0) udpN = putDatagram(this.udpOut, udpN, off - ENCAP_SIZE, len + ENCAP_SIZE, this.routes.peerPublicIp[peer], this.port);
        else {
          this.via = 0;
          replay = 0;
          udpN = putDatagram(this.udpOut, udpN, off - ENCAP_SIZE, len + ENCAP_SIZE, peer, this.port, via);
        }
        if (count === 1) this.ctl[CTL_REPLAY] = replay;
      } else if (peer === Encap.TOO_BIG) {
        const replyLen = writePacketTooBig6(u8, off, len, this.mtu - IPV6_OUTER_EXTRA);
        if (replyLen > 0) {
          tunN = putTunPacket(this.tunOut, tunN, off - ICMPV6_REPLY_HEADER, replyLen);
          this.counts[Count.ICMP_SENT]++;
        }
      } else if (peer === Encap.NO_ROUTE) {
        const v6 = u8[off] >> 4 === 6;
        const replyLen = v6 ? writeNoRoute6(u8, off, len) : writeNetUnreachable(u8, off, len);
        if (replyLen > 0) {
          tunN = putTunPacket(this.tunOut, tunN, off - (v6 ? ICMPV6_REPLY_HEADER : ICMP_REPLY_HEADER), replyLen);
          this.counts[Count.ICMP_SENT]++;
        }
      }
    }
    this.ctl[CTL_UDP_OUT] = udpN;
    this.ctl[CTL_TUN_OUT] = tunN;
  }

  /**
   * A TSO super-packet (TCPV4, or TCPV6 with TCP right after the fixed header): checked, routed
   * once, and appended to udpOut as one OUT_TSO entry for the engine to cut. Returns the new udpOut
   * count.
   */
  private encapSuper(off: number, len: number, gsoType: number, mss: number, udpN: number): number {
    const h = gsoType === VIRTIO_GSO_TCPV6 ? this.superHeader6(off, len) : gsoType === VIRTIO_GSO_TCPV4 ? this.superHeader4(off, len) : 0;
    if (h === 0 || mss <= 0 || h + mss > this.mtu) {
      this.drops[Drop.BAD_SUPER_PACKET]++;
      return udpN;
    }
    const u8 = this.u8;
    const peer = this.encap(off, len, true);
    if (peer < 0) return udpN; // counted; no ICMP for a super-packet (TCP learns from its timeout)
    // Over the IPv6 underlay (a Flannel peer), segments are cut to what it carries.
    const via = this.via;
    const cut = via === 0 ? mss : Math.min(mss, this.mtu - IPV6_OUTER_EXTRA - h);
    this.via = 0;
    const elide = this.elides(peer);
    if (elide) {
      u8[off - ENCAP_SIZE + VXLAN_WEFT_FLAGS_OFFSET] = VXLAN_WEFT_CSUM_PARTIAL;
      this.counts[Count.ELIDED_SENT]++;
    }
    const k = Math.ceil((len - h) / cut);
    this.counts[Count.TX_PACKETS] += k - 1;
    this.routes.peerCounters[peer * PEER_FIELDS + PeerCount.TX_PACKETS] += k - 1;
    this.counts[Count.SUPER_PACKETS]++;
    return putTso(this.udpOut, udpN, off - ENCAP_SIZE, len + ENCAP_SIZE, via === 0 ? this.routes.peerPublicIp[peer] : peer, this.port, cut, ENCAP_SIZE + h, elide ? CSUM_PARTIAL : CSUM_FULL, via);
  }

  /** IPv4 + TCP header bytes of a TCPV4 super-packet at u8[off, off+len); 0 when it cannot be cut. */
  private superHeader4(off: number, len: number): number {
    const u8 = this.u8;
    const ihl = (u8[off] & 0x0f) << 2;
    if (len < IPV4_MIN_HEADER_SIZE || u8[off] >> 4 !== 4 || ihl < IPV4_MIN_HEADER_SIZE || ((u8[off + 2] << 8) | u8[off + 3]) !== len) return 0;
    if (u8[off + 9] !== IP_PROTO_TCP || (((u8[off + 6] << 8) | u8[off + 7]) & 0x3fff) !== 0) return 0;
    const h = ihl + ((u8[off + ihl + 12] >> 4) << 2);
    return h >= ihl + TCP_MIN_HEADER_SIZE && h < len ? h : 0;
  }

  /** IPv6 + TCP header bytes of a TCPV6 super-packet at u8[off, off+len); 0 when it cannot be cut (extension headers included). */
  private superHeader6(off: number, len: number): number {
    const u8 = this.u8;
    if (len < IPV6_HEADER_SIZE + TCP_MIN_HEADER_SIZE || u8[off] >> 4 !== 6 || ((u8[off + 4] << 8) | u8[off + 5]) + IPV6_HEADER_SIZE !== len) return 0;
    if (u8[off + 6] !== IP_PROTO_TCP) return 0;
    const h = IPV6_HEADER_SIZE + ((u8[off + IPV6_HEADER_SIZE + 12] >> 4) << 2);
    return h >= IPV6_HEADER_SIZE + TCP_MIN_HEADER_SIZE && h < len ? h : 0;
  }

  private elides(peer: number): boolean {
    return this.elision && (this.routes.peerFlags[peer] & PEER_CSUM_ELISION) !== 0;
  }

  /**
   * Routes the IP packet at u8[off, off+len) and writes VXLAN + inner Ethernet into the
   * ENCAP_SIZE bytes before it. Returns the peer index, or an Encap result (counted here).
   * `superPacket`: a TSO super-packet, cut later (no size limit here).
   */
  encap(off: number, len: number, superPacket = false): number {
    const u8 = this.u8;
    const drops = this.drops;
    if (len > 0 && u8[off] >> 4 === 6) return this.encap6(off, len, superPacket);
    if (len < IPV4_MIN_HEADER_SIZE || u8[off] >> 4 !== 4) {
      drops[Drop.MALFORMED_OUTBOUND]++;
      return Encap.DROPPED;
    }
    const routes = this.routes;
    const dst = (u8[off + 16] << 24) | (u8[off + 17] << 16) | (u8[off + 18] << 8) | u8[off + 19];
    const idx = routes.subnetIndex(dst);
    if (idx < 0 || (dst & this.localMask) === this.localBase) {
      drops[Drop.NOT_OVERLAY]++;
      return Encap.DROPPED;
    }
    const peer = routes.peerBySubnet[idx];
    if (peer < 0) {
      drops[Drop.NO_ROUTE]++;
      return Encap.NO_ROUTE;
    }
    this.writeEncap(off - ENCAP_SIZE, routes.peerMac, peer, this.mac, ETHERTYPE_IPV4);
    this.countTx(peer, len);
    return peer;
  }

  /** encap() of an IPv6 packet: routed by the table's IPv6 half; to a weft peer over the IPv4 underlay, else over the IPv6 one (sets via). */
  private encap6(off: number, len: number, superPacket: boolean): number {
    const u8 = this.u8;
    const drops = this.drops;
    const v6 = this.routes.v6;
    if (v6 === undefined) {
      drops[Drop.IPV6_UNSUPPORTED]++;
      return Encap.DROPPED;
    }
    if (len < IPV6_HEADER_SIZE || ((u8[off + 4] << 8) | u8[off + 5]) + IPV6_HEADER_SIZE !== len) {
      drops[Drop.MALFORMED_OUTBOUND]++;
      return Encap.DROPPED;
    }
    const idx = v6.indexOf(u8, off + 24);
    if (idx < 0 || idx === this.local6) {
      drops[Drop.NOT_OVERLAY]++;
      return Encap.DROPPED;
    }
    const peer = v6.slotAt(idx);
    if (peer < 0) {
      drops[Drop.NO_ROUTE]++;
      return Encap.NO_ROUTE;
    }
    if ((this.routes.peerFlags[peer] & PEER_WEFT) === 0) {
      if (!this.underlay6 || !this.routes.hasPublicIp6(peer)) {
        drops[Drop.IPV6_NO_PATH]++;
        return Encap.DROPPED;
      }
      if (len > this.mtu - IPV6_OUTER_EXTRA && !superPacket) {
        drops[Drop.TOO_BIG_FOR_UNDERLAY6]++;
        return Encap.TOO_BIG;
      }
      this.via = OUT_V6;
    }
    this.writeEncap(off - ENCAP_SIZE, this.routes.peerMac6, peer, this.mac6, ETHERTYPE_IPV6);
    this.countTx(peer, len);
    return peer;
  }

  /** VXLAN header and inner Ethernet (to the peer's MAC in `macs`, from `own`) at u8[h, h+ENCAP_SIZE). */
  private writeEncap(at: number, macs: Uint8Array, peer: number, own: Uint8Array, type: number): void {
    const u8 = this.u8;
    let h = at;
    u8[h] = VXLAN_FLAG_VNI;
    u8[h + 1] = 0;
    u8[h + 2] = 0;
    u8[h + 3] = 0;
    u8[h + 4] = this.vni0;
    u8[h + 5] = this.vni1;
    u8[h + 6] = this.vni2;
    u8[h + 7] = 0;
    h += VXLAN_HEADER_SIZE;
    const pm = peer * 6;
    for (let j = 0; j < 6; j++) u8[h + j] = macs[pm + j];
    for (let j = 0; j < 6; j++) u8[h + 6 + j] = own[j];
    u8[h + 12] = type >> 8;
    u8[h + 13] = type & 0xff;
  }

  private countTx(peer: number, len: number): void {
    const pc = this.routes.peerCounters;
    pc[peer * PEER_FIELDS + PeerCount.TX_PACKETS]++;
    pc[peer * PEER_FIELDS + PeerCount.TX_BYTES] += len;
    this.counts[Count.TX_PACKETS]++;
    this.counts[Count.TX_BYTES] += len;
  }
}

/**
 * The partial checksum described by a vnet header (csum_start | csum_offset << 16) is TCP's or
 * UDP's field right after the IPv4 header, or right after the fixed IPv6 header (no extension headers).
 */
function isStandardPartial(u8: Uint8Array, off: number, len: number, csum: number): boolean {
  const v6 = u8[off] >> 4 === 6;
  const ihl = v6 ? IPV6_HEADER_SIZE : (u8[off] & 0x0f) << 2;
  const proto = u8[off + (v6 ? 6 : 9)];
  const at = csum >>> 16;
  if ((csum & 0xffff) !== ihl || (!v6 && (((u8[off + 6] << 8) | u8[off + 7]) & 0x3fff) !== 0)) return false;
  if (proto === IP_PROTO_TCP) return at === TCP_CHECKSUM_OFFSET && ihl + 20 <= len;
  return proto === IP_PROTO_UDP && at === UDP_CHECKSUM_OFFSET && ihl + 8 <= len;
}

/** Finishes a partial L4 checksum (vnet header NEEDS_CSUM): csum = csum_start | csum_offset << 16. */
function finishPartial(u8: Uint8Array, off: number, len: number, csum: number): void {
  const start = csum & 0xffff;
  const at = off + start + (csum >>> 16);
  if (start >= len || at + 2 > off + len) return;
  let c = finish(sum16(u8, off + start, len - start, 0));
  const udp = u8[off] >> 4 === 6 ? start === IPV6_HEADER_SIZE && u8[off + 6] === IP_PROTO_UDP : u8[off + 9] === IP_PROTO_UDP;
  if (c === 0 && udp) c = 0xffff;
  u8[at] = c >>> 8;
  u8[at + 1] = c & 0xff;
}
