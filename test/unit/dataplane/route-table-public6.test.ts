// Peers' PublicIPv6 in RouteTable: validated once by PeerEncoder into 16 bytes per slot (what the
// data plane hands to the engine's IPv6 peer table), kept through upserts, removals, growth and
// the wire, and described back in Go's text form.
import { describe, expect, it } from 'vitest';
import { PeerEncoder, RouteTable, type PeerSpec } from '../../../daemon/dataplane/route-table.js';
import { ipv6Bytes, ipv6FromBytes, parseIpv6 } from '../../../daemon/net/ipv6.js';

const LAYOUT = { network: '10.244.0.0/16', subnetLen: 24, localSubnet: '10.244.1.0/24' };
const base = (n: number): number => (10 << 24) | (244 << 16) | (n << 8);
const peer = (n: number, extra: Partial<PeerSpec> = {}): PeerSpec => ({
  subnet: `10.244.${n}.0/24`,
  publicIp: `198.18.0.${n}`,
  vtepMac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  publicIpv6: `fd00:198:18::${n.toString(16)}`,
  ...extra,
});
const public6 = (t: RouteTable, n: number): string | undefined => t.peers.find((p) => p.subnet === `10.244.${n}.0/24`)?.publicIpv6;

describe('RouteTable, peers\u2019 public IPv6', () => {
  it('converts addresses to bytes and back', () => {
    for (const a of ['::1', 'fd00:198:18::2', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe', '2001:db8:0:1::']) {
      const b = ipv6Bytes(parseIpv6(a)!);
      expect(b.length).toBe(16);
      expect(ipv6FromBytes(b)).toBe(parseIpv6(a));
    }
    expect([...ipv6Bytes(parseIpv6('fd00:198:18::2')!)]).toEqual([0xfd, 0, 1, 0x98, 0, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
  });

  it('keeps each peer\u2019s address per slot, and none for peers without one', () => {
    const t = RouteTable.build({ ...LAYOUT, peers: [peer(2), peer(3, { publicIpv6: undefined })] });
    expect(t.rejected).toEqual([]);
    const s2 = t.slotOf(base(2));
    const s3 = t.slotOf(base(3));
    expect(t.hasPublicIp6(s2)).toBe(true);
    expect(t.hasPublicIp6(s3)).toBe(false);
    expect([...t.peerPublicIp6.subarray(s2 * 16, s2 * 16 + 16)]).toEqual([...ipv6Bytes(parseIpv6('fd00:198:18::2')!)]);
    expect(public6(t, 2)).toBe('fd00:198:18::2');
    expect(public6(t, 3)).toBeUndefined();
  });

  it('refuses addresses that are not IPv6 unicast text', () => {
    const t = RouteTable.build({ ...LAYOUT, peers: [peer(2, { publicIpv6: '198.18.0.2' }), peer(3, { publicIpv6: '::' }), peer(4, { publicIpv6: '::ffff:198.18.0.4' }), peer(5, { publicIpv6: 'fe80::1%eth0' })] });
    expect(t.size).toBe(0);
    expect(t.rejected.map((r) => r.reason)).toEqual([
      "publicIpv6 '198.18.0.2' is not an IPv6 address",
      "publicIpv6 '::' is not an IPv6 address",
      "publicIpv6 '::ffff:198.18.0.4' is not an IPv6 address",
      "publicIpv6 'fe80::1%eth0' is not an IPv6 address",
    ]);
  });

  it('follows upserts and removals, and keeps the addresses across growth and the wire', () => {
    const enc = new PeerEncoder(LAYOUT);
    const t = RouteTable.build({ ...LAYOUT, peers: [] });
    for (let n = 2; n < 40; n++) t.upsert(enc.encode(peer(n)) as never);
    t.upsert(enc.encode(peer(7, { publicIpv6: 'fd00:198:18::77' })) as never);
    t.upsert(enc.encode(peer(8, { publicIpv6: undefined })) as never);
    const slot9 = t.slotOf(base(9));
    t.remove(base(9));
    expect(t.hasPublicIp6(slot9)).toBe(false);
    t.upsert(enc.encode(peer(50, { publicIpv6: undefined })) as never); // reuses slot 9's
    expect(t.slotOf(base(50))).toBe(slot9);
    expect(t.hasPublicIp6(slot9)).toBe(false);
    expect(public6(t, 7)).toBe('fd00:198:18::77');
    expect(public6(t, 8)).toBeUndefined();
    expect(public6(t, 39)).toBe('fd00:198:18::27');
    const copy = RouteTable.fromWire(structuredClone(t.toWire()));
    expect(copy.peers.map((p) => [p.subnet, p.publicIpv6]).sort()).toEqual(t.peers.map((p) => [p.subnet, p.publicIpv6]).sort());
  });

  it('leaves a table whose peers have no public IPv6 without the wire field', () => {
    const t = RouteTable.build({ ...LAYOUT, peers: [peer(2, { publicIpv6: undefined })] });
    expect(t.toWire().publicIp6).toBeUndefined();
    expect(RouteTable.fromWire(t.toWire()).peers[0].publicIpv6).toBeUndefined();
  });
});
