// TCP coalescing of IPv6 segments (TcpCoalescer) against a plain reference: every TUN write,
// segmented by gso_size as the kernel does, gives back exactly the packets that arrived; runs
// break where flow, sequence, flags, options, hop limit, traffic class or flow label change.
import { describe, expect, it } from 'vitest';
import { TcpCoalescer } from '../../../daemon/dataplane/coalesce.js';
import { META_STRIDE, TUN_OUT_CSUM_OFFSET, TUN_OUT_CSUM_START, TUN_OUT_FLAGS, TUN_OUT_GSO_SIZE, TUN_OUT_GSO_TYPE, TUN_OUT_HDR_LEN, TUN_OUT_LENGTH, TUN_OUT_OFFSET } from '../../../daemon/dataplane/constants.js';
import { refChecksum, tcpPacket } from '../../fixtures/dataplane/packets.js';
import { referenceCut6, tcp6Segment, type Tcp6Options } from '../../fixtures/dataplane/packets6.js';

const A = 'fd00:10:244:1::2';
const B = 'fd00:10:244:2::2';
const ENCAP = 22;

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

interface Arrival {
  /** As sent: full checksum. */
  packet: number[];
  /** Handed over with the TCP checksum partial (checksum elision). */
  partial: boolean;
}

/** The IPv6 packet with its TCP checksum recomputed after a header change (or left partial). */
function refix6(p: number[], partial: boolean): number[] {
  const q = [...p];
  q[56] = 0;
  q[57] = 0;
  const ps = [...q.slice(8, 40), 0, 0, (q.length - 40) >> 8, (q.length - 40) & 255, 0, 0, 0, 6];
  const c = partial ? ~refChecksum(ps) & 0xffff : refChecksum([...ps, ...q.slice(40)]);
  q[56] = c >> 8;
  q[57] = c & 255;
  return q;
}

/**
 * Lays the packets out as frames of a GRO buffer (a 22-byte encap header before each, back to back),
 * feeds them to a coalescer and returns what a pod would receive: each TUN write as is (a partial
 * checksum finished), or, for a GSO write, the segments of a plain cut by gso_size.
 */
function coalesce(arrivals: Arrival[]): { received: number[][]; writes: number; runs: number } {
  const size = arrivals.reduce((a, x) => a + ENCAP + x.packet.length, 64);
  const u8 = new Uint8Array(size);
  const tunOut = new Int32Array(arrivals.length * META_STRIDE);
  const c = new TcpCoalescer(u8, tunOut);
  let f = 8;
  let n = 0;
  for (const a of arrivals) {
    const bytes = a.partial && a.packet[0] >> 4 === 6 ? refix6(a.packet, true) : a.packet;
    u8.set(bytes, f + ENCAP);
    n = c.add(f + ENCAP, bytes.length, a.partial ? 16 : 0, n);
    f += ENCAP + bytes.length;
  }
  c.close();
  const received: number[][] = [];
  for (let i = 0; i < n; i++) {
    const o = i * META_STRIDE;
    const p = [...u8.subarray(tunOut[o + TUN_OUT_OFFSET], tunOut[o + TUN_OUT_OFFSET] + tunOut[o + TUN_OUT_LENGTH])];
    const v6 = p[0] >> 4 === 6;
    if (tunOut[o + TUN_OUT_GSO_TYPE] === 0) {
      if (tunOut[o + TUN_OUT_FLAGS] === 1) {
        expect(v6).toBe(true);
        expect([tunOut[o + TUN_OUT_CSUM_START], tunOut[o + TUN_OUT_CSUM_OFFSET]]).toEqual([40, 16]);
        received.push(refix6(p, false));
      } else {
        received.push(p);
      }
      continue;
    }
    expect(v6).toBe(true);
    expect(tunOut[o + TUN_OUT_FLAGS]).toBe(1); // NEEDS_CSUM
    expect(tunOut[o + TUN_OUT_GSO_TYPE]).toBe(4); // TCPV6
    const h = 40 + ((p[52] >> 4) << 2);
    expect(tunOut[o + TUN_OUT_HDR_LEN]).toBe(h);
    expect([tunOut[o + TUN_OUT_CSUM_START], tunOut[o + TUN_OUT_CSUM_OFFSET]]).toEqual([40, 16]);
    expect(p.length).toBeLessThanOrEqual(65535);
    expect((p[4] << 8) | p[5]).toBe(p.length - 40);
    expect((p[56] << 8) | p[57]).toBe(~refChecksum([...p.slice(8, 40), 0, 0, (p.length - 40) >> 8, (p.length - 40) & 255, 0, 0, 0, 6]) & 0xffff);
    received.push(...referenceCut6(p, tunOut[o + TUN_OUT_GSO_SIZE], 'good'));
  }
  return { received, writes: n, runs: c.runs };
}

describe('TcpCoalescer with IPv6 segments', () => {
  it('merges a run of MSS-sized segments into one TCPV6 GSO write, PSH on the last, that cuts back into them', () => {
    const segs: Arrival[] = [];
    let seq = 0xfffff000; // wraps
    for (let i = 0; i < 40; i++) {
      const payload = Array.from({ length: i === 39 ? 700 : 1380 }, (_, j) => (i * 31 + j) & 0xff);
      segs.push({ packet: tcp6Segment(B, A, payload, { seq, flags: i === 39 ? 0x18 : 0x10, optWords: 3, tc: 0x28, hop: 63 }), partial: i % 3 === 0 });
      seq = (seq + payload.length) >>> 0;
    }
    const out = coalesce(segs);
    expect(out.writes).toBe(1);
    expect(out.runs).toBe(1);
    expect(out.received).toEqual(segs.map((s) => s.packet));
  });

  it('keeps runs under 64 KiB', () => {
    const segs: Arrival[] = Array.from({ length: 60 }, (_, i) => ({ packet: tcp6Segment(B, A, new Array(1400).fill(i), { seq: i * 1400, flags: 0x10 }), partial: false }));
    const out = coalesce(segs);
    expect(out.writes).toBe(2);
    expect(out.received).toEqual(segs.map((s) => s.packet));
  });

  it('gives back exactly the packets that arrived, for random runs, gaps, flags, flows, headers and families (fuzz)', () => {
    const gen = rnd(17);
    let merged = 0;
    for (let iter = 0; iter < 300; iter++) {
      const arrivals: Arrival[] = [];
      let seq = ((gen() << 16) | gen()) >>> 0;
      const n = 1 + (gen() % 40);
      const mss = 1 + (gen() % 1400);
      const elided = gen() % 2 === 0;
      for (let i = 0; i < n; i++) {
        const g = gen() % 32;
        const len = g === 0 ? 1 + (gen() % mss) : mss;
        if (g === 1) seq = (seq + 7) >>> 0;
        const o: Tcp6Options = { seq, optWords: 2, flags: g === 2 ? 0x18 : g === 3 ? 0x11 : g === 4 ? 0x50 : 0x10 };
        if (g === 5) o.hop = 17;
        if (g === 6) o.tc = 0x04;
        if (g === 7) o.window = 0x1234;
        if (g === 8) o.ack = 99;
        const payload = Array.from({ length: len }, () => gen() & 0xff);
        // IPv4 with PSH: never opens a run of its own (those are offloads.test.ts's).
        let packet = g === 9 ? tcpPacket('10.244.2.2', '10.244.1.2', payload, 'good', seq, 0x18) : tcp6Segment(B, A, payload, o);
        if (g === 10) packet[40] ^= 1; // source port
        if (g === 11) packet[3] ^= 1; // flow label
        if (g === 12) packet[61] = 8; // an option byte
        if (g === 13) packet[23] ^= 1; // source address
        if (g >= 10 && g <= 13) packet = refix6(packet, false);
        arrivals.push({ packet, partial: elided && g !== 9 });
        seq = (seq + len) >>> 0;
      }
      const out = coalesce(arrivals);
      expect(out.received).toEqual(arrivals.map((a) => a.packet));
      merged += out.writes < arrivals.length ? 1 : 0;
    }
    expect(merged).toBeGreaterThan(50);
  });

  it('never merges a packet with extension headers, and leaves an IPv4 run to IPv4', () => {
    const p0 = tcp6Segment(B, A, new Array(100).fill(1), { seq: 0, flags: 0x10 });
    const p1 = tcp6Segment(B, A, new Array(100).fill(2), { seq: 100, flags: 0x10 });
    const hop = [...p1];
    hop[6] = 0; // hop-by-hop options next: not TCP right after the fixed header
    expect(coalesce([p0, hop].map((packet) => ({ packet, partial: false }))).writes).toBe(2);
    expect(coalesce([hop, p1].map((packet) => ({ packet, partial: false }))).writes).toBe(2);
    const v4 = tcpPacket('10.244.2.2', '10.244.1.2', new Array(100).fill(3), 'good', 0, 0x10);
    const v4next = tcpPacket('10.244.2.2', '10.244.1.2', new Array(100).fill(4), 'good', 100, 0x10);
    expect(coalesce([v4, p1].map((packet) => ({ packet, partial: false }))).writes).toBe(2);
    expect(coalesce([p0, v4next].map((packet) => ({ packet, partial: false }))).writes).toBe(2);
  });
});
