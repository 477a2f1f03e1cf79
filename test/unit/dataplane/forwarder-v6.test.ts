// The IPv6 half of encap and decap between weft nodes over the IPv4 underlay, against hand-written
// bytes: inner Ethernet 0x86DD to the peer's IPv6 VTEP MAC, ICMPv6 no route, partial checksums
// finished or elided, every IPv6 drop reason, and a fuzz of decap with random inner bytes.
import { describe, expect, it } from 'vitest';
import { META_STRIDE, TUN_OUT_CSUM_OFFSET, TUN_OUT_CSUM_START, TUN_OUT_FLAGS } from '../../../daemon/dataplane/constants.js';
import { Count, Drop, DROP_NAMES } from '../../../daemon/dataplane/counters.js';
import { PEER_IP, PEER_MAC, putTun, putUdp, refChecksum, u32, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';
import { ip6, LOCAL_MAC6, PEER_MAC6, pseudo6, rig6, tcp6Packet, udp6Packet } from '../../fixtures/dataplane/packets6.js';

const A = 'fd00:10:244:1::2';
const B = 'fd00:10:244:2::2';
const C = 'fd00:10:244:3::2';

const bytes = (r: Rig, off: number, len: number): number[] => [...r.u8.subarray(off, off + len)];
const frame6 = (packet: number[], dstMac = LOCAL_MAC6): number[] => vxlan(1, dstMac, PEER_MAC6, packet, 0x86dd);
const fieldOf = (r: Rig, off: number, at: number): number => (r.u8[off + at] << 8) | r.u8[off + at + 1];

describe('encap of IPv6 (TUN → UDP over the IPv4 underlay)', () => {
  it("writes VXLAN and inner Ethernet (peer's IPv6 VTEP MAC, ours, 0x86DD) and sends to the peer's IPv4 address", () => {
    const r = rig6();
    const packet = udp6Packet(A, B, [1, 2, 3, 4]);
    const off = putTun(r, 0, packet);
    r.fwd.onTun(1);
    expect([r.ctl[0], r.ctl[1]]).toEqual([1, 0]);
    expect([...r.udpOut.subarray(0, 4)]).toEqual([off - 22, packet.length + 22, u32(PEER_IP) | 0, 8472]);
    // prettier-ignore
    expect(bytes(r, off - 22, 22)).toEqual([
      0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
      0x0e, 0x00, 0x00, 0x00, 0x06, 0x02,
      0x0e, 0x00, 0x00, 0x00, 0x06, 0x01,
      0x86, 0xdd,
    ]);
    expect(bytes(r, off, packet.length)).toEqual(packet);
    expect([r.fwd.counts[Count.TX_PACKETS], r.fwd.counts[Count.TX_BYTES]]).toEqual([1, packet.length]);
    expect(r.fwd.routes.peerCounters[r.fwd.routes.lookup6(Uint8Array.from(ip6(B)), 0) * 4]).toBe(1);
  });

  it('drops and counts what it cannot route: outside the IPv6 network, our own subnet, a Flannel peer, inconsistent lengths', () => {
    const r = rig6();
    putTun(r, 0, udp6Packet(A, 'fd00:99::1', [1]));
    putTun(r, 1, udp6Packet(A, 'fd00:10:244:1::9', [1]));
    putTun(r, 2, udp6Packet(A, C, [1]));
    const cut = udp6Packet(A, B, [1, 2, 3]);
    putTun(r, 3, cut.slice(0, cut.length - 1));
    putTun(r, 4, [0x60, 0, 0, 0]);
    r.fwd.onTun(5);
    expect(r.ctl[0]).toBe(0);
    expect([r.fwd.drops[Drop.NOT_OVERLAY], r.fwd.drops[Drop.IPV6_NO_PATH], r.fwd.drops[Drop.MALFORMED_OUTBOUND]]).toEqual([2, 1, 2]);
    expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(5);
  });

  it('answers an IPv6 subnet without a lease with ICMPv6 no route written back to the TUN', () => {
    const r = rig6();
    const packet = udp6Packet(A, 'fd00:10:244:9::9', [9, 9, 9]);
    const off = putTun(r, 0, packet);
    r.fwd.onTun(1);
    expect(r.fwd.drops[Drop.NO_ROUTE]).toBe(1);
    expect([r.ctl[0], r.ctl[1]]).toEqual([0, 1]);
    const [o, len] = [r.tunOut[0], r.tunOut[1]];
    expect([o, len]).toEqual([off - 48, 48 + packet.length]);
    const reply = bytes(r, o, len);
    expect(reply.slice(0, 8)).toEqual([0x60, 0, 0, 0, 0, 8 + packet.length, 58, 255]);
    expect(reply.slice(8, 24)).toEqual(ip6('fd00:10:244:9::9'));
    expect(reply.slice(24, 40)).toEqual(ip6(A));
    expect(reply.slice(40, 42)).toEqual([1, 0]);
    expect(refChecksum([...pseudo6('fd00:10:244:9::9', A, 58, 8 + packet.length), ...reply.slice(40)])).toBe(0);
    expect(reply.slice(48)).toEqual(packet);
    expect(r.fwd.counts[Count.ICMP_SENT]).toBe(1);
  });

  it('finishes a partial UDP or TCP checksum (NEEDS_CSUM) towards a peer without elision', () => {
    const r = rig6();
    const udp = udp6Packet(A, B, [5, 6, 7], 'partial');
    const tcp = tcp6Packet(A, B, [1, 2, 3, 4, 5], 'partial');
    const o1 = putTun(r, 0, udp, 40 | (6 << 16));
    const o2 = putTun(r, 1, tcp, 40 | (16 << 16));
    r.fwd.onTun(2);
    expect(r.ctl[0]).toBe(2);
    expect(bytes(r, o1, udp.length)).toEqual(udp6Packet(A, B, [5, 6, 7]));
    expect(bytes(r, o2, tcp.length)).toEqual(tcp6Packet(A, B, [1, 2, 3, 4, 5]));
    expect([r.u8[o1 - 22 + 1], r.u8[o2 - 22 + 1]]).toEqual([0, 0]);
  });

  it('leaves a partial checksum right after the fixed header to an elision peer and marks the frame; finishes any other', () => {
    const r = rig6({ tunOffloads: true, elision: true });
    const tcp = tcp6Packet(A, B, [1, 2, 3], 'partial');
    const o1 = putTun(r, 0, tcp, 40 | (16 << 16));
    // A UDP checksum behind an 8-byte extension header (csum_start 48): not elided, finished.
    const udp = udp6Packet(A, B, [4, 5], 'partial');
    const ext = [...udp.slice(0, 6), 0, ...udp.slice(7, 40)];
    ext[5] += 8;
    const withExt = [...ext, 17, 0, 0, 0, 0, 0, 0, 0, ...udp.slice(40)];
    const o2 = putTun(r, 1, withExt, 48 | (6 << 16));
    r.fwd.onTun(2);
    expect(r.ctl[0]).toBe(2);
    expect(r.u8[o1 - 22 + 1]).toBe(1);
    expect(bytes(r, o1, tcp.length)).toEqual(tcp);
    expect(r.u8[o2 - 22 + 1]).toBe(0);
    expect(bytes(r, o2 + 48, 8)).toEqual(udp6Packet(A, B, [4, 5]).slice(40, 48));
    expect(r.fwd.counts[Count.ELIDED_SENT]).toBe(1);
  });
});

describe('decap of IPv6 (UDP → TUN)', () => {
  it('delivers a valid frame from the peer that leases its source subnet, addressed to our IPv6 VTEP MAC', () => {
    const r = rig6();
    const packet = tcp6Packet(B, A, [1, 2, 3]);
    const off = putUdp(r, 0, frame6(packet));
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    expect([r.tunOut[0], r.tunOut[1]]).toEqual([off + 22, packet.length]);
    expect(bytes(r, off + 22, packet.length)).toEqual(packet);
    expect([r.fwd.counts[Count.RX_PACKETS], r.fwd.counts[Count.RX_BYTES]]).toEqual([1, packet.length]);
    expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(0);
  });

  it('finishes a partial checksum (a kernel sender) and counts it', () => {
    const r = rig6();
    const off = putUdp(r, 0, frame6(udp6Packet(B, A, [7, 7, 7], 'partial')));
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(1);
    expect(bytes(r, off + 22, 51)).toEqual(udp6Packet(B, A, [7, 7, 7]));
    expect(r.fwd.counts[Count.CHECKSUMS_FINISHED]).toBe(1);
  });

  it.each([
    ['wrong IPv6 VTEP MAC (our IPv4 one)', frame6(udp6Packet(B, A, [1]), '0e:00:00:00:00:01'), Drop.WRONG_DST_MAC],
    ['source outside every lease', frame6(udp6Packet('fd00:10:244:ee::1', A, [1])), Drop.SPOOFED_SOURCE],
    ["source in another peer's subnet", frame6(udp6Packet(C, A, [1])), Drop.SPOOFED_SOURCE],
    ['source outside the IPv6 network', frame6(udp6Packet('2001:db8::1', A, [1])), Drop.SPOOFED_SOURCE],
    ['destination not in our subnet', frame6(udp6Packet(B, 'fd00:10:244:2::9', [1])), Drop.NOT_FOR_US],
    ['version 4 in a 0x86DD frame', frame6([0x45, ...udp6Packet(B, A, [1]).slice(1)]), Drop.MALFORMED_INNER],
    ['payload length past the datagram', frame6([...udp6Packet(B, A, [1]).slice(0, 5), 200, ...udp6Packet(B, A, [1]).slice(6)]), Drop.MALFORMED_INNER],
    ['shorter than an IPv6 header', frame6(udp6Packet(B, A, [1]).slice(0, 30)), Drop.TRUNCATED],
    ['bad UDP checksum', frame6(udp6Packet(B, A, [1, 2]).map((b, i) => (i === 49 ? b ^ 1 : b))), Drop.BAD_L4_CHECKSUM],
    ['UDP checksum 0 (mandatory over IPv6)', frame6(udp6Packet(B, A, [1], 'zero')), Drop.BAD_L4_CHECKSUM],
    ['elision flag from a peer that does not advertise it', frame6(udp6Packet(B, A, [1], 'partial')).map((b, i) => (i === 1 ? 1 : b)), Drop.ELISION_UNEXPECTED],
  ])('drops and counts: %s', (_what, datagram, reason) => {
    const r = rig6();
    putUdp(r, 0, datagram);
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(0);
    expect(r.fwd.drops[reason]).toBe(1);
    expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(1);
  });

  it('hands an elided TCP/UDP packet to a vnet-header TUN as NEEDS_CSUM from byte 40, and refuses the flag on ICMPv6', () => {
    const r = rig6({ tunOffloads: true, elision: true });
    const packet = tcp6Packet(B, A, [1, 2, 3], 'partial');
    putUdp(r, 0, frame6(packet).map((b, i) => (i === 1 ? 1 : b)));
    const icmp = [...udp6Packet(B, A, [1, 2]).slice(0, 6), 58, ...udp6Packet(B, A, [1, 2]).slice(7)];
    putUdp(r, 1, frame6(icmp).map((b, i) => (i === 1 ? 1 : b)));
    r.fwd.onUdp(2);
    expect(r.ctl[1]).toBe(1);
    expect([r.tunOut[TUN_OUT_FLAGS], r.tunOut[TUN_OUT_CSUM_START], r.tunOut[TUN_OUT_CSUM_OFFSET]]).toEqual([1, 40, 16]);
    expect(fieldOf(r, r.tunOut[0], 56)).toBe(~refChecksum(pseudo6(B, A, 6, 23)) & 0xffff);
    expect([r.fwd.counts[Count.ELIDED_RECEIVED], r.fwd.drops[Drop.BAD_ELISION]]).toEqual([1, 1]);
  });

  it('splits a UDP GRO buffer of IPv6 frames into packets written as they are', () => {
    const r = rig6({ tunOffloads: true });
    const one = frame6(tcp6Packet(B, A, new Array(100).fill(1)));
    const two = frame6(tcp6Packet(B, A, new Array(100).fill(2)));
    const three = frame6(udp6Packet(B, A, [3]));
    putUdp(r, 0, [...one, ...two, ...three], PEER_IP, 0, one.length);
    r.fwd.onUdp(1);
    expect(r.ctl[1]).toBe(3);
    for (let i = 0; i < 3; i++) expect(r.tunOut[i * META_STRIDE + TUN_OUT_FLAGS]).toBe(0);
    expect([r.tunOut[1], r.tunOut[META_STRIDE + 1], r.tunOut[2 * META_STRIDE + 1]]).toEqual([160, 160, 49]);
    expect(r.fwd.counts[Count.RX_PACKETS]).toBe(3);
  });

  it('never throws on random inner bytes from the peer, and delivers only what holds (fuzz)', () => {
    let s = 7;
    const rnd = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) & 0xff;
    const r = rig6({ tunOffloads: true });
    for (let n = 0; n < 3000; n++) {
      const packet = udp6Packet(B, A, Array.from({ length: rnd() % 64 }, rnd));
      // Mutate a few bytes of the header (addresses, lengths, next header) or the whole packet.
      const k = rnd() % 6;
      for (let j = 0; j < k; j++) packet[rnd() % Math.min(packet.length, 48)] = rnd();
      const datagram = frame6(rnd() % 16 === 0 ? packet.map(rnd) : packet);
      putUdp(r, 0, datagram.slice(0, rnd() % 8 === 0 ? rnd() % datagram.length : datagram.length));
      const before = r.fwd.drops.reduce((a, b) => a + b);
      r.fwd.onUdp(1);
      const dropped = r.fwd.drops.reduce((a, b) => a + b) - before;
      expect(r.ctl[1] + dropped, `case ${n}`).toBe(1);
      if (r.ctl[1] === 1) {
        const ip = r.tunOut[0];
        expect(r.u8[ip] >> 4).toBe(6);
        expect(bytes(r, ip + 24, 8)).toEqual(ip6(A).slice(0, 8));
        expect(bytes(r, ip + 8, 8)).toEqual(ip6(B).slice(0, 8));
      }
    }
    expect(DROP_NAMES.length).toBe(r.fwd.drops.length);
    expect(PEER_MAC).not.toBe(PEER_MAC6);
  });
});
