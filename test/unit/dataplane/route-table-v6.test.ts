// The IPv6 half of RouteTable (dual-stack): peers' IPv6 subnets routed by lookup6 from packet
// bytes, kept through upserts, removals, growth and the wire to the data plane thread, and
// refused when they do not fit Network6. An IPv4-only table routes no IPv6.
import { describe, expect, it } from 'vitest';
import { PeerEncoder, RouteTable, type PeerSpec } from '../../../daemon/dataplane/route-table.js';
import { parseIpv6 } from '../../../daemon/net/ipv6.js';

const LAYOUT = { network: '10.244.0.0/16', subnetLen: 24, network6: 'fd00:10:244::/56', subnetLen6: 64, localSubnet: '10.244.1.0/24', localSubnet6: 'fd00:10:244:1::/64' };

function at(addr: string): [Uint8Array, number] {
  const u8 = new Uint8Array(64);
  let v = parseIpv6(addr)!;
  for (let i = 15; i >= 0; i--) {
    u8[24 + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return [u8, 24];
}

const peer = (n: number, extra: Partial<PeerSpec> = {}): PeerSpec => ({
  subnet: `10.244.${n}.0/24`,
  publicIp: `198.18.0.${n}`,
  vtepMac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  subnet6: `fd00:10:244:${n.toString(16)}::/64`,
  vtepMac6: `06:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
  ...extra,
});

describe('RouteTable, IPv6 half', () => {
  it('routes each peer\u2019s IPv6 subnet to its slot, and nothing else', () => {
    const t = RouteTable.build({ ...LAYOUT, peers: [peer(2), peer(3), peer(0x5f)] });
    expect(t.rejected).toEqual([]);
    expect(t.lookup6(...at('fd00:10:244:2::5'))).toBe(t.slotOf((10 << 24) | (244 << 16) | (2 << 8)));
    expect(t.lookup6(...at('fd00:10:244:5f:ffff:ffff:ffff:ffff'))).toBe(t.slotOf((10 << 24) | (244 << 16) | (0x5f << 8)));
    expect(t.lookup6(...at('fd00:10:244:4::1'))).toBe(-1);
    expect(t.lookup6(...at('fd00:10:244:1::2'))).toBe(-1); // the local subnet
    expect(t.lookup6(...at('fd00:10:245:2::1'))).toBe(-1); // outside Network6
    const slot = t.lookup6(...at('fd00:10:244:3::1'));
    expect([...t.peerMac6.subarray(slot * 6, slot * 6 + 6)]).toEqual([6, 0, 0, 0, 0, 3]);
    expect(t.peers.find((p) => p.subnet === '10.244.3.0/24')).toMatchObject({ subnet6: 'fd00:10:244:3::/64', vtepMac6: '06:00:00:00:00:03' });
  });

  it('follows a peer whose IPv6 subnet moves or goes, keeps it across growth and the wire', () => {
    const enc = new PeerEncoder(LAYOUT);
    const t = RouteTable.build({ ...LAYOUT, peers: [] });
    for (let n = 2; n < 40; n++) t.upsert(enc.encode(peer(n)) as never);
    expect(t.lookup6(...at('fd00:10:244:27::1'))).toBeGreaterThanOrEqual(0);
    t.upsert(enc.encode(peer(7, { subnet6: 'fd00:10:244:c8::/64' })) as never);
    expect(t.lookup6(...at('fd00:10:244:7::1'))).toBe(-1);
    expect(t.lookup6(...at('fd00:10:244:c8::1'))).toBe(t.slotOf((10 << 24) | (244 << 16) | (7 << 8)));
    t.upsert(enc.encode(peer(8, { subnet6: undefined })) as never);
    expect(t.lookup6(...at('fd00:10:244:8::1'))).toBe(-1);
    t.remove((10 << 24) | (244 << 16) | (9 << 8));
    expect(t.lookup6(...at('fd00:10:244:9::1'))).toBe(-1);
    const copy = RouteTable.fromWire(structuredClone(t.toWire()));
    for (const a of ['fd00:10:244:2::1', 'fd00:10:244:7::1', 'fd00:10:244:c8::1', 'fd00:10:244:8::1', 'fd00:10:244:9::1', 'fd00:10:244:27::1']) {
      expect(copy.lookup6(...at(a)) >= 0, a).toBe(t.lookup6(...at(a)) >= 0);
    }
    expect(copy.peers.map((p) => p.subnet6).sort()).toEqual(t.peers.map((p) => p.subnet6).sort());
  });

  it('refuses a peer whose IPv6 subnet does not fit, or is ours, or is another\u2019s', () => {
    const t = RouteTable.build({
      ...LAYOUT,
      peers: [peer(2, { subnet6: 'fd00:10:244:2::/63' }), peer(3, { subnet6: 'fd00:10:245::/64' }), peer(4, { subnet6: 'fd00:10:244:1::/64' }), peer(5), peer(6, { subnet6: 'fd00:10:244:5::/64' })],
    });
    expect(t.rejected.map((r) => r.reason)).toEqual([
      "subnet6 'fd00:10:244:2::/63' is not a /64 inside fd00:10:244::/56",
      "subnet6 'fd00:10:245::/64' is not a /64 inside fd00:10:244::/56",
      'local IPv6 subnet',
      'duplicate subnet6 fd00:10:244:5::/64',
    ]);
    expect(t.size).toBe(1);
  });

  it('an IPv4-only table routes peers that carry an IPv6 subnet, but no IPv6', () => {
    const t = RouteTable.build({ network: '10.244.0.0/16', subnetLen: 24, peers: [peer(2)] });
    expect(t.size).toBe(1);
    expect(t.lookup6(...at('fd00:10:244:2::1'))).toBe(-1);
    expect(t.toWire().layout6).toBeUndefined();
  });
});
