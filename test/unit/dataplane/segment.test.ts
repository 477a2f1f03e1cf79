// TCP segmentation of super-packets against a plain reference: the payload comes out in order,
// every segment is a valid IPv4/TCP or IPv6/TCP packet of at most the MTU, sequence numbers follow.
import { describe, expect, it } from 'vitest';
import { segmentSlack, segmentTcp6InPlace, segmentTcpInPlace } from '../../../daemon/dataplane/segment.js';
import { pseudo, refChecksum, tcpPacket } from '../../fixtures/dataplane/packets.js';
import { referenceCut6, tcp6Segment } from '../../fixtures/dataplane/packets6.js';

function check(payloadLen: number, mtu: number, flags: number): void {
  const payload = Array.from({ length: payloadLen }, (_, i) => (i * 7 + 3) & 0xff);
  const seq = 0xfffff000; // wraps
  const packet = tcpPacket('10.244.2.2', '10.244.1.2', payload, 'good', seq, flags);
  const buf = new Uint8Array(packet.length + segmentSlack(packet.length, 40, mtu) + 16);
  buf.set(packet, 8);
  const k = segmentTcpInPlace(buf, 8, packet.length, mtu);
  const m = mtu - 40;
  expect(k).toBe(Math.ceil(payloadLen / m));
  const joined: number[] = [];
  for (let i = 0; i < k; i++) {
    const off = 8 + i * mtu;
    const total = (buf[off + 2] << 8) | buf[off + 3];
    expect(total).toBeLessThanOrEqual(mtu);
    const seg = [...buf.subarray(off, off + total)];
    expect(refChecksum(seg.slice(0, 20))).toBe(0);
    expect(refChecksum([...pseudo('10.244.2.2', '10.244.1.2', 6, total - 20), ...seg.slice(20)])).toBe(0);
    const s = ((seg[24] << 24) | (seg[25] << 16) | (seg[26] << 8) | seg[27]) >>> 0;
    expect(s).toBe((seq + i * m) >>> 0);
    const f = seg[33];
    expect(f & 0x09).toBe(i === k - 1 ? flags & 0x09 : 0); // FIN, PSH only on the last
    expect(f & 0x80).toBe(i === 0 ? flags & 0x80 : 0); // CWR only on the first
    expect(f & 0x10).toBe(flags & 0x10); // ACK on all
    joined.push(...seg.slice(40));
  }
  expect(joined).toEqual(payload);
}

describe('segmentTcpInPlace', () => {
  it('cuts super-packets of many sizes into valid MTU-sized segments with the payload in order', () => {
    for (const len of [1411, 1420, 2820, 5000, 30000, 65495]) check(len, 1450, 0x19);
    check(9000, 1500, 0x90);
    check(3000, 576, 0x10);
  });

  it('leaves non-TCP packets alone', () => {
    const buf = new Uint8Array(3000);
    buf[0] = 0x45;
    buf[9] = 17;
    expect(segmentTcpInPlace(buf, 0, 2000, 1450)).toBe(0);
  });
});

const A6 = 'fd00:10:244:2::2';
const B6 = 'fd00:10:244:1::2';

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

describe('segmentTcp6InPlace', () => {
  it('cuts IPv6 super-packets like a plain reference, for random sizes, MTU, gap, MSS limit, flags and options (fuzz)', () => {
    const gen = rnd(7);
    for (let iter = 0; iter < 300; iter++) {
      const optWords = gen() % 11;
      const h = 40 + 20 + optWords * 4;
      const mtu = h + 8 + (gen() % 9000);
      const gap = [0, 22, 3][gen() % 3];
      const mssLimit = gen() % 3 === 0 ? 1 + (gen() % 2000) : 0;
      const m = mssLimit > 0 && mssLimit < mtu - h ? mssLimit : mtu - h;
      const payload = Array.from({ length: Math.max(1, (gen() % 65000) - optWords * 4) }, () => gen() & 0xff);
      const flags = [0x10, 0x18, 0x19, 0x98, 0x11, 0xd9][gen() % 6];
      const p = tcp6Segment(A6, B6, payload, { seq: ((gen() << 16) | gen()) >>> 0, flags, optWords, csum: gen() % 2 ? 'partial' : 'good', tc: gen() & 0xff });
      const at = 8 + (gen() % 8);
      const slack = segmentSlack(p.length, h, mtu, gap, m);
      const buf = new Uint8Array(at + p.length + slack + 4).fill(0xee);
      buf.set(p, at);
      const k = segmentTcp6InPlace(buf, at, p.length, mtu, gap, mssLimit);
      const want = m < 8 ? [] : referenceCut6(p, m);
      expect(k).toBe(want.length);
      want.forEach((seg, i) => {
        const off = at + i * (gap + h + m);
        expect(seg.length).toBeLessThanOrEqual(mtu);
        expect([...buf.subarray(off, off + seg.length)]).toEqual(seg);
      });
      expect([...buf.subarray(0, at)].every((b) => b === 0xee)).toBe(true);
      expect([...buf.subarray(buf.length - 4)]).toEqual([0xee, 0xee, 0xee, 0xee]);
    }
  });

  it('leaves alone IPv6 packets that are not TCP right after the fixed header, and ones too short to cut', () => {
    const p = tcp6Segment(A6, B6, new Array(3000).fill(1));
    const buf = new Uint8Array(8000);
    buf.set(p);
    buf[6] = 0; // hop-by-hop options header
    expect(segmentTcp6InPlace(buf, 0, p.length, 1450)).toBe(0);
    buf[6] = 17;
    expect(segmentTcp6InPlace(buf, 0, p.length, 1450)).toBe(0);
    buf[6] = 6;
    expect(segmentTcp6InPlace(buf, 0, 60, 1450)).toBe(0);
    expect(segmentTcp6InPlace(buf, 0, p.length, 60 + 7)).toBe(0);
    expect([...buf.subarray(0, p.length)]).toEqual([...p.slice(0, 6), 6, ...p.slice(7)]);
  });
});
