// TUN offloads for TCP over IPv6 through the Forwarder, against plain references: a TSO6 super-packet
// read from the TUN becomes valid 0x86DD VXLAN datagrams carrying the same byte stream; IPv6 TCP runs
// of a UDP GRO buffer are coalesced into TCPV6 GSO writes that, segmented plainly by gso_size, give
// back exactly the packets that arrived; an oversized IPv6 TCP datagram is cut to the MTU.
import { describe, expect, it } from 'vitest';
import { CSUM_FULL, CSUM_PARTIAL, IN_GSO_SIZE, IN_GSO_TYPE, META_STRIDE, OUT_TSO, TUN_OUT_GSO_SIZE, TUN_OUT_GSO_TYPE, TUN_OUT_LENGTH, TUN_OUT_OFFSET } from '../../../daemon/dataplane/constants.js';
import { Count, Drop } from '../../../daemon/dataplane/counters.js';
import { loadNative } from '../../../daemon/dataplane/native.js';
import { PEER_IP, putTun, putUdp, refChecksum, tcpPacket, u32, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';
import { LOCAL_MAC6, PEER_MAC6, pseudo6, referenceCut6, rig6, tcp6Segment, type Tcp6Options } from '../../fixtures/dataplane/packets6.js';

const A = 'fd00:10:244:1::2';
const B = 'fd00:10:244:2::2';
const C = 'fd00:10:244:3::2';
const MTU = 1450;

function rnd(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xffff;
}

/** TUN read `i` as a TSO super-packet (gso type, MSS), its checksum partial as the kernel leaves it. */
function tsoRead(r: Rig, i: number, packet: number[], mss: number, gsoType = 4): number {
  const off = putTun(r, i, packet, 40 | (16 << 16));
  r.tunIn[i * META_STRIDE + IN_GSO_TYPE] = gsoType;
  r.tunIn[i * META_STRIDE + IN_GSO_SIZE] = mss;
  return off;
}

describe('TSO6 reads (TUN → UDP)', () => {
  it('hands an IPv6 super-packet to the engine whole, routed once, and the engine cuts it into MSS-sized 0x86DD datagrams that carry the stream', () => {
    const gen = rnd(5);
    for (const [len, mss, optWords] of [[60000, 1378, 3], [5000, 1390, 0], [1391, 1390, 0], [3000, 536, 1], [3000, 1, 0]]) {
      for (const elision of [false, true]) {
        const r = rig6({ tunOffloads: true, elision });
        const payload = Array.from({ length: len }, () => gen() & 0xff);
        const p = tcp6Segment(A, B, payload, { csum: 'partial', seq: 0x7ffffff0, flags: 0x18, optWords, tc: 0xb8, hop: 63 });
        const off = tsoRead(r, 0, p, mss);
        r.fwd.onTun(1);
        const h = 22 + 40 + 20 + optWords * 4;
        const mode = elision ? CSUM_PARTIAL : CSUM_FULL;
        expect(r.ctl[0]).toBe(1);
        expect([...r.udpOut.subarray(0, 8)]).toEqual([off - 22, p.length + 22, u32(PEER_IP) | 0, 8472, OUT_TSO, mss, h, mode]);
        expect(r.u8[off - 22 + 1]).toBe(elision ? 1 : 0);
        const datagrams = loadNative().tsoSegments(r.u8.buffer as ArrayBuffer, off - 22, p.length + 22, mss, h, mode);
        const encap = vxlan(1, PEER_MAC6, LOCAL_MAC6, [], 0x86dd);
        if (elision) encap[1] = 1;
        const want = referenceCut6(p, mss, elision ? 'partial' : 'good').map((seg) => [...encap, ...seg]);
        expect(datagrams.map((d) => [...d])).toEqual(want);
        for (const d of datagrams) expect(d.length - 22).toBeLessThanOrEqual(MTU);
        const k = Math.ceil(len / mss);
        expect([r.fwd.counts[Count.SUPER_PACKETS], r.fwd.counts[Count.TX_PACKETS]]).toEqual([1, k]);
      }
    }
  });

  it('drops and counts IPv6 super-packets it cannot trust or route', () => {
    const r = rig6({ tunOffloads: true });
    const p = tcp6Segment(A, B, new Array(3000).fill(1), { csum: 'partial', flags: 0x10 });
    tsoRead(r, 0, p, MTU - 60 + 1); // MSS larger than the MTU allows
    tsoRead(r, 1, p.slice(0, -1), 1000); // length disagrees with the payload length
    tsoRead(r, 2, [...p.slice(0, 6), 0, ...p.slice(7)], 1000); // an extension header first
    tsoRead(r, 3, p, 1000, 1); // TCPV4 on an IPv6 packet
    tsoRead(r, 4, tcpPacket('10.244.1.2', '10.244.2.2', new Array(3000).fill(1)), 1000, 4); // TCPV6 on an IPv4 packet
    tsoRead(r, 5, tcp6Segment(A, C, new Array(3000).fill(1), { flags: 0x10 }), 1000); // a Flannel peer: no IPv6 path yet
    r.fwd.onTun(6);
    expect(r.fwd.drops[Drop.BAD_SUPER_PACKET]).toBe(5);
    expect(r.fwd.drops[Drop.IPV6_NO_PATH]).toBe(1);
    expect([r.ctl[0], r.fwd.counts[Count.SUPER_PACKETS]]).toEqual([0, 0]);
  });
});

describe('IPv6 TCP coalescing of GRO buffers and cutting of oversized datagrams (UDP → TUN)', () => {
  /** What a pod receives from the TUN writes: plain packets as they are, GSO writes cut plainly by gso_size. */
  function received(r: Rig): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < r.ctl[1]; i++) {
      const m = i * META_STRIDE;
      const p = [...r.u8.subarray(r.tunOut[m + TUN_OUT_OFFSET], r.tunOut[m + TUN_OUT_OFFSET] + r.tunOut[m + TUN_OUT_LENGTH])];
      if (r.tunOut[m + TUN_OUT_GSO_TYPE] === 0) {
        out.push(p);
        continue;
      }
      expect(r.tunOut[m + TUN_OUT_GSO_TYPE]).toBe(4);
      expect((p[56] << 8) | p[57]).toBe(~refChecksum(pseudo6(B, A, 6, p.length - 40)) & 0xffff);
      out.push(...referenceCut6(p, r.tunOut[m + TUN_OUT_GSO_SIZE], 'good'));
    }
    return out;
  }

  it('gives back exactly the segments that arrived, for random runs, gaps and flags (fuzz)', () => {
    const gen = rnd(23);
    let coalesced = 0;
    for (let iter = 0; iter < 200; iter++) {
      const r = rig6({ tunOffloads: true });
      const packets: number[][] = [];
      let seq = ((gen() << 16) | gen()) >>> 0;
      const n = 1 + (gen() % 40);
      const mss = 1 + (gen() % 1380);
      for (let i = 0; i < n; i++) {
        const g = gen() % 16;
        const len = g === 0 && i === n - 1 ? 1 + (gen() % mss) : mss; // GRO: only the last may be shorter
        if (g === 1) seq = (seq + 7) >>> 0;
        const o: Tcp6Options = { seq, flags: g === 2 ? 0x18 : g === 3 ? 0x11 : 0x10, hop: g === 4 ? 9 : 64 };
        packets.push(tcp6Segment(B, A, Array.from({ length: len }, () => gen() & 0xff), o));
        seq = (seq + len) >>> 0;
      }
      const frames = packets.map((p) => vxlan(1, LOCAL_MAC6, PEER_MAC6, p, 0x86dd));
      putUdp(r, 0, frames.flat(), PEER_IP, 0, frames[0].length);
      r.fwd.onUdp(1);
      expect(received(r)).toEqual(packets);
      expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(0);
      coalesced += r.ctl[1] < packets.length ? 1 : 0;
    }
    expect(coalesced).toBeGreaterThan(50);
    expect(coalesced).toBeLessThan(200);
  });

  it('cuts an oversized IPv6 TCP datagram (a TSO super-datagram) into MTU-sized segments whose checksums verify', () => {
    const r = rig6({ tunOffloads: true });
    const payload = Array.from({ length: 20000 }, (_, i) => (i * 7) & 0xff);
    const p = tcp6Segment(B, A, payload, { csum: 'partial', seq: 5, flags: 0x18 });
    putUdp(r, 0, vxlan(1, LOCAL_MAC6, PEER_MAC6, p, 0x86dd));
    r.fwd.onUdp(1);
    const segs = received(r);
    expect(segs).toEqual(referenceCut6(p, MTU - 60, 'good'));
    expect([r.fwd.counts[Count.SEGMENTED], r.fwd.counts[Count.CHECKSUMS_FINISHED]]).toEqual([1, 1]);
  });
});
