// Checksum elision between weft nodes (VXLAN_WEFT_CSUM_PARTIAL): sent only to peers that advertise
// it, never to kernel VXLAN peers; received only from senders that advertise it, handed to the TUN
// as NEEDS_CSUM without summing a byte; anything inconsistent is dropped and counted.
import { describe, expect, it } from 'vitest';
import {
  CSUM_FULL,
  CSUM_PARTIAL,
  HEADROOM,
  IN_ADDR,
  IN_CSUM,
  IN_FLAGS,
  IN_GSO_SIZE,
  IN_GSO_TYPE,
  IN_LENGTH,
  IN_OFFSET,
  UDP_RX_OFFSET,
} from '../../../daemon/dataplane/constants.js';
import { Count, Drop } from '../../../daemon/dataplane/counters.js';
import { loadNative } from '../../../daemon/dataplane/native.js';
import { KERNEL_IP, LOCAL_MAC, mixedTable as mixed, PEER_IP, PEER_MAC, pseudo, refChecksum, rig, tcpPacket, u32, udpPacket, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';

const A = '10.244.1.2';
const B = '10.244.2.2';
const C = '10.244.3.2';

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

function tsoRead(r: Rig, packet: number[], mss: number): number {
  const off = HEADROOM;
  r.u8.set(packet, off);
  r.tunIn[IN_OFFSET] = off;
  r.tunIn[IN_LENGTH] = packet.length;
  r.tunIn[IN_FLAGS] = 2;
  r.tunIn[IN_GSO_TYPE] = 1;
  r.tunIn[IN_GSO_SIZE] = mss;
  r.tunIn[IN_CSUM] = 20 | (16 << 16);
  r.fwd.onTun(1);
  return off;
}

function plainRead(r: Rig, packet: number[], partial: boolean, csum = 20 | (16 << 16)): number {
  const off = HEADROOM;
  r.u8.set(packet, off);
  r.tunIn[IN_OFFSET] = off;
  r.tunIn[IN_LENGTH] = packet.length;
  r.tunIn[IN_FLAGS] = partial ? 2 : 0;
  r.tunIn[IN_GSO_TYPE] = 0;
  r.tunIn[IN_GSO_SIZE] = 0;
  r.tunIn[IN_CSUM] = csum;
  r.fwd.onTun(1);
  return off;
}

function putUdp(r: Rig, d: number[], src: string, gso = 0): number {
  const off = UDP_RX_OFFSET;
  r.u8.set(d, off);
  r.udpIn[IN_OFFSET] = off;
  r.udpIn[IN_LENGTH] = d.length;
  r.udpIn[IN_ADDR] = u32(src) | 0;
  r.udpIn[IN_FLAGS] = 0;
  r.udpIn[IN_GSO_SIZE] = gso;
  return off;
}

/** A VXLAN frame as a weft sender with elision writes it: flag set, inner checksum partial. */
function elided(inner: number[], src = PEER_MAC): number[] {
  const d = vxlan(1, LOCAL_MAC, src, inner);
  d[1] = 0x01;
  return d;
}

describe('sending with checksum elision (TUN → UDP)', () => {
  it('leaves TSO segments partial and flags them only towards a peer that advertises elision', () => {
    const r = rig(2, 1450, true, mixed(), true);
    const payload = Array.from({ length: 20000 }, (_, i) => i & 0xff);
    const off = tsoRead(r, tcpPacket(A, B, payload, 'partial', 7, 0x18), 1398);
    expect(r.udpOut[7]).toBe(CSUM_PARTIAL);
    expect(r.u8[off - 22 + 1]).toBe(0x01);
    const segs = loadNative().tsoSegments(r.u8.buffer as ArrayBuffer, off - 22, r.udpOut[1], 1398, 62, CSUM_PARTIAL);
    for (const s of segs) {
      const ip = [...s.subarray(22)];
      expect(s[1]).toBe(0x01);
      expect(refChecksum(ip.slice(0, 20))).toBe(0);
      // The TCP field holds the pseudo-header sum of this segment, as CHECKSUM_PARTIAL leaves it.
      expect((ip[36] << 8) | ip[37]).toBe(~refChecksum(pseudo(A, B, 6, ip.length - 20)) & 0xffff);
    }
  });

  it('never flags a frame towards a kernel VXLAN peer: full inner checksums, reserved bits zero', () => {
    const r = rig(2, 1450, true, mixed(), true);
    const gen = rnd(5);
    for (let iter = 0; iter < 50; iter++) {
      const payload = Array.from({ length: 1 + (gen() % 30000) }, () => gen() & 0xff);
      const mss = 500 + (gen() % 910);
      const off = tsoRead(r, tcpPacket(A, C, payload, 'partial', gen() << 12, 0x18), mss);
      expect(r.ctl[0]).toBe(1);
      expect(r.udpOut[7]).toBe(CSUM_FULL);
      expect(r.u8[off - 22 + 1]).toBe(0);
      const segs = loadNative().tsoSegments(r.u8.buffer as ArrayBuffer, off - 22, r.udpOut[1], mss, 62, CSUM_FULL);
      for (const s of segs) {
        expect([...s.subarray(0, 8)]).toEqual([0x08, 0, 0, 0, 0, 0, 1, 0]);
        const ip = [...s.subarray(22)];
        expect(refChecksum([...pseudo(A, C, 6, ip.length - 20), ...ip.slice(20)])).toBe(0);
      }
      // A plain partial packet to the kernel peer is finished, not flagged.
      const small = tcpPacket(A, C, [1, 2, 3], 'partial');
      const o2 = plainRead(r, small, true);
      expect(r.u8[o2 - 22 + 1]).toBe(0);
      expect([...r.u8.subarray(o2, o2 + small.length)]).toEqual(tcpPacket(A, C, [1, 2, 3]));
    }
  });

  it('with elision turned off, sends full checksums to every peer', () => {
    const r = rig(2, 1450, true, mixed(), false);
    const off = tsoRead(r, tcpPacket(A, B, new Array(5000).fill(3), 'partial'), 1398);
    expect(r.udpOut[7]).toBe(CSUM_FULL);
    expect(r.u8[off - 22 + 1]).toBe(0);
    const small = tcpPacket(A, B, [9, 9], 'partial');
    const o2 = plainRead(r, small, true);
    expect(r.u8[o2 - 22 + 1]).toBe(0);
    expect([...r.u8.subarray(o2, o2 + small.length)]).toEqual(tcpPacket(A, B, [9, 9]));
  });

  it('flags a plain partial TCP or UDP packet to an elision peer, and finishes an unusual one', () => {
    const r = rig(2, 1450, true, mixed(), true);
    const tcp = tcpPacket(A, B, [1, 2, 3], 'partial');
    const o1 = plainRead(r, tcp, true);
    expect(r.u8[o1 - 22 + 1]).toBe(0x01);
    expect([...r.u8.subarray(o1, o1 + tcp.length)]).toEqual(tcp); // left partial
    const o2 = plainRead(r, tcp, true, 20 | (6 << 16)); // csum_offset of UDP on a TCP packet
    expect(r.u8[o2 - 22 + 1]).toBe(0);
    const o3 = plainRead(r, tcpPacket(A, B, [1, 2, 3]), false);
    expect(r.u8[o3 - 22 + 1]).toBe(0);
  });
});

describe('receiving with checksum elision (UDP → TUN)', () => {
  it('hands an elided TCP packet to the TUN as NEEDS_CSUM without summing it', () => {
    const r = rig(2, 1450, true, mixed());
    const inner = tcpPacket(B, A, [5, 6, 7, 8], 'partial');
    const off = putUdp(r, elided(inner), PEER_IP);
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    expect([...r.tunOut.subarray(0, 8)]).toEqual([off + 22, inner.length, 1, 0, 0, 0, 20, 16]);
    expect([...r.u8.subarray(off + 22, off + 22 + inner.length)]).toEqual(inner);
    expect(r.fwd.counts[Count.CHECKSUMS_FINISHED]).toBe(0);
    expect(r.fwd.drops.every((d) => d === 0)).toBe(true);
  });

  it('coalesces an elided GRO run into one GSO write whose segments are the ones sent', () => {
    const r = rig(2, 1450, true, mixed());
    const frames: number[][] = [];
    for (let i = 0; i < 10; i++) frames.push(elided(tcpPacket(B, A, new Array(1000).fill(i), 'partial', 100 + i * 1000, 0x10)));
    putUdp(r, frames.flat(), PEER_IP, frames[0].length);
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    const m = r.tunOut;
    expect([m[1], m[2], m[3], m[4], m[5], m[6], m[7]]).toEqual([20 + 20 + 10000, 1, 1, 40, 1000, 20, 16]);
    const p = [...r.u8.subarray(m[0], m[0] + m[1])];
    expect((p[36] << 8) | p[37]).toBe(~refChecksum(pseudo(B, A, 6, 10020)) & 0xffff);
    expect(p.slice(40)).toEqual(frames.flatMap((_, i) => new Array(1000).fill(i)));
  });

  it('finishes an elided packet itself when the TUN has no vnet header', () => {
    const r = rig(2, 1450, false, mixed());
    const off = putUdp(r, elided(udpPacket(B, A, [1, 2, 3, 4, 5]).map((b, i) => (i === 26 || i === 27 ? 0 : b))), PEER_IP);
    // Put the UDP pseudo-header sum in place, as a partial checksum.
    const ps = ~refChecksum(pseudo(B, A, 17, 13)) & 0xffff;
    r.u8[off + 22 + 26] = ps >> 8;
    r.u8[off + 22 + 27] = ps & 0xff;
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    expect(r.tunOut[2]).toBe(0);
    expect([...r.u8.subarray(off + 22, off + 22 + 33)]).toEqual(udpPacket(B, A, [1, 2, 3, 4, 5]));
    expect(r.fwd.counts[Count.CHECKSUMS_FINISHED]).toBe(1);
  });

  it('drops the flag from a sender that does not advertise elision (a kernel node, or a spoofer)', () => {
    const r = rig(2, 1450, true, mixed());
    putUdp(r, elided(tcpPacket(C, A, [1], 'partial'), '0e:00:00:00:00:03'), KERNEL_IP);
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(0);
    expect(r.fwd.drops[Drop.ELISION_UNEXPECTED]).toBe(1);
    putUdp(r, elided(tcpPacket(B, A, [1], 'partial')), '198.18.0.99');
    r.fwd.onUdp(1);
    expect(r.fwd.drops[Drop.UNKNOWN_SENDER]).toBe(1);
  });

  it('drops elided packets whose inner headers cannot carry a partial checksum', () => {
    const r = rig(2, 1450, true, mixed());
    const icmp = [...udpPacket(B, A, [1, 2, 3])];
    icmp[9] = 1; // ICMP
    const frag = [...tcpPacket(B, A, [1, 2, 3], 'partial')];
    frag[6] = 0x20; // more fragments
    const shortTcp = [...tcpPacket(B, A, [], 'partial')];
    shortTcp[32] = 0xf0; // TCP header length 60 > what the packet holds
    const other = [...tcpPacket(B, A, [1], 'partial')];
    for (const inner of [icmp, frag, shortTcp]) {
      putUdp(r, elided(inner), PEER_IP);
      r.fwd.onUdp(1);
      expect(r.ctl[1]).toBe(0);
    }
    expect(r.fwd.drops[Drop.BAD_ELISION]).toBe(3);
    const bad = elided(other);
    bad[1] = 0x03; // an unknown reserved bit beside ours
    putUdp(r, bad, PEER_IP);
    r.fwd.onUdp(1);
    expect(r.fwd.drops[Drop.BAD_RESERVED]).toBe(1);
  });

  it('never writes a corrupted elided frame out of bounds, and counts every drop (fuzz)', () => {
    const r = rig(2, 1450, true, mixed());
    const gen = rnd(99);
    const template = elided(tcpPacket(B, A, [1, 2, 3, 4, 5, 6, 7, 8], 'partial'));
    let delivered = 0;
    for (let iter = 0; iter < 20000; iter++) {
      const d = template.map((b) => (gen() % 40 === 0 ? gen() & 0xff : b)).slice(0, 22 + (gen() % 70));
      putUdp(r, d, gen() % 4 === 0 ? KERNEL_IP : PEER_IP);
      const before = r.fwd.drops.reduce((a, b) => a + b, 0);
      r.fwd.onUdp(1);
      const after = r.fwd.drops.reduce((a, b) => a + b, 0);
      if (r.ctl[1] === 1) {
        delivered++;
        const off = r.tunOut[0];
        const len = r.tunOut[1];
        expect(off).toBe(UDP_RX_OFFSET + 22);
        expect(off + len).toBeLessThanOrEqual(UDP_RX_OFFSET + d.length);
        if (r.tunOut[2] === 1) {
          // NEEDS_CSUM only for an unfragmented TCP/UDP packet whose L4 header fits.
          const proto = r.u8[off + 9];
          expect([6, 17]).toContain(proto);
          expect(r.tunOut[6]).toBe((r.u8[off] & 15) * 4);
          expect(r.tunOut[6] + r.tunOut[7] + 2).toBeLessThanOrEqual(len);
        }
      } else {
        expect(after).toBe(before + 1);
      }
    }
    expect(delivered).toBeGreaterThan(0);
  });
});

describe('the native TSO cut against a plain reference (fuzz)', () => {
  it('gives the same datagrams as cutting by hand, for random sizes, MSS, flags and options', () => {
    const gen = rnd(21);
    const native = loadNative();
    for (let iter = 0; iter < 200; iter++) {
      const optWords = gen() % 4;
      const payloadLen = 1 + (gen() % 20000);
      const mss = 1 + (gen() % 1400);
      const flags = [0x10, 0x18, 0x19, 0x98, 0x11][gen() % 5];
      const seq = ((gen() << 16) | gen()) >>> 0;
      const payload = Array.from({ length: payloadLen }, () => gen() & 0xff);
      const p = tcpWithOptions(A, B, payload, seq, flags, optWords, gen() & 0xffff);
      const arena = new ArrayBuffer(p.length + 64);
      const u8 = new Uint8Array(arena);
      const hdr = vxlan(1, PEER_MAC, LOCAL_MAC, []);
      u8.set(hdr, 10);
      u8.set(p, 32);
      const h = 22 + 20 + 20 + optWords * 4;
      const mode = gen() % 2 === 0 ? CSUM_FULL : CSUM_PARTIAL;
      const got = native.tsoSegments(arena, 10, 22 + p.length, mss, h, mode).map((b) => [...b]);
      expect(got).toEqual(referenceCut(hdr, p, mss, mode));
    }
  });
});

/** IPv4/TCP with optWords 4-byte NOP options, a full checksum, and a given IP id. */
function tcpWithOptions(src: string, dst: string, payload: number[], seq: number, flags: number, optWords: number, id: number): number[] {
  const thl = 20 + optWords * 4;
  const tcp = [0x30, 0x39, 0x1f, 0x90, (seq >>> 24) & 255, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255, 0, 0, 0, 1, (thl / 4) << 4, flags, 0x10, 0, 0, 0, 0, 0];
  for (let i = 0; i < optWords * 4; i++) tcp.push(1);
  tcp.push(...payload);
  const c = refChecksum([...pseudo(src, dst, 6, tcp.length), ...tcp]);
  tcp[16] = c >> 8;
  tcp[17] = c & 255;
  const total = 20 + tcp.length;
  const ip = [0x45, 0, total >> 8, total & 255, id >> 8, id & 255, 0x40, 0, 64, 6, 0, 0, ...[src, dst].flatMap((a) => a.split('.').map(Number))];
  const hc = refChecksum(ip);
  ip[10] = hc >> 8;
  ip[11] = hc & 255;
  return [...ip, ...tcp];
}

/** TCP segmentation written plainly: what RFC 793 and the kernel's GSO would produce. */
function referenceCut(encap: number[], p: number[], mss: number, mode: number): number[][] {
  const thl = (p[32] >> 4) * 4;
  const head = p.slice(0, 20 + thl);
  const payload = p.slice(20 + thl);
  const seq0 = ((p[24] << 24) | (p[25] << 16) | (p[26] << 8) | p[27]) >>> 0;
  const id0 = (p[4] << 8) | p[5];
  const k = Math.ceil(payload.length / mss);
  const out: number[][] = [];
  for (let i = 0; i < k; i++) {
    const body = payload.slice(i * mss, (i + 1) * mss);
    const h = [...head];
    const total = h.length + body.length;
    h[2] = total >> 8;
    h[3] = total & 255;
    h[4] = ((id0 + i) >> 8) & 255;
    h[5] = (id0 + i) & 255;
    h[10] = 0;
    h[11] = 0;
    const hc = refChecksum(h.slice(0, 20));
    h[10] = hc >> 8;
    h[11] = hc & 255;
    const s = (seq0 + i * mss) >>> 0;
    h[24] = s >>> 24;
    h[25] = (s >>> 16) & 255;
    h[26] = (s >>> 8) & 255;
    h[27] = s & 255;
    let f = p[33];
    if (i !== k - 1) f &= ~0x09;
    if (i !== 0) f &= ~0x80;
    h[33] = f;
    h[36] = 0;
    h[37] = 0;
    const ps = pseudo('10.244.1.2', '10.244.2.2', 6, thl + body.length);
    const c = mode === CSUM_FULL ? refChecksum([...ps, ...h.slice(20), ...body]) : ~refChecksum(ps) & 0xffff;
    h[36] = c >> 8;
    h[37] = c & 255;
    out.push([...encap, ...h, ...body]);
  }
  return out;
}

