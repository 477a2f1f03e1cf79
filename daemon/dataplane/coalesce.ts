// TCP coalescing for TUN writes with a virtio-net header (GRO in userspace, as wireguard-go's
// tcpGRO): consecutive validated segments of one TCP flow from one UDP GRO buffer are merged into a
// single super-packet, written once with gso_type TCPV4 or TCPV6, and the kernel segments it again
// (or never does, when it stays local). Costs one TUN write per run instead of one per packet.
//
// A segment joins the open run when: both are TCP of the same IP version, IPv4 without options or
// IPv6 with no extension header; same addresses, ports, ack, window, urgent pointer and TCP
// options; same IPv4 TOS/TTL/DF, or same IPv6 traffic class, flow label and hop limit; flags ACK
// (PSH allowed on the last one); its sequence number continues the run; its payload is at most the
// first one's (a shorter one ends the run); the run stays under 64 KiB. The payload is moved back to
// follow the run's in place: frames of a GRO buffer are contiguous and later ones are never behind
// where their payload goes.
import { putTunPacket, putTunPartial } from './batch-out.js';
import { fold, ipv4PseudoSum, ipv6PseudoSum, storeIpv4HeaderChecksum } from './checksum.js';
import {
  IP_PROTO_TCP,
  IPV4_MIN_HEADER_SIZE,
  IPV6_HEADER_SIZE,
  META_STRIDE,
  TCP_CHECKSUM_OFFSET,
  TUN_OUT_CSUM_OFFSET,
  TUN_OUT_CSUM_START,
  TUN_OUT_FLAGS,
  TUN_OUT_GSO_SIZE,
  TUN_OUT_GSO_TYPE,
  TUN_OUT_HDR_LEN,
  TUN_OUT_LENGTH,
  VIRTIO_GSO_TCPV4,
  VIRTIO_GSO_TCPV6,
  VIRTIO_NEEDS_CSUM,
} from './constants.js';

const TCP_ACK = 0x10;
const TCP_PSH = 0x08;
const IPV4_NO_OPTIONS = 0x45;
const MAX_TOTAL = 65535;
const MAX_SEGMENTS = 64;

export class TcpCoalescer {
  /** Runs of two or more segments written as one super-packet, and segments merged into them. */
  runs = 0;
  merged = 0;
  private ip = -1;
  /** IP header length of the open run: IPV4_MIN_HEADER_SIZE or IPV6_HEADER_SIZE. */
  private l = 0;
  private total = 0;
  private h = 0;
  private mss = 0;
  private segs = 0;
  private nextSeq = 0;
  private entry = 0;
  private psh = 0;

  constructor(
    private readonly u8: Uint8Array,
    private readonly tunOut: Int32Array,
  ) {}

  /**
   * Takes the validated IPv4 or IPv6 packet at u8[ip, ip+len): merges it into the open run, or
   * makes it tunOut entry tunN (possibly opening a run). partial: 0 when its L4 checksum is
   * complete, else the checksum field's offset in the L4 header (the field holds the pseudo-header
   * sum; checksum elision; an IPv6 packet's L4 header follows the fixed header). A run's checksum is
   * always left to the kernel, so complete and partial segments mix. Returns the new tunOut count.
   */
  add(ip: number, len: number, partial: number, tunN: number): number {
    if (this.ip >= 0 && this.append(ip, len)) return tunN;
    this.close();
    const u8 = this.u8;
    const v6 = u8[ip] >> 4 === 6;
    if (partial === 0) putTunPacket(this.tunOut, tunN, ip, len);
    else putTunPartial(this.tunOut, tunN, ip, len, v6 ? IPV6_HEADER_SIZE : (u8[ip] & 0x0f) << 2, partial);
    let l = 0;
    if (v6) {
      if (u8[ip + 6] === IP_PROTO_TCP) l = IPV6_HEADER_SIZE;
    } else if (u8[ip] === IPV4_NO_OPTIONS && u8[ip + 9] === IP_PROTO_TCP && (u8[ip + 6] & 0x3f) === 0 && u8[ip + 7] === 0) {
      l = IPV4_MIN_HEADER_SIZE;
    }
    if (l !== 0 && u8[ip + l + 13] === TCP_ACK) {
      const h = l + ((u8[ip + l + 12] >> 4) << 2);
      if (len > h) {
        this.ip = ip;
        this.l = l;
        this.total = len;
        this.h = h;
        this.mss = len - h;
        this.segs = 1;
        this.nextSeq = (readU32(u8, ip + l + 4) + len - h) >>> 0;
        this.entry = tunN;
        this.psh = 0;
      }
    }
    return tunN + 1;
  }

  /** Ends the open run: fixes its headers and turns its tunOut entry into a GSO write. */
  close(): void {
    const ip = this.ip;
    if (ip < 0) return;
    this.ip = -1;
    if (this.segs < 2) return;
    const u8 = this.u8;
    const total = this.total;
    const l = this.l;
    const v6 = l === IPV6_HEADER_SIZE;
    if (v6) {
      u8[ip + 4] = (total - l) >>> 8;
      u8[ip + 5] = (total - l) & 0xff;
    } else {
      u8[ip + 2] = total >>> 8;
      u8[ip + 3] = total & 0xff;
      storeIpv4HeaderChecksum(u8, ip, l);
    }
    u8[ip + l + 13] |= this.psh;
    // NEEDS_CSUM: the field holds the pseudo-header sum; the kernel finishes it per segment.
    const ps = fold(v6 ? ipv6PseudoSum(u8, ip, IP_PROTO_TCP, total - l) : ipv4PseudoSum(u8, ip, IP_PROTO_TCP, total - l));
    u8[ip + l + TCP_CHECKSUM_OFFSET] = ps >>> 8;
    u8[ip + l + TCP_CHECKSUM_OFFSET + 1] = ps & 0xff;
    const o = this.entry * META_STRIDE;
    const tunOut = this.tunOut;
    tunOut[o + TUN_OUT_LENGTH] = total;
    tunOut[o + TUN_OUT_FLAGS] = VIRTIO_NEEDS_CSUM;
    tunOut[o + TUN_OUT_GSO_TYPE] = v6 ? VIRTIO_GSO_TCPV6 : VIRTIO_GSO_TCPV4;
    tunOut[o + TUN_OUT_HDR_LEN] = this.h;
    tunOut[o + TUN_OUT_GSO_SIZE] = this.mss;
    tunOut[o + TUN_OUT_CSUM_START] = l;
    tunOut[o + TUN_OUT_CSUM_OFFSET] = TCP_CHECKSUM_OFFSET;
    this.runs++;
    this.merged += this.segs;
  }

  private append(ip: number, len: number): boolean {
    const u8 = this.u8;
    const s = this.ip;
    const h = this.h;
    const l = this.l;
    const p = len - h;
    if (p <= 0 || p > this.mss || this.total + p > MAX_TOTAL || this.segs >= MAX_SEGMENTS) return false;
    if (l === IPV6_HEADER_SIZE ? !sameIpv6(u8, ip, s) : !sameIpv4(u8, ip, s)) return false;
    const t = ip + l;
    const st = s + l;
    const flags = u8[t + 13];
    if ((flags !== TCP_ACK && flags !== (TCP_ACK | TCP_PSH)) || ((u8[t + 12] >> 4) << 2) + l !== h) return false;
    for (let i = 0; i < 4; i++) if (u8[t + i] !== u8[st + i]) return false; // ports
    for (let i = 8; i < 12; i++) if (u8[t + i] !== u8[st + i]) return false; // ack
    if (u8[t + 14] !== u8[st + 14] || u8[t + 15] !== u8[st + 15] || u8[t + 18] !== u8[st + 18] || u8[t + 19] !== u8[st + 19]) return false;
    for (let i = l + 20; i < h; i++) if (u8[ip + i] !== u8[s + i]) return false; // options
    if (readU32(u8, t + 4) !== this.nextSeq) return false;
    u8.copyWithin(s + this.total, ip + h, ip + len);
    this.total += p;
    this.segs++;
    this.nextSeq = (this.nextSeq + p) >>> 0;
    if (flags & TCP_PSH) this.psh = TCP_PSH;
    this.tunOut[this.entry * META_STRIDE + TUN_OUT_LENGTH] = this.total;
    if (p < this.mss || this.psh !== 0) this.close();
    return true;
  }
}

/** The IPv4 headers at a and b (b opened a run: no options, TCP) agree on all but length, id and checksum. */
function sameIpv4(u8: Uint8Array, a: number, b: number): boolean {
  if (u8[a] !== IPV4_NO_OPTIONS || u8[a + 1] !== u8[b + 1] || u8[a + 6] !== u8[b + 6] || u8[a + 7] !== u8[b + 7] || u8[a + 8] !== u8[b + 8] || u8[a + 9] !== u8[b + 9]) {
    return false;
  }
  for (let i = 12; i < 20; i++) if (u8[a + i] !== u8[b + i]) return false; // addresses
  return true;
}

/** The IPv6 headers at a and b agree on all but the payload length: version, traffic class, flow label, next header, hop limit, addresses. */
function sameIpv6(u8: Uint8Array, a: number, b: number): boolean {
  for (let i = 0; i < 4; i++) if (u8[a + i] !== u8[b + i]) return false;
  if (u8[a + 6] !== u8[b + 6] || u8[a + 7] !== u8[b + 7]) return false;
  for (let i = 8; i < IPV6_HEADER_SIZE; i++) if (u8[a + i] !== u8[b + i]) return false;
  return true;
}

function readU32(u8: Uint8Array, at: number): number {
  return ((u8[at] << 24) | (u8[at + 1] << 16) | (u8[at + 2] << 8) | u8[at + 3]) >>> 0;
}
