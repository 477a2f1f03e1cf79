// writeNoRoute6 (and writePacketTooBig6, built alike) against a plain reference: RFC 4443 fields, the checksum summed byte by byte over
// the pseudo-header, the quote cut to IPv6's minimum MTU, and the packets that get no error.
import { describe, expect, it } from 'vitest';
import { ICMPV6_REPLY_HEADER, writeNoRoute6, writePacketTooBig6 } from '../../../daemon/dataplane/icmp.js';

const HEADROOM = 64;
const SRC = [0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]; // fd00:10:244:1::2
const DST = [0xfd, 0, 0, 0x10, 0x02, 0x44, 0, 9, 0, 0, 0, 0, 0, 0, 0, 5]; // fd00:10:244:9::5

/** An IPv6 packet (next header `proto`, `payload` bytes after the header) placed after HEADROOM bytes. */
function packet(proto: number, payload: number[], src = SRC, dst = DST): { u8: Uint8Array; off: number; len: number } {
  const len = 40 + payload.length;
  const u8 = new Uint8Array(HEADROOM + len + 8);
  const p = HEADROOM;
  u8.set([0x60, 0x01, 0x23, 0x45, payload.length >> 8, payload.length & 0xff, proto, 64], p);
  u8.set(src, p + 8);
  u8.set(dst, p + 24);
  u8.set(payload, p + 40);
  return { u8, off: p, len };
}

/** RFC 1071 over the IPv6 pseudo-header and the ICMPv6 message of the reply at r, byte by byte. */
function icmp6SumOk(u8: Uint8Array, r: number): boolean {
  const plen = (u8[r + 4] << 8) | u8[r + 5];
  const bytes = [...u8.subarray(r + 8, r + 40), 0, 0, plen >> 8, plen & 0xff, 0, 0, 0, 58, ...u8.subarray(r + 40, r + 40 + plen)];
  if (bytes.length % 2) bytes.push(0);
  let s = 0;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i] << 8) | bytes[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

describe('ICMPv6 no route to destination (writeNoRoute6)', () => {
  it('answers a routed-nowhere TCP packet from the unreachable destination, quoting it whole, with a valid checksum', () => {
    const tcp = Array.from({ length: 60 }, (_, i) => (i * 7) & 0xff);
    const { u8, off, len } = packet(6, tcp);
    const original = u8.slice(off, off + len);
    const n = writeNoRoute6(u8, off, len);
    expect(n).toBe(ICMPV6_REPLY_HEADER + len);
    const r = off - ICMPV6_REPLY_HEADER;
    expect(u8[r] >> 4).toBe(6);
    expect((u8[r + 4] << 8) | u8[r + 5]).toBe(n - 40);
    expect(u8[r + 6]).toBe(58);
    expect([...u8.subarray(r + 8, r + 24)]).toEqual(DST);
    expect([...u8.subarray(r + 24, r + 40)]).toEqual(SRC);
    expect([u8[r + 40], u8[r + 41]]).toEqual([1, 0]);
    expect([...u8.subarray(r + 44, r + 48)]).toEqual([0, 0, 0, 0]);
    expect(u8.slice(r + 48, r + n)).toEqual(original);
    expect(icmp6SumOk(u8, r)).toBe(true);
  });

  it('keeps the reply within 1280 bytes however large the packet', () => {
    for (const size of [1232 - 40, 1232 - 39, 1400, 9000]) {
      const { u8, off, len } = packet(17, Array.from({ length: size }, (_, i) => i & 0xff));
      const n = writeNoRoute6(u8, off, len);
      expect(n).toBe(Math.min(1280, 48 + len));
      expect(icmp6SumOk(u8, off - ICMPV6_REPLY_HEADER)).toBe(true);
    }
  });

  it('answers an ICMPv6 echo request, and nothing that must get no error', () => {
    expect(writeNoRoute6(...args(packet(58, [128, 0, 0, 0, 0, 1, 0, 1])))).toBeGreaterThan(0);
    expect(writeNoRoute6(...args(packet(58, [1, 0, 0, 0, 0, 0, 0, 0])))).toBe(0); // an ICMPv6 error
    expect(writeNoRoute6(...args(packet(58, [])))).toBe(0); // ICMPv6 without a type
    expect(writeNoRoute6(...args(packet(17, [0, 0], new Array(16).fill(0))))).toBe(0); // unspecified source
    expect(writeNoRoute6(...args(packet(17, [0, 0], [0xff, 2, ...new Array(13).fill(0), 1])))).toBe(0); // multicast source
    expect(writeNoRoute6(...args(packet(17, [0, 0], SRC, [0xff, 2, ...new Array(13).fill(0), 1])))).toBe(0); // multicast destination
    const short = packet(17, [0, 0]);
    expect(writeNoRoute6(short.u8, short.off, 39)).toBe(0);
    const v4 = packet(17, [0, 0]);
    v4.u8[v4.off] = 0x45;
    expect(writeNoRoute6(v4.u8, v4.off, v4.len)).toBe(0);
  });
});

function args(p: { u8: Uint8Array; off: number; len: number }): [Uint8Array, number, number] {
  return [p.u8, p.off, p.len];
}

describe('ICMPv6 Packet Too Big (writePacketTooBig6)', () => {
  it('announces the MTU, swaps the addresses and quotes what fits in 1280 bytes, with a valid checksum', () => {
    const { u8, off, len } = packet(6, Array.from({ length: 1411 }, (_, i) => (i * 13) & 0xff));
    const original = u8.slice(off, off + len);
    const n = writePacketTooBig6(u8, off, len, 1430);
    expect(n).toBe(1280);
    const r = off - ICMPV6_REPLY_HEADER;
    expect([...u8.subarray(r + 8, r + 24)]).toEqual(DST);
    expect([...u8.subarray(r + 24, r + 40)]).toEqual(SRC);
    expect([...u8.subarray(r + 40, r + 42)]).toEqual([2, 0]);
    expect([...u8.subarray(r + 44, r + 48)]).toEqual([0, 0, 0x05, 0x96]);
    expect(u8.slice(r + 48, r + n)).toEqual(original.slice(0, 1280 - 48));
    expect(icmp6SumOk(u8, r)).toBe(true);
  });

  it('never answers an ICMPv6 error', () => {
    const { u8, off, len } = packet(58, [1, 0, 0, 0, 0, 0, 0, 0]);
    expect(writePacketTooBig6(u8, off, len, 1430)).toBe(0);
  });
});
