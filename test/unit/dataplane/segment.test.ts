// TCP segmentation of super-packets against a plain reference: the payload comes out in order,
// every segment is a valid IPv4/TCP packet of at most the MTU, sequence numbers follow.
import { describe, expect, it } from 'vitest';
import { segmentSlack, segmentTcpInPlace } from '../../../daemon/dataplane/segment.js';
import { pseudo, refChecksum, tcpPacket } from '../../fixtures/dataplane/packets.js';

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
