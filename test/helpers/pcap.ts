// A plain reader of classic pcap files (tcpdump -w, Ethernet link type), and of the VXLAN frames in
// the UDP datagrams they hold, over IPv4 or IPv6 (UDP right after the fixed header). A datagram
// captured on a veth may be a UDP GSO super-datagram: its payload is then several VXLAN frames back
// to back, each as long as its inner IP packet (IPv4 or IPv6) says.
import { readFileSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatIpv6, ipv6FromBytes } from '../../daemon/net/ipv6.js';

export interface VxlanFrame {
  /** Outer source and destination: IPv4 dotted, IPv6 in Go's text form. */
  readonly outerSrc: string;
  readonly outerDst: string;
  /** The 8-byte VXLAN header. */
  readonly vxlan: Uint8Array;
  /** Inner Ethernet destination MAC (aa:bb:…) and type. */
  readonly dstMac: string;
  readonly etherType: number;
  /** The inner IP packet (without the inner Ethernet header). */
  readonly inner: Uint8Array;
}

const dotted = (b: Uint8Array, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
const mac = (b: Uint8Array, at: number): string => [...b.subarray(at, at + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');

/**
 * Resolves once `file` (written by tcpdump -U, one write per packet) has not grown for `quietMs`:
 * tcpdump, stopped while it still had packets in the kernel's capture buffer (a loaded machine),
 * loses them. Throws after `timeoutMs`.
 */
export async function captureSettled(file: string, quietMs = 300, timeoutMs = 15_000): Promise<void> {
  const size = (): number => {
    try {
      return statSync(file).size;
    } catch {
      return -1;
    }
  };
  const deadline = Date.now() + timeoutMs;
  let last = size();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`${file} still growing after ${timeoutMs} ms`);
    await sleep(50);
    const now = size();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

/** Every VXLAN frame (UDP to `port`) in the capture; throws on a file that is not pcap/Ethernet. */
export function vxlanFrames(file: string, port = 8472): VxlanFrame[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${file} is not a pcap file`);
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  if (u32(20) !== 1) throw new Error(`${file}: link type ${u32(20)}, expected Ethernet (1)`);
  const frames: VxlanFrame[] = [];
  for (let at = 24; at + 16 <= b.length; ) {
    const caplen = u32(at + 8);
    const pkt = b.subarray(at + 16, at + 16 + caplen);
    at += 16 + caplen;
    if (pkt.length < 14 + 20 + 8) continue;
    const ip = 14;
    const type = pkt.readUInt16BE(12);
    let udp: number;
    let outerSrc: string;
    let outerDst: string;
    if (type === 0x0800 && pkt[ip + 9] === 17) {
      udp = ip + (pkt[ip] & 0x0f) * 4;
      outerSrc = dotted(pkt, ip + 12);
      outerDst = dotted(pkt, ip + 16);
    } else if (type === 0x86dd && pkt.length >= 14 + 40 + 8 && pkt[ip + 6] === 17) {
      udp = ip + 40;
      outerSrc = formatIpv6(ipv6FromBytes(pkt, ip + 8));
      outerDst = formatIpv6(ipv6FromBytes(pkt, ip + 24));
    } else continue;
    if (pkt.readUInt16BE(udp + 2) !== port) continue;
    for (let f = udp + 8; f + 22 + 20 <= pkt.length; ) {
      const v6 = pkt[f + 22] >> 4 === 6;
      const innerLen = v6 ? pkt.readUInt16BE(f + 22 + 4) + 40 : pkt.readUInt16BE(f + 22 + 2);
      if (innerLen < 20 || f + 22 + innerLen > pkt.length) throw new Error(`truncated VXLAN frame in ${file} (snap length too short?)`);
      frames.push({ outerSrc, outerDst, vxlan: pkt.subarray(f, f + 8), dstMac: mac(pkt, f + 8), etherType: pkt.readUInt16BE(f + 20), inner: pkt.subarray(f + 22, f + 22 + innerLen) });
      f += 22 + innerLen;
    }
  }
  return frames;
}

/** RFC 1071 over bytes, written plainly. */
function checksum(parts: readonly (Uint8Array | number[])[]): number {
  let sum = 0;
  let odd = false;
  let carry = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      if (odd) sum += carry | p[i];
      else carry = p[i] << 8;
      odd = !odd;
    }
  }
  if (odd) sum += carry;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/**
 * Whether the inner packet's checksums verify: IPv4 header and TCP/UDP/ICMP; IPv6 TCP/UDP/ICMPv6
 * right after the fixed header (over the IPv6 pseudo-header; a UDP checksum of 0 is invalid there).
 */
export function innerChecksumsValid(p: Uint8Array): boolean {
  if (p[0] >> 4 === 6) {
    const next = p[6];
    const l4 = p.subarray(40);
    if (next !== 6 && next !== 17 && next !== 58) return true;
    return checksum([p.subarray(8, 40), [0, 0, l4.length >> 8, l4.length & 0xff, 0, 0, 0, next], l4]) === 0;
  }
  const ihl = (p[0] & 0x0f) * 4;
  if (checksum([p.subarray(0, ihl)]) !== 0) return false;
  const proto = p[9];
  const l4 = p.subarray(ihl);
  if ((((p[6] << 8) | p[7]) & 0x3fff) !== 0) return true; // fragments: checked on reassembly
  if (proto === 1) return checksum([l4]) === 0;
  if (proto === 17 && l4[6] === 0 && l4[7] === 0) return true;
  if (proto !== 6 && proto !== 17) return true;
  const pseudo = [...p.subarray(12, 20), 0, proto, l4.length >> 8, l4.length & 0xff];
  return checksum([pseudo, l4]) === 0;
}
