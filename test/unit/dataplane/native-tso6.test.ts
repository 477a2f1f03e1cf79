// The native TSO cut of IPv6/TCP super-packets (tsoSegments, the engine's own code) against a cut
// written plainly: payload length per segment, no IP id, TCP checksum over the IPv6 pseudo-header
// (full, or the pseudo-header sum for checksum elision), FIN/PSH on the last segment, CWR on the first.
import { describe, expect, it } from 'vitest';
import { CSUM_FULL, CSUM_PARTIAL } from '../../../daemon/dataplane/constants.js';
import { loadNative } from '../../../daemon/dataplane/native.js';
import { LOCAL_MAC, PEER_MAC, refChecksum, vxlan } from '../../fixtures/dataplane/packets.js';
import { pseudo6, referenceCut6, tcp6Segment } from '../../fixtures/dataplane/packets6.js';

const A = 'fd00:10:244:1::2';
const B = 'fd00:10:244:2::2';

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

function cut(p: number[], mss: number, hdrLen: number, mode: number): number[][] {
  const arena = new ArrayBuffer(p.length + 64);
  const u8 = new Uint8Array(arena);
  u8.set(vxlan(1, PEER_MAC, LOCAL_MAC, [], 0x86dd), 10);
  u8.set(p, 32);
  return loadNative()
    .tsoSegments(arena, 10, 22 + p.length, mss, hdrLen, mode)
    .map((b) => [...b]);
}

describe('the native TSO cut of IPv6 super-packets against a plain reference (fuzz)', () => {
  it('gives the same datagrams as cutting by hand, for random sizes, MSS, flags, options, traffic class and hop limit', () => {
    const gen = rnd(61);
    for (let iter = 0; iter < 200; iter++) {
      const optWords = gen() % 4;
      const payloadLen = 1 + (gen() % 20000);
      const mss = 1 + (gen() % 1400);
      const flags = [0x10, 0x18, 0x19, 0x98, 0x11, 0xd8][gen() % 6];
      const seq = ((gen() << 16) | gen()) >>> 0;
      const payload = Array.from({ length: payloadLen }, () => gen() & 0xff);
      const p = tcp6Segment(A, B, payload, { seq, flags, optWords, csum: gen() % 2 === 0 ? 'good' : 'partial', tc: gen() & 0xff, hop: 1 + (gen() % 255) });
      const mode = gen() % 2 === 0 ? CSUM_FULL : CSUM_PARTIAL;
      const encap = vxlan(1, PEER_MAC, LOCAL_MAC, [], 0x86dd);
      const want = referenceCut6(p, mss, mode === CSUM_FULL ? 'good' : 'partial').map((seg) => [...encap, ...seg]);
      expect(cut(p, mss, 22 + 40 + 20 + optWords * 4, mode)).toEqual(want);
    }
  });

  it('cuts a 64 KiB super-packet into full-sized segments whose checksums verify', () => {
    const payload = Array.from({ length: 65535 - 20 - 12 }, (_, i) => (i * 13 + 5) & 0xff);
    const p = tcp6Segment(A, B, payload, { seq: 0xffffff00, flags: 0x18, optWords: 3 });
    const segs = cut(p, 1378, 22 + 40 + 32, CSUM_FULL);
    expect(segs.length).toBe(Math.ceil(payload.length / 1378));
    const joined: number[] = [];
    for (const d of segs) {
      const ip = d.slice(22);
      const plen = (ip[4] << 8) | ip[5];
      expect(plen).toBe(ip.length - 40);
      expect(refChecksum([...pseudo6(A, B, 6, plen), ...ip.slice(40)])).toBe(0);
      joined.push(...ip.slice(40 + 32));
    }
    expect(joined).toEqual(payload);
  });

  it('refuses IPv6 super-packets it cannot cut: extension headers, a header length that disagrees', () => {
    const p = tcp6Segment(A, B, new Array(3000).fill(7));
    const hop = [...p];
    hop[6] = 0; // hop-by-hop options header first
    expect(() => cut(hop, 1000, 82, CSUM_FULL)).toThrow(/inconsistent/);
    expect(() => cut(p, 1000, 82 + 4, CSUM_FULL)).toThrow(/inconsistent/);
    expect(() => cut(p, 1000, 62, CSUM_FULL)).toThrow(/inconsistent/);
    expect(cut(p, 1000, 82, CSUM_FULL).length).toBe(3);
  });
});
