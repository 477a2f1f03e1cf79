// TUN offloads against plain references: a TSO super-packet read from the TUN becomes valid
// VXLAN datagrams carrying the same byte stream; TCP runs of a UDP GRO buffer are coalesced into
// GSO writes that, segmented plainly by gso_size, give back exactly the segments that arrived.
import { describe, expect, it } from 'vitest';
import { CSUM_FULL, HEADROOM, IN_CSUM, IN_FLAGS, IN_GSO_SIZE, IN_GSO_TYPE, IN_LENGTH, IN_OFFSET, META_STRIDE, OUT_TSO, UDP_RX_OFFSET, IN_ADDR } from '../../../daemon/dataplane/constants.js';
import { loadNative } from '../../../daemon/dataplane/native.js';
import { Drop } from '../../../daemon/dataplane/counters.js';
import { LOCAL_MAC, PEER_IP, PEER_MAC, SLOT, pseudo, refChecksum, rig, tcpPacket, u32, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';

const A = '10.244.1.2';
const B = '10.244.2.2';

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

describe('TSO reads (TUN → UDP)', () => {
  function send(r: Rig, payload: number[], mss: number, partial: boolean): number {
    const p = tcpPacket(A, B, payload, partial ? 'partial' : 'good', 0x7ffffff0, 0x18);
    const off = HEADROOM;
    r.u8.set(p, off);
    r.tunIn[IN_OFFSET] = off;
    r.tunIn[IN_LENGTH] = p.length;
    r.tunIn[IN_FLAGS] = 2; // NEEDS_CSUM
    r.tunIn[IN_GSO_TYPE] = 1; // TCPV4
    r.tunIn[IN_GSO_SIZE] = mss;
    r.tunIn[IN_CSUM] = 20 | (16 << 16);
    r.fwd.onTun(1);
    return off;
  }

  it('hands a super-packet to the engine whole, routed once, and the engine cuts it into MSS-sized VXLAN datagrams with valid headers, in order', () => {
    const gen = rnd(3);
    for (const [len, mss] of [[60000, 1398], [5000, 1410], [1411, 1410], [3000, 536], [3000, 1]]) {
      const r = rig(2, 1450);
      const payload = Array.from({ length: len }, () => gen() & 0xff);
      const off = send(r, payload, mss, true);
      expect(r.ctl[0]).toBe(1);
      expect([...r.udpOut.subarray(0, 8)]).toEqual([off - 22, len + 40 + 22, u32(PEER_IP) | 0, 8472, OUT_TSO, mss, 62, CSUM_FULL]);
      const k = Math.ceil(len / mss);
      const datagrams = loadNative().tsoSegments(r.u8.buffer as ArrayBuffer, off - 22, len + 62, mss, 62, CSUM_FULL);
      expect(datagrams.length).toBe(k);
      const joined: number[] = [];
      datagrams.forEach((dg, i) => {
        const d = [...dg];
        expect(d.slice(0, 22)).toEqual(vxlan(1, PEER_MAC, LOCAL_MAC, []));
        const ip = d.slice(22);
        expect(ip.length).toBeLessThanOrEqual(1450);
        expect(refChecksum(ip.slice(0, 20))).toBe(0);
        expect(refChecksum([...pseudo(A, B, 6, ip.length - 20), ...ip.slice(20)])).toBe(0);
        expect(ip[33] & 0x08).toBe(i === k - 1 ? 0x08 : 0);
        for (let j = 40; j < ip.length; j++) joined.push(ip[j]);
        if (i < k - 1) expect(ip.length - 40).toBe(mss);
      });
      expect(joined).toEqual(payload);
      expect(r.fwd.counts[7]).toBe(1);
      expect(r.fwd.counts[0]).toBe(k);
    }
  });

  it('drops and counts super-packets it cannot trust', () => {
    const r = rig(2, 1450);
    send(r, new Array(3000).fill(1), 1500, false); // MSS larger than the MTU allows
    r.tunIn[IN_GSO_TYPE] = 4; // TCPV6
    r.fwd.onTun(1);
    r.tunIn[IN_GSO_TYPE] = 1;
    r.tunIn[IN_LENGTH] -= 1; // length disagrees with the IP header
    r.fwd.onTun(1);
    expect(r.fwd.drops[Drop.BAD_SUPER_PACKET]).toBe(3);
    expect(r.ctl[0]).toBe(0);
  });

  it('finishes a partial checksum of a plain packet (NEEDS_CSUM) before sending it', () => {
    const r = rig(2, 1450);
    const good = tcpPacket(A, B, [1, 2, 3, 4, 5]);
    r.u8.set(tcpPacket(A, B, [1, 2, 3, 4, 5], 'partial'), HEADROOM);
    r.tunIn[IN_OFFSET] = HEADROOM;
    r.tunIn[IN_LENGTH] = good.length;
    r.tunIn[IN_FLAGS] = 2;
    r.tunIn[IN_CSUM] = 20 | (16 << 16);
    r.fwd.onTun(1);
    expect([...r.u8.subarray(HEADROOM, HEADROOM + good.length)]).toEqual(good);
  });
});

describe('TCP coalescing of GRO buffers (UDP → TUN)', () => {
  interface Seg {
    seq: number;
    payload: number[];
    flags: number;
    port: number;
  }

  /** Plain reference: a TUN write, segmented by gso_size, as (port, seq, payload) segments. */
  function written(r: Rig): Seg[] {
    const out: Seg[] = [];
    for (let i = 0; i < r.ctl[1]; i++) {
      const m = i * META_STRIDE;
      const p = [...r.u8.subarray(r.tunOut[m], r.tunOut[m] + r.tunOut[m + 1])];
      const total = (p[2] << 8) | p[3];
      expect(total).toBe(p.length);
      expect(refChecksum(p.slice(0, 20))).toBe(0);
      const h = 20 + ((p[32] >> 4) << 2);
      const seq = ((p[24] << 24) | (p[25] << 16) | (p[26] << 8) | p[27]) >>> 0;
      const port = (p[20] << 8) | p[21];
      const payload = p.slice(h);
      if (r.tunOut[m + 3] === 0) {
        expect(refChecksum([...pseudo(B, A, 6, total - 20), ...p.slice(20)])).toBe(0);
        out.push({ seq, payload, flags: p[33], port });
        continue;
      }
      expect(r.tunOut[m + 2]).toBe(1); // NEEDS_CSUM
      expect(r.tunOut[m + 3]).toBe(1); // TCPV4
      expect(r.tunOut[m + 4]).toBe(h);
      expect([r.tunOut[m + 6], r.tunOut[m + 7]]).toEqual([20, 16]);
      expect((p[36] << 8) | p[37]).toBe(~refChecksum(pseudo(B, A, 6, total - 20)) & 0xffff);
      const mss = r.tunOut[m + 5];
      for (let o = 0; o < payload.length; o += mss) {
        const last = o + mss >= payload.length;
        out.push({ seq: (seq + o) >>> 0, payload: payload.slice(o, o + mss), flags: last ? p[33] : p[33] & ~0x08, port });
      }
    }
    return out;
  }

  it('gives back exactly the segments that arrived, for random runs, gaps, flags and flows', () => {
    const gen = rnd(11);
    let coalesced = 0;
    for (let iter = 0; iter < 300; iter++) {
      const r = rig(2, 1450, true);
      const segs: Seg[] = [];
      let seq = (gen() << 16) >>> 0;
      const n = 1 + (gen() % 40);
      const mss = 1 + (gen() % 1410);
      for (let i = 0; i < n; i++) {
        const g = gen() % 16;
        const len = g === 0 ? 1 + (gen() % mss) : mss;
        if (g === 1) seq = (seq + 7) >>> 0; // a gap
        const flags = g === 2 ? 0x18 : g === 3 ? 0x11 : 0x10;
        segs.push({ seq, payload: Array.from({ length: len }, () => gen() & 0xff), flags, port: g === 4 ? 5555 : 0x3039 });
        seq = (seq + len) >>> 0;
      }
      const frames = segs.map((s) => {
        const p = tcpPacket(B, A, s.payload, 'good', s.seq, s.flags);
        p[20] = s.port >> 8;
        p[21] = s.port & 0xff;
        const fixed = tcpPacket(B, A, s.payload, 'good', s.seq, s.flags);
        if (s.port !== 0x3039) return vxlan(1, LOCAL_MAC, PEER_MAC, refix(p));
        return vxlan(1, LOCAL_MAC, PEER_MAC, fixed);
      });
      const gso = frames[0].length;
      if (frames.slice(0, -1).some((f) => f.length !== gso) || frames[frames.length - 1].length > gso) {
        // GRO only merges equal-size datagrams (the last may be shorter): deliver them one by one.
        for (const f of frames) {
          put(r, f, 0);
          r.fwd.onUdp(1);
          expect(written(r)).toEqual([segsOf(f)]);
        }
        continue;
      }
      put(r, frames.flat(), gso);
      r.fwd.onUdp(1);
      expect(written(r)).toEqual(segs);
      coalesced += r.ctl[1] < segs.length ? 1 : 0;
    }
    expect(coalesced).toBeGreaterThan(20);
  });

  function segsOf(frame: number[]): Seg {
    const p = frame.slice(22);
    return { seq: ((p[24] << 24) | (p[25] << 16) | (p[26] << 8) | p[27]) >>> 0, payload: p.slice(40), flags: p[33], port: (p[20] << 8) | p[21] };
  }

  function put(r: Rig, d: number[], gso: number): void {
    const off = UDP_RX_OFFSET;
    expect(off + d.length).toBeLessThan(SLOT);
    r.u8.set(d, off);
    r.udpIn[IN_OFFSET] = off;
    r.udpIn[IN_LENGTH] = d.length;
    r.udpIn[IN_ADDR] = u32(PEER_IP) | 0;
    r.udpIn[IN_GSO_SIZE] = gso;
  }

  /** Recomputes the TCP checksum after a header change. */
  function refix(p: number[]): number[] {
    p[36] = 0;
    p[37] = 0;
    const c = refChecksum([...pseudo(B, A, 6, p.length - 20), ...p.slice(20)]);
    p[36] = c >> 8;
    p[37] = c & 255;
    return p;
  }
});
