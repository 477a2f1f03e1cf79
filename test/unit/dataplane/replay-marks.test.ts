// What TypeScript lets the engine's decision cache replay (CTL_REPLAY, native/weft_replay.h): only a
// one-packet batch whose decision left the packet's bytes as they were (no checksum finished, no
// ICMP answer) and sent it over the IPv4 underlay, or delivered it unchecked (elided, or not TCP/UDP).
// And a pending next-packet hook stops every replay until it has run (CTL_JS_ONLY).
import { describe, expect, it } from 'vitest';
import { CTL_JS_ONLY, CTL_REPLAY } from '../../../daemon/dataplane/constants.js';
import { ipv4Header, LOCAL_MAC, mixedTable as mixed, PEER_IP, PEER_MAC, putTun, putUdp, refChecksum, rig, tcpPacket, u32, udpPacket, vxlan, type Rig } from '../../fixtures/dataplane/packets.js';

const A = '10.244.1.2';
const B = '10.244.2.2';
const C = '10.244.3.2';

function icmpEcho(src: string, dst: string): number[] {
  const icmp = [8, 0, 0, 0, 0, 1, 0, 1, 1, 2, 3, 4];
  const c = refChecksum(icmp);
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return [...ipv4Header(src, dst, 1, icmp.length), ...icmp];
}

/** The engine zeroes CTL_REPLAY before each callback; so does this. */
function onTun(r: Rig, count: number): number {
  r.ctl[CTL_REPLAY] = 0;
  r.fwd.onTun(count);
  return r.ctl[CTL_REPLAY];
}

function onUdp(r: Rig, count: number): number {
  r.ctl[CTL_REPLAY] = 0;
  r.fwd.onUdp(count);
  return r.ctl[CTL_REPLAY];
}

const slotOf = (r: Rig, subnet: string): number => r.fwd.routes.slotOf(u32(subnet) | 0);

describe('CTL_REPLAY: which TUN reads the engine may replay', () => {
  it('marks a lone packet sent as it came (plain, or elided towards a weft peer) with its peer slot + 1', () => {
    const r = rig(2, 1450, true, mixed(), true);
    const b = slotOf(r, '10.244.2.0');
    putTun(r, 0, icmpEcho(A, B));
    expect(onTun(r, 1)).toBe(b + 1);
    putTun(r, 0, udpPacket(A, B, [1, 2, 3]), 20 | (6 << 16));
    expect(onTun(r, 1)).toBe(b + 1);
    putTun(r, 0, udpPacket(A, C, [1, 2, 3]));
    expect(onTun(r, 1)).toBe(slotOf(r, '10.244.3.0') + 1);
  });

  it('does not mark a packet whose checksum it finished (a kernel peer, elision off), an ICMP answer, or a batch of two', () => {
    const r = rig(2, 1450, true, mixed(), true);
    putTun(r, 0, udpPacket(A, C, [1, 2, 3]), 20 | (6 << 16));
    expect(onTun(r, 1)).toBe(0);
    const off = rig(2, 1450, true, mixed(), false);
    putTun(off, 0, udpPacket(A, B, [1, 2, 3]), 20 | (6 << 16));
    expect(onTun(off, 1)).toBe(0);
    putTun(r, 0, icmpEcho(A, '10.244.9.2'));
    expect(onTun(r, 1)).toBe(0);
    putTun(r, 0, icmpEcho(A, B));
    putTun(r, 1, icmpEcho(A, B));
    expect(onTun(r, 2)).toBe(0);
  });
});

describe('CTL_REPLAY: which datagrams the engine may replay', () => {
  const elided = (packet: number[]): number[] => {
    const d = vxlan(1, LOCAL_MAC, PEER_MAC, packet);
    d[1] = 0x01;
    return d;
  };

  it('marks a lone datagram delivered unchecked: elided TCP/UDP, or ICMP, with its sender slot + 1', () => {
    const r = rig(2, 1450, true, mixed(), true);
    const b = slotOf(r, '10.244.2.0');
    putUdp(r, 0, elided(tcpPacket(B, A, [1, 2, 3], 'partial')));
    expect(onUdp(r, 1)).toBe(b + 1);
    putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, icmpEcho(B, A)));
    expect(onUdp(r, 1)).toBe(b + 1);
  });

  it('does not mark TCP/UDP whose checksum it verified, a drop, a GRO buffer or a batch of two', () => {
    const r = rig(2, 1450, true, mixed(), true);
    putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, udpPacket(B, A, [1, 2, 3])));
    expect(onUdp(r, 1)).toBe(0);
    putUdp(r, 0, vxlan(1, LOCAL_MAC, PEER_MAC, icmpEcho(C, A)));
    expect(onUdp(r, 1)).toBe(0); // spoofed source: dropped
    const one = vxlan(1, LOCAL_MAC, PEER_MAC, icmpEcho(B, A));
    putUdp(r, 0, [...one, ...one], PEER_IP, 0, one.length);
    expect(onUdp(r, 1)).toBe(0);
    putUdp(r, 0, one);
    putUdp(r, 1, one);
    expect(onUdp(r, 2)).toBe(0);
    // Without a vnet-header TUN an elided checksum is finished here: not replayable either.
    const plain = rig(2, 1450, false, mixed(), false);
    putUdp(plain, 0, elided(tcpPacket(B, A, [1, 2, 3], 'partial')));
    expect(onUdp(plain, 1)).toBe(0);
  });
});

describe('CTL_JS_ONLY', () => {
  it('is set while a next-packet hook waits and cleared when it runs', () => {
    const r = rig(2, 1450, true, mixed(), true);
    let ran = 0;
    r.fwd.onNextPacket(() => ran++);
    expect(r.ctl[CTL_JS_ONLY]).toBe(1);
    putTun(r, 0, icmpEcho(A, B));
    onTun(r, 1);
    expect(ran).toBe(1);
    expect(r.ctl[CTL_JS_ONLY]).toBe(0);
  });
});
