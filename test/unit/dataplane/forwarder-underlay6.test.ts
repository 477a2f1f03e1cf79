// IPv6 towards and from a Flannel (kernel VXLAN) peer over the IPv6 underlay, against hand-written
// bytes: udpOut entries with OUT_V6 and the peer's slot, its IPv6 VTEP MAC, never the elision flag;
// Packet Too Big above the IPv6 underlay's inner MTU; no path without an IPv6 underlay or a
// PublicIPv6; and received IPv6-underlay datagrams validated by the slot the engine reports.
import { describe, expect, it } from 'vitest';
import { CSUM_FULL, IN_ADDR, IN_FLAG_V6, IN_GSO_SIZE, IN_GSO_TYPE, META_STRIDE, OUT_DATAGRAM, OUT_TSO, OUT_V6, VIRTIO_GSO_TCPV6 } from '../../../daemon/dataplane/constants.js';
import { loadNative } from '../../../daemon/dataplane/native.js';
import { Count, Drop } from '../../../daemon/dataplane/counters.js';
import { RouteTable } from '../../../daemon/dataplane/route-table.js';
import { mac, PEER_IP, PEER_MAC, putTun, putUdp, rig, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';
import { ip6, LOCAL6, LOCAL_MAC6, PEER_MAC6, referenceCut6, tcp6Packet, tcp6Segment, udp6Packet } from '../../fixtures/dataplane/packets6.js';

const A = 'fd00:10:244:1::2';
const B = 'fd00:10:244:2::2';
const C = 'fd00:10:244:3::2';
const D = 'fd00:10:244:4::2';
const MAC6_C = '0e:00:00:00:06:03';
const MTU = 1450;

/** b: weft; c and d: Flannel nodes with a PublicIPv6 (d's also given to e, a second lease of that node); f: Flannel without one. */
const table = (): RouteTable =>
  RouteTable.build({
    network: '10.244.0.0/16',
    subnetLen: 24,
    localSubnet: '10.244.1.0/24',
    network6: 'fd00:10:244::/56',
    subnetLen6: 64,
    localSubnet6: LOCAL6,
    peers: [
      { subnet: '10.244.2.0/24', publicIp: PEER_IP, vtepMac: PEER_MAC, weft: true, csumElision: true, subnet6: 'fd00:10:244:2::/64', vtepMac6: PEER_MAC6, publicIpv6: 'fd00:198:18::2' },
      { subnet: '10.244.3.0/24', publicIp: '198.18.0.3', vtepMac: '0e:00:00:00:00:03', subnet6: 'fd00:10:244:3::/64', vtepMac6: MAC6_C, publicIpv6: 'fd00:198:18::3' },
      { subnet: '10.244.4.0/24', publicIp: '198.18.0.4', vtepMac: '0e:00:00:00:00:04', subnet6: 'fd00:10:244:4::/64', vtepMac6: '0e:00:00:00:06:04', publicIpv6: 'fd00:198:18::4' },
      { subnet: '10.244.5.0/24', publicIp: '198.18.0.4', vtepMac: '0e:00:00:00:00:05', subnet6: 'fd00:10:244:5::/64', vtepMac6: '0e:00:00:00:06:05', publicIpv6: 'fd00:198:18::4' },
      { subnet: '10.244.6.0/24', publicIp: '198.18.0.6', vtepMac: '0e:00:00:00:00:06', subnet6: 'fd00:10:244:6::/64', vtepMac6: '0e:00:00:00:06:06' },
    ],
  });

const rigU = (underlay6 = true, elision = false): Rig =>
  rig(8, MTU, elision, table(), elision, { localSubnet6Index: 1, localVtepMac6: Uint8Array.from(mac(LOCAL_MAC6)), underlay6 });
const slotOf = (r: Rig, n: number): number => r.fwd.routes.slotOf((10 << 24) | (244 << 16) | (n << 8));
const bytes = (r: Rig, off: number, len: number): number[] => [...r.u8.subarray(off, off + len)];

/** Receive buffer i as the IPv6 socket reports it: IN_FLAG_V6 and the sender's slot (−1: unknown). */
function putUdp6(r: Rig, i: number, datagram: number[], slot: number): number {
  const off = putUdp(r, i, datagram, '0.0.0.0', IN_FLAG_V6);
  r.udpIn[i * META_STRIDE + IN_ADDR] = slot;
  return off;
}

describe('IPv6 to a Flannel peer over the IPv6 underlay (inside)', () => {
  it("sends it as flannel-v6.1 expects: OUT_V6 to the peer's slot, its IPv6 VTEP MAC, plain VXLAN header", () => {
    const r = rigU(true, true);
    const packet = udp6Packet(A, C, [1, 2, 3, 4], 'partial');
    const weftPacket = udp6Packet(A, B, [5, 6], 'partial');
    const off = putTun(r, 0, packet, 40 | (6 << 16));
    putTun(r, 1, weftPacket, 40 | (6 << 16));
    r.fwd.onTun(2);
    expect(r.ctl[0]).toBe(2);
    expect([...r.udpOut.subarray(0, 5)]).toEqual([off - 22, packet.length + 22, slotOf(r, 3), 8472, OUT_DATAGRAM | OUT_V6]);
    expect(bytes(r, off - 22, 22)).toEqual(vxlan(1, MAC6_C, LOCAL_MAC6, [], 0x86dd));
    expect(bytes(r, off, packet.length)).toEqual(udp6Packet(A, C, [1, 2, 3, 4])); // checksum finished, not elided
    // The weft peer still goes over the IPv4 underlay (and may be elided).
    expect(r.udpOut[META_STRIDE + 4]).toBe(OUT_DATAGRAM);
    expect(r.udpOut[META_STRIDE + 2]).toBe((198 << 24) | (18 << 16) | 2);
    expect(r.fwd.counts[Count.ELIDED_SENT]).toBe(1);
  });

  it('has no path without an IPv6 underlay, or to a Flannel peer without a PublicIPv6', () => {
    const r = rigU(false);
    putTun(r, 0, udp6Packet(A, C, [1]));
    r.fwd.onTun(1);
    const s = rigU(true);
    putTun(s, 0, udp6Packet(A, 'fd00:10:244:6::2', [1]));
    s.fwd.onTun(1);
    expect([r.ctl[0], s.ctl[0]]).toEqual([0, 0]);
    expect([r.fwd.drops[Drop.IPV6_NO_PATH], s.fwd.drops[Drop.IPV6_NO_PATH]]).toEqual([1, 1]);
  });

  it('passes the IPv6 underlay’s inner MTU and answers one byte more with Packet Too Big', () => {
    const r = rigU();
    const fits = tcp6Packet(A, C, new Array<number>(MTU - 20 - 60).fill(7));
    const over = tcp6Packet(A, C, new Array<number>(MTU - 20 - 60 + 1).fill(7));
    expect(fits.length).toBe(MTU - 20);
    putTun(r, 0, fits);
    const off = putTun(r, 1, over);
    r.fwd.onTun(2);
    expect([r.ctl[0], r.ctl[1]]).toEqual([1, 1]);
    expect(r.fwd.drops[Drop.TOO_BIG_FOR_UNDERLAY6]).toBe(1);
    const [o, len] = [r.tunOut[0], r.tunOut[1]];
    expect(o).toBe(off - 48);
    const reply = bytes(r, o, len);
    expect(reply.slice(8, 24)).toEqual(ip6(C));
    expect(reply.slice(24, 40)).toEqual(ip6(A));
    expect(reply.slice(40, 42)).toEqual([2, 0]);
    expect(reply.slice(44, 48)).toEqual([0, 0, (MTU - 20) >> 8, (MTU - 20) & 0xff]);
    expect(r.fwd.counts[Count.ICMP_SENT]).toBe(1);
  });
});

describe('TSO6 super-packets to a Flannel peer', () => {
  it('go to its slot over the IPv6 underlay, cut to what that underlay carries, with full checksums', () => {
    for (const [mss, cut] of [[MTU - 60, MTU - 20 - 60], [1000, 1000]]) {
      const r = rigU(true, true);
      const payload = Array.from({ length: 20_000 }, (_, i) => (i * 31) & 0xff);
      const p = tcp6Segment(A, C, payload, { csum: 'partial', seq: 7, flags: 0x18 });
      const off = putTun(r, 0, p, 40 | (16 << 16));
      r.tunIn[IN_GSO_TYPE] = VIRTIO_GSO_TCPV6;
      r.tunIn[IN_GSO_SIZE] = mss;
      r.fwd.onTun(1);
      expect([...r.udpOut.subarray(0, 8)]).toEqual([off - 22, p.length + 22, slotOf(r, 3), 8472, OUT_TSO | OUT_V6, cut, 82, CSUM_FULL]);
      const datagrams = loadNative().tsoSegments(r.u8.buffer as ArrayBuffer, off - 22, p.length + 22, cut, 82, CSUM_FULL);
      const encap = vxlan(1, MAC6_C, LOCAL_MAC6, [], 0x86dd);
      expect(datagrams.map((d) => [...d])).toEqual(referenceCut6(p, cut).map((seg) => [...encap, ...seg]));
      expect(Math.max(...datagrams.map((d) => d.length - 22))).toBe(cut + 60);
      expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(0);
    }
  });
});

describe('IPv6 from a Flannel peer over the IPv6 underlay (outside)', () => {
  it('delivers what the slot the engine reports has leased, from any slot with the same PublicIPv6', () => {
    const r = rigU();
    const fromC = udp6Packet(C, A, [1, 2, 3]);
    const fromE = udp6Packet('fd00:10:244:5::9', A, [4]);
    putUdp6(r, 0, vxlan(1, LOCAL_MAC6, MAC6_C, fromC, 0x86dd), slotOf(r, 3));
    putUdp6(r, 1, vxlan(1, LOCAL_MAC6, '0e:00:00:00:06:04', fromE, 0x86dd), slotOf(r, 4)); // e's subnet, d's slot: one node
    r.fwd.onUdp(2);
    expect(r.ctl[1]).toBe(2);
    expect(bytes(r, r.tunOut[0], r.tunOut[1])).toEqual(fromC);
    expect(bytes(r, r.tunOut[META_STRIDE], r.tunOut[META_STRIDE + 1])).toEqual(fromE);
    expect(r.fwd.drops.reduce((a, b) => a + b)).toBe(0);
  });

  it('drops an unknown IPv6 source, and an inner source leased to a node at another address', () => {
    const r = rigU();
    putUdp6(r, 0, vxlan(1, LOCAL_MAC6, MAC6_C, udp6Packet(C, A, [1]), 0x86dd), -1);
    putUdp6(r, 1, vxlan(1, LOCAL_MAC6, MAC6_C, udp6Packet(D, A, [1]), 0x86dd), slotOf(r, 3));
    putUdp6(r, 2, vxlan(1, LOCAL_MAC6, MAC6_C, udp6Packet(B, A, [1]), 0x86dd), slotOf(r, 3));
    putUdp6(r, 3, vxlan(1, '0e:00:00:00:00:01', MAC6_C, udp6Packet(C, A, [1]), 0x86dd), slotOf(r, 3));
    r.fwd.onUdp(4);
    expect(r.ctl[1]).toBe(0);
    expect([r.fwd.drops[Drop.UNKNOWN_SENDER], r.fwd.drops[Drop.SPOOFED_SOURCE], r.fwd.drops[Drop.WRONG_DST_MAC]]).toEqual([1, 2, 1]);
  });

  it('never takes the elision flag from a Flannel peer', () => {
    const r = rigU(true, true);
    const d = vxlan(1, LOCAL_MAC6, MAC6_C, udp6Packet(C, A, [1]), 0x86dd);
    d[1] = 0x01;
    putUdp6(r, 0, d, slotOf(r, 3));
    r.fwd.onUdp(1);
    expect(r.fwd.drops[Drop.ELISION_UNEXPECTED]).toBe(1);
  });
});
