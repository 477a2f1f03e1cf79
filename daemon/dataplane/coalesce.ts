// TCP coalescing for TUN writes with a virtio-net header (GRO in userspace, as wireguard-go's
// tcpGRO): consecutive validated segments of one TCP flow from one UDP GRO buffer are merged into a
// single super-packet, written once with gso_type TCPV4, and the kernel segments it again (or
// never does, when it stays local). Costs one TUN write per run instead of one per packet.
//
// A segment joins the open run when: both are IPv4 without options, TCP, same addresses, ports,
// ack, window, TOS/TTL/DF and TCP options; flags ACK (PSH allowed on the last one); its sequence
// number continues the run; its payload is at most the first one's (a shorter one ends the run);
// the run stays under 64 KiB. The payload is moved back to follow the run's in place: frames of a
// GRO buffer are contiguous and later ones are never behind where their payload goes.
import { putTunPacket, putTunPartial } from './batch-out.js';
import { fold, ipv4PseudoSum, finish, sum16 } from './checksum.js';
import {
  IP_PROTO_TCP,
  META_STRIDE,
  TUN_OUT_CSUM_OFFSET,
  TUN_OUT_CSUM_START,
  TUN_OUT_FLAGS,
  TUN_OUT_GSO_SIZE,
  TUN_OUT_GSO_TYPE,
  TUN_OUT_HDR_LEN,
  TUN_OUT_LENGTH,
  VIRTIO_GSO_TCPV4,
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
   * Takes the validated IPv4 packet at u8[ip, ip+len): merges it into the open run, or makes it
   * tunOut entry tunN (possibly opening a run). partial: 0 when its L4 checksum is complete, else
   * the checksum field's offset in the L4 header (the field holds the pseudo-header sum; checksum
   * elision). A run's checksum is always left to the kernel, so complete and partial segments mix.
   * Returns the new tunOut count.
   */
  add(ip: number, len: number, partial: number, tunN: number): number {
    if (this.ip >= 0 && this.append(ip, len)) return tunN;
    this.close();
    const u8 = this.u8;
    if (partial === 0) putTunPacket(this.tunOut, tunN, ip, len);
    else putTunPartial(this.tunOut, tunN, ip, len, (u8[ip] & 0x0f) << 2, partial);
    if (u8[ip] === IPV4_NO_OPTIONS && u8[ip + 9] === IP_PROTO_TCP && (u8[ip + 6] & 0x3f) === 0 && u8[ip + 7] === 0 && u8[ip + 33] === TCP_ACK) {
      const h = 20 + ((u8[ip + 32] >> 4) << 2);
      if (len > h) {
        this.ip = ip;
        this.total = len;
        this.h = h;
        this.mss = len - h;
        this.segs = 1;
        this.nextSeq = (readU32(u8, ip + 24) + len - h) >>> 0;
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
    u8[ip + 2] = total >>> 8;
    u8[ip + 3] = total & 0xff;
    u8[ip + 10] = 0;
    u8[ip + 11] = 0;
    const hc = finish(sum16(u8, ip, 20, 0));
    u8[ip + 10] = hc >>> 8;
    u8[ip + 11] = hc & 0xff;
    u8[ip + 33] |= this.psh;
    // NEEDS_CSUM: the field holds the pseudo-header sum; the kernel finishes it per segment.
    const ps = fold(ipv4PseudoSum(u8, ip, IP_PROTO_TCP, total - 20));
    u8[ip + 36] = ps >>> 8;
    u8[ip + 37] = ps & 0xff;
    const o = this.entry * META_STRIDE;
    const tunOut = this.tunOut;
    tunOut[o + TUN_OUT_LENGTH] = total;
    tunOut[o + TUN_OUT_FLAGS] = VIRTIO_NEEDS_CSUM;
    tunOut[o + TUN_OUT_GSO_TYPE] = VIRTIO_GSO_TCPV4;
    tunOut[o + TUN_OUT_HDR_LEN] = this.h;
    tunOut[o + TUN_OUT_GSO_SIZE] = this.mss;
    tunOut[o + TUN_OUT_CSUM_START] = 20;
    tunOut[o + TUN_OUT_CSUM_OFFSET] = 16;
    this.runs++;
    this.merged += this.segs;
  }

  private append(ip: number, len: number): boolean {
    const u8 = this.u8;
    const s = this.ip;
    const h = this.h;
    const p = len - h;
    if (p <= 0 || p > this.mss || this.total + p > MAX_TOTAL || this.segs >= MAX_SEGMENTS) return false;
    const flags = u8[ip + 33];
    if ((flags !== TCP_ACK && flags !== (TCP_ACK | TCP_PSH)) || ((u8[ip + 32] >> 4) << 2) + 20 !== h) return false;
    if (u8[ip] !== IPV4_NO_OPTIONS || u8[ip + 1] !== u8[s + 1] || u8[ip + 6] !== u8[s + 6] || u8[ip + 7] !== u8[s + 7] || u8[ip + 8] !== u8[s + 8] || u8[ip + 9] !== u8[s + 9]) {
      return false;
    }
    for (let i = 12; i < 20; i++) if (u8[ip + i] !== u8[s + i]) return false; // addresses
    for (let i = 20; i < 24; i++) if (u8[ip + i] !== u8[s + i]) return false; // ports
    for (let i = 28; i < 32; i++) if (u8[ip + i] !== u8[s + i]) return false; // ack
    if (u8[ip + 34] !== u8[s + 34] || u8[ip + 35] !== u8[s + 35] || u8[ip + 38] !== u8[s + 38] || u8[ip + 39] !== u8[s + 39]) return false;
    for (let i = 40; i < h; i++) if (u8[ip + i] !== u8[s + i]) return false; // options
    if (readU32(u8, ip + 24) !== this.nextSeq) return false;
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

function readU32(u8: Uint8Array, at: number): number {
  return ((u8[at] << 24) | (u8[at + 1] << 16) | (u8[at + 2] << 8) | u8[at + 3]) >>> 0;
}
