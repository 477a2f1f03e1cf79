// PeerRouter with a dual-stack layout: a dual-stack lease's IPv6 subnet and VTEP reach the data
// plane's table (whole tables and deltas alike), an IPv6 subnet that moves or goes is followed,
// and without IPv6Network nothing IPv6 is routed; weft nodes' leases are flagged (PEER_WEFT).
import { describe, expect, it } from 'vitest';
import { RouteTable, type RouteDelta } from '../../../daemon/dataplane/index.js';
import { PEER_WEFT } from '../../../daemon/dataplane/route-table.js';
import { RefusalReporter } from '../../../daemon/control/gossip/index.js';
import type { PeerLease, PeerSnapshot } from '../../../daemon/control/lease/lease-watcher.js';
import { PeerRouter } from '../../../daemon/control/peers.js';
import { parseIpv6, parseSubnet6 } from '../../../daemon/net/ipv6.js';
import { quietLogger } from '../../fakes/gossip-net.js';

const lease = (i: number, v6 = `fd00:10:244:${i.toString(16)}::/64`): PeerLease => ({
  subnetKey: `10.244.${i}.0-24&${v6.replace('/', '-')}`,
  subnet: { base: ((10 << 24) | (244 << 16) | (i << 8)) >>> 0, len: 24 },
  publicIp: `198.18.0.${i}`,
  vni: 1,
  vtepMac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
  gossipPort: undefined,
  nodeName: undefined,
  v6: { subnet: parseSubnet6(v6)!, publicIp: `fd00:198:18::${i.toString(16)}`, vni: 1, vtepMac: `06:00:00:00:00:${i.toString(16).padStart(2, '0')}` },
});

function at(addr: string): [Uint8Array, number] {
  const u8 = new Uint8Array(40);
  let v = parseIpv6(addr)!;
  for (let i = 15; i >= 0; i--) {
    u8[24 + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return [u8, 24];
}

function router(dual: boolean): { r: PeerRouter; table: () => RouteTable } {
  let table: RouteTable | undefined;
  const r = new PeerRouter({
    network: '10.244.0.0/16',
    subnetLen: 24,
    localSubnet: '10.244.1.0/24',
    ...(dual ? { network6: 'fd00:10:244::/56', subnetLen6: 64, localSubnet6: 'fd00:10:244:1::/64' } : {}),
    sink: {
      // The data plane thread's side: the table crosses as a wire, deltas are applied to it.
      setRoutes: (t) => void (table = RouteTable.fromWire(structuredClone(t.toWire()))),
      applyRoutes: (d: readonly RouteDelta[]) => table!.apply(structuredClone(d)),
    },
    refusals: new RefusalReporter(quietLogger),
    log: quietLogger,
  });
  return { r, table: () => table! };
}

const snapshot = (...l: PeerLease[]): PeerSnapshot => new Map(l.map((x) => [x.subnetKey, x]));

describe('PeerRouter, dual-stack', () => {
  it('routes each dual-stack lease\u2019s IPv6 subnet to its peer, and follows it when it moves or goes', () => {
    const { r, table } = router(true);
    r.setLeases(snapshot(lease(2), lease(3)));
    const slot2 = table().lookup(((10 << 24) | (244 << 16) | (2 << 8)) >>> 0);
    expect(slot2).toBeGreaterThanOrEqual(0);
    expect(table().lookup6(...at('fd00:10:244:2::9'))).toBe(slot2);
    expect([...table().peerMac6.subarray(slot2 * 6, slot2 * 6 + 6)]).toEqual([6, 0, 0, 0, 0, 2]);
    expect(table().lookup6(...at('fd00:10:244:3::9'))).toBeGreaterThanOrEqual(0);

    r.applyLeaseChanges({ resync: false, removed: [lease(3).subnetKey], upserted: [lease(2, 'fd00:10:244:c8::/64'), lease(4)] });
    expect(table().lookup6(...at('fd00:10:244:2::9'))).toBe(-1);
    expect(table().lookup6(...at('fd00:10:244:c8::9'))).toBe(slot2);
    expect(table().lookup6(...at('fd00:10:244:3::9'))).toBe(-1);
    expect(table().lookup6(...at('fd00:10:244:4::9'))).toBeGreaterThanOrEqual(0);
    expect(r.current.peers.find((p) => p.subnet === '10.244.2.0/24')).toMatchObject({ subnet6: 'fd00:10:244:c8::/64', vtepMac6: '06:00:00:00:00:02' });
  });

  it('flags the peers whose lease is a weft node’s (WeftGossipPort/WeftNodeName), also when a lease turns into one', () => {
    const { r, table } = router(true);
    const weft = (i: number): PeerLease => ({ ...lease(i), gossipPort: 8473, nodeName: `node${i}` });
    r.setLeases(snapshot(weft(2), lease(3)));
    const flags = (i: number): number => table().peerFlags[table().lookup(((10 << 24) | (244 << 16) | (i << 8)) >>> 0)] & PEER_WEFT;
    expect([flags(2), flags(3)]).toEqual([PEER_WEFT, 0]);
    r.applyLeaseChanges({ resync: false, removed: [], upserted: [weft(3)] });
    expect(flags(3)).toBe(PEER_WEFT);
    expect(r.current.peers.find((p) => p.subnet === '10.244.3.0/24')).toMatchObject({ weft: true, nodeName: 'node3' });
  });

  it('routes IPv4 only without IPv6Network', () => {
    const { r, table } = router(false);
    r.setLeases(snapshot(lease(2)));
    expect(table().size).toBe(1);
    expect(table().lookup6(...at('fd00:10:244:2::9'))).toBe(-1);
  });
});
