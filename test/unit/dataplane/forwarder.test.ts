// Encap and decap byte layouts against hand-written bytes, every drop reason, partial checksum
// finishing, ICMP net unreachable, and a fuzz of decap with random garbage.
import { describe, expect, it } from 'vitest';
import { IN_GSO_SIZE, META_STRIDE, UDP_RX_OFFSET } from '../../../daemon/dataplane/constants.js';
import { Drop, DROP_NAMES } from '../../../daemon/dataplane/counters.js';
import { LOCAL_MAC, PEER_IP, PEER_MAC, pseudo, putTun, putUdp, refChecksum, rig, tcpPacket, u32, udpPacket, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';

const bytes = (r: Rig, off: number, len: number): number[] => [...r.u8.subarray(off, off + len)];

describe('encap (TUN → UDP)', () => {
  it('writes VXLAN (flags 0x08, VNI 1) and inner Ethernet (peer MAC, our MAC, 0x0800) in the headroom', () => {
    const r = rig();
    const packet = udpPacket('10.244.1.2', '10.244.2.2', [1, 2, 3, 4]);
    const off = putTun(r, 0, packet);
    r.fwd.onTun(1);
    expect(r.ctl[0]).toBe(1);
    expect(r.ctl[1]).toBe(0);
    expect([...r.udpOut.subarray(0, 4)]).toEqual([off - 22, packet.length + 22, u32(PEER_IP) | 0, 8472]);
    // prettier-ignore
    expect(bytes(r, off - 22, 22)).toEqual([
      0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
      0x0e, 0x00, 0x00, 0x00, 0x00, 0x02,
      0x0e, 0x00, 0x00, 0x00, 0x00, 0x01,
      0x08, 0x00,
    ]);
    expect(bytes(r, off, packet.length)).toEqual(packet);
    expect(r.fwd.counts[0]).toBe(1);
  });

  it('routes each packet of a batch to its own peer', () => {
    const r = rig();
    putTun(r, 0, udpPacket('10.244.1.2', '10.244.3.7', [1]));
    putTun(r, 1, udpPacket('10.244.1.2', '10.244.2.9', [2]));
    r.fwd.onTun(2);
    expect(r.ctl[0]).toBe(2);
    expect(r.udpOut[2]).toBe(u32('198.18.0.3') | 0);
    expect(r.udpOut[META_STRIDE + 2]).toBe(u32(PEER_IP) | 0);
  });

  it('drops and counts what it cannot route', () => {
    const r = rig();
    putTun(r, 0, udpPacket('10.244.1.2', '192.168.1.1', [1])); // outside the network
    putTun(r, 1, udpPacket('10.244.1.2', '10.244.1.9', [1])); // our own subnet
    putTun(r, 2, [0x60, 0, 0, 0, ...new Array(36).fill(0)]); // IPv6
    putTun(r, 3, [0x45, 0, 0]); // too short
    r.fwd.onTun(4);
    expect(r.ctl[0]).toBe(0);
    expect(r.fwd.drops[Drop.NOT_OVERLAY]).toBe(2);
    expect(r.fwd.drops[Drop.IPV6_UNSUPPORTED]).toBe(1);
    expect(r.fwd.drops[Drop.MALFORMED_OUTBOUND]).toBe(1);
  });

  it('answers a subnet without a lease with ICMP net unreachable written back to the TUN', () => {
    const r = rig();
    const packet = udpPacket('10.244.1.2', '10.244.9.9', [9, 9, 9, 9, 9, 9, 9, 9, 9, 9]);
    const off = putTun(r, 0, packet);
    r.fwd.onTun(1);
    expect(r.fwd.drops[Drop.NO_ROUTE]).toBe(1);
    expect(r.ctl[0]).toBe(0);
    expect(r.ctl[1]).toBe(1);
    const [o, len] = [r.tunOut[0], r.tunOut[1]];
    expect(o).toBe(off - 28);
    expect(len).toBe(28 + 20 + 8);
    const reply = bytes(r, o, len);
    expect(refChecksum(reply.slice(0, 20))).toBe(0);
    expect(reply.slice(12, 16)).toEqual([10, 244, 9, 9]);
    expect(reply.slice(16, 20)).toEqual([10, 244, 1, 2]);
    expect(reply.slice(20, 22)).toEqual([3, 0]);
    expect(refChecksum(reply.slice(20))).toBe(0);
    expect(reply.slice(28)).toEqual(packet.slice(0, 28));
  });

  it('never answers an ICMP error with one', () => {
    const r = rig();
    const icmpErr = [...ipvHeaderIcmp(), 3, 1, 0, 0, 0, 0, 0, 0];
    putTun(r, 0, icmpErr);
    r.fwd.onTun(1);
    expect(r.fwd.drops[Drop.NO_ROUTE]).toBe(1);
    expect(r.ctl[1]).toBe(0);
  });
});

function ipvHeaderIcmp(): number[] {
  return [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 1, 0, 0, 10, 244, 1, 2, 10, 244, 9, 9];
}

describe('decap (UDP → TUN)', () => {
  const inner = (): number[] => udpPacket('10.244.2.2', '10.244.1.2', [1, 2, 3, 4, 5]);

  it('hands the inner IP packet to the TUN', () => {
    const r = rig();
    const off = putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, inner()));
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    expect([r.tunOut[0], r.tunOut[1]]).toEqual([off + 22, inner().length]);
    expect(bytes(r, off + 22, inner().length)).toEqual(inner());
    expect(r.fwd.drops.every((d) => d === 0)).toBe(true);
    expect(r.fwd.routes.peerCounters[2]).toBe(1); // rxPackets of peer 0
  });

  it('trims Ethernet padding after the IP total length', () => {
    const r = rig();
    putUdp(r, 0, [...vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 0, 0, 0, 0]);
    r.fwd.onUdp(1);
    expect(r.tunOut[1]).toBe(inner().length);
  });

  const cases: [string, number, () => { d: number[]; src?: string; flags?: number }][] = [
    ['truncated (short)', Drop.TRUNCATED, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, inner()).slice(0, 30) })],
    ['truncated (MSG_TRUNC)', Drop.TRUNCATED, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, inner()), flags: 1 })],
    ['bad flags', Drop.BAD_FLAGS, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 0, 0x0c) })],
    ['reserved bits', Drop.BAD_RESERVED, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 7, 1) })],
    ['reserved bits after flags', Drop.BAD_RESERVED, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 2, 0x80) })],
    ['wrong VNI', Drop.WRONG_VNI, () => ({ d: vxlan(2, LOCAL_MAC, PEER_MAC, inner()) })],
    ['unknown sender', Drop.UNKNOWN_SENDER, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, inner()), src: '198.18.0.77' })],
    ['inner dst MAC not ours', Drop.WRONG_DST_MAC, () => ({ d: vxlan(1, '0e:00:00:00:00:09', PEER_MAC, inner()) })],
    ['ARP', Drop.NON_IP, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, inner(), 0x0806) })],
    ['inner IPv6', Drop.INNER_IPV6, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, inner(), 0x86dd) })],
    ['inner version 5', Drop.MALFORMED_INNER, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 22, 0x55) })],
    ['inner IHL < 5', Drop.MALFORMED_INNER, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 22, 0x44) })],
    ['inner total length beyond the datagram', Drop.MALFORMED_INNER, () => ({ d: set(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 25, 200) })],
    ['inner source in another peer’s subnet', Drop.SPOOFED_SOURCE, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, udpPacket('10.244.3.2', '10.244.1.2', [1])) })],
    ['inner source outside the network', Drop.SPOOFED_SOURCE, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, udpPacket('8.8.8.8', '10.244.1.2', [1])) })],
    ['inner destination not in our subnet', Drop.NOT_FOR_US, () => ({ d: vxlan(1, LOCAL_MAC, PEER_MAC, udpPacket('10.244.2.2', '10.244.3.2', [1])) })],
    ['bad inner UDP checksum', Drop.BAD_L4_CHECKSUM, () => ({ d: flip(vxlan(1, LOCAL_MAC, PEER_MAC, inner()), 22 + 28) })],
    ['bad inner TCP checksum', Drop.BAD_L4_CHECKSUM, () => ({ d: flip(vxlan(1, LOCAL_MAC, PEER_MAC, tcpPacket('10.244.2.2', '10.244.1.2', [1, 2, 3])), 22 + 40) })],
  ];
  for (const [name, reason, make] of cases) {
    it(`drops and counts: ${name} → ${DROP_NAMES[reason]}`, () => {
      const r = rig();
      const { d, src, flags } = make();
      putUdp(r, 0, d, src, flags);
      putUdp(r, 1, vxlan(1, LOCAL_MAC, PEER_MAC, inner())); // a good one after it still passes
      r.fwd.onUdp(2);
      expect(r.fwd.drops[reason]).toBe(1);
      expect([...r.fwd.drops].reduce((a, b) => a + b, 0)).toBe(1);
      expect(r.ctl[1]).toBe(1);
    });
  }

  it('finishes a partial inner TCP checksum (kernel VXLAN over veth) so that it verifies', () => {
    const r = rig();
    const src = '10.244.2.2';
    const dst = '10.244.1.2';
    const good = tcpPacket(src, dst, [5, 6, 7, 8, 9], 'good');
    const partial = tcpPacket(src, dst, [5, 6, 7, 8, 9], 'partial');
    expect(partial).not.toEqual(good);
    const off = putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, partial));
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    const out = bytes(r, off + 22, good.length);
    expect(out).toEqual(good);
    expect(refChecksum([...pseudo(src, dst, 6, 25), ...out.slice(20)])).toBe(0);
    expect(r.fwd.counts[5]).toBe(1);
  });

  it('accepts UDP without a checksum (0)', () => {
    const r = rig();
    const p = inner();
    p[26] = 0;
    p[27] = 0;
    putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, p));
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
  });

  it('never throws on random garbage, and every outcome is a counted drop or an in-bounds packet', () => {
    const r = rig(4);
    let seed = 12345;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    const template = vxlan(1, LOCAL_MAC, PEER_MAC, tcpPacket('10.244.2.2', '10.244.1.2', [1, 2, 3, 4, 5, 6, 7, 8]));
    let passed = 0;
    for (let iter = 0; iter < 20000; iter++) {
      // Half pure noise, half a valid datagram with a few bytes changed and a random length.
      const d = iter % 2 === 0 ? Array.from({ length: rnd() % 120 }, rnd) : template.map((b) => (rnd() < 8 ? rnd() : b)).slice(0, 22 + (rnd() % 80));
      if (iter % 2 === 1 && rnd() < 128) d[0] = 0x08;
      putUdp(r, 0, d, rnd() < 200 ? PEER_IP : '198.18.0.9');
      const before = [...r.fwd.drops].reduce((a, b) => a + b, 0);
      r.fwd.onUdp(1);
      const after = [...r.fwd.drops].reduce((a, b) => a + b, 0);
      if (r.ctl[1] === 1) {
        passed++;
        expect(r.tunOut[0]).toBeGreaterThanOrEqual(UDP_RX_OFFSET + 22);
        expect(r.tunOut[0] + r.tunOut[1]).toBeLessThanOrEqual(UDP_RX_OFFSET + d.length);
      } else {
        expect(after).toBe(before + 1);
      }
    }
    expect(passed).toBeGreaterThan(0);
  });
});

function set(d: number[], i: number, v: number): number[] {
  d[i] = v;
  return d;
}

function flip(d: number[], i: number): number[] {
  d[i] ^= 0x40;
  return d;
}

describe('UDP GRO buffers', () => {
  const frame = (n: number, size: number): number[] => {
    const inner = udpPacket('10.244.2.2', '10.244.1.2', new Array(size - 28 - 22).fill(n));
    return vxlan(1, LOCAL_MAC, PEER_MAC, inner);
  };

  it('splits a coalesced buffer into its datagrams (equal size, the last shorter) and decaps each', () => {
    const r = rig();
    const frames = [frame(1, 1472), frame(2, 1472), frame(3, 1472), frame(4, 300)];
    const off = putUdp(r, 0, frames.flat());
    r.udpIn[IN_GSO_SIZE] = 1472;
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(r.tunOut[i * META_STRIDE]).toBe(off + i * 1472 + 22);
      expect(r.tunOut[i * META_STRIDE + 1]).toBe(frames[i].length - 22);
      expect(r.u8[r.tunOut[i * META_STRIDE] + 40]).toBe(i + 1);
    }
  });

  it('drops only the bad datagram of a coalesced buffer', () => {
    const r = rig();
    const bad = frame(2, 1472);
    bad[6] = 9; // VNI 9
    putUdp(r, 0, [...frame(1, 1472), ...bad, ...frame(3, 1472)]);
    r.udpIn[IN_GSO_SIZE] = 1472;
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(2);
    expect(r.fwd.drops[Drop.WRONG_VNI]).toBe(1);
  });

  it('treats a kernel TSO super-datagram (inner length covers it all) as one packet, not as GRO segments', () => {
    const r = rig();
    const payload = Array.from({ length: 4000 }, (_, i) => i & 0xff);
    const off = putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, tcpPacket('10.244.2.2', '10.244.1.2', payload, 'partial')));
    r.udpIn[IN_GSO_SIZE] = 1398; // the inner MSS, as the kernel reports it for tunnel GSO
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(3);
    expect(r.tunOut[0]).toBe(off + 22);
    expect([r.tunOut[1], r.tunOut[META_STRIDE + 1], r.tunOut[2 * META_STRIDE + 1]]).toEqual([1450, 1450, 40 + 4000 - 2 * 1410]);
    expect(r.fwd.counts[6]).toBe(1);
  });
});
