// An IPv6-only network on the control side: the lease watcher takes IPv6-only leases as peers (their
// IPv6 VTEP), the merge accepts gossip members whose subnet and public IP are IPv6 (never of two
// families), and PeerRouter routes leases and members by IPv6 subnet into an IPv6-only table whose
// peers are all reached at their PublicIPv6 (no PEER_WEFT), a gossip-only member included.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { mergeRoutes, RefusalReporter, type GossipPeer } from '../../../daemon/control/gossip/index.js';
import { encodeLeaseValue } from '../../../daemon/control/lease/lease-codec.js';
import { LeaseWatcher, type PeerLease, type PeerSnapshot } from '../../../daemon/control/lease/lease-watcher.js';
import { PeerRouter } from '../../../daemon/control/peers.js';
import { ipv6OnlyLayout, RouteTable, type RouteDelta } from '../../../daemon/dataplane/index.js';
import { PEER_WEFT } from '../../../daemon/dataplane/route-table.js';
import { parseSubnet } from '../../../daemon/net/ipv4.js';
import { ipv6Bytes, parseIpv6, parseSubnet6 } from '../../../daemon/net/ipv6.js';
import { NO_SUBNET4 } from '../../../daemon/net/subnet-key.js';
import { FakeClock } from '../../fakes/clock.js';
import { quietLogger } from '../../fakes/gossip-net.js';
import { FakeLeaseStore } from '../../fakes/lease-store.js';

const NET6 = 'fd00:10:244::/56';
const sub6 = (i: number): string => `fd00:10:244:${i.toString(16)}::/64`;
const mac6 = (i: number): string => `06:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
const pub6 = (i: number): string => `fd00:198:18::${i.toString(16)}`;

const lease = (i: number, weft = true): PeerLease => ({
  subnetKey: `0.0.0.0-0&${sub6(i).replace('/', '-')}`,
  subnet: NO_SUBNET4,
  publicIp: '0.0.0.0',
  vni: 1,
  vtepMac: mac6(i),
  gossipPort: weft ? 8473 : undefined,
  nodeName: weft ? `node${i}` : undefined,
  v6: { subnet: parseSubnet6(sub6(i))!, publicIp: pub6(i), vni: 1, vtepMac: mac6(i) },
});
const member = (i: number, extra: Partial<GossipPeer> = {}): GossipPeer & { incarnation: number } => ({ name: `node${i}`, subnet: sub6(i), publicIp: pub6(i), vtepMac: mac6(i), state: 'alive', incarnation: 1, ...extra });
const snapshot = (...l: PeerLease[]): PeerSnapshot => new Map(l.map((x) => [x.subnetKey, x]));

/** An IPv6 header's destination field holding `addr`, as lookup6 reads it. */
function at(addr: string): [Uint8Array, number] {
  const u8 = new Uint8Array(40);
  u8.set(ipv6Bytes(parseIpv6(addr)!), 24);
  return [u8, 24];
}

function router(): { r: PeerRouter; table: () => RouteTable } {
  let table: RouteTable | undefined;
  const r = new PeerRouter({
    ...ipv6OnlyLayout(NET6, 64, sub6(1)),
    network6: NET6,
    subnetLen6: 64,
    localSubnet6: sub6(1),
    ipv6Only: true,
    sink: {
      setRoutes: (t) => void (table = RouteTable.fromWire(structuredClone(t.toWire()))),
      applyRoutes: (d: readonly RouteDelta[]) => table!.apply(structuredClone(d)),
    },
    refusals: new RefusalReporter(quietLogger),
    log: quietLogger,
  });
  return { r, table: () => table! };
}

describe('IPv6-only network, control side', () => {
  it('the lease watcher takes IPv6-only leases as peers with their IPv6 VTEP, and leaves out a lease without one', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    const v6only = (i: number): string => encodeLeaseValue({ publicIp: '0.0.0.0', vni: 1, vtepMac: '0a:00:00:00:00:00', gossipPort: 8473, nodeName: `node${i}`, v6: { publicIp: pub6(i), vtepMac: mac6(i) }, ipv6Only: true });
    store.put({ subnet: NO_SUBNET4, subnet6: parseSubnet6(sub6(1))! }, v6only(1), 3_600);
    store.put({ subnet: NO_SUBNET4, subnet6: parseSubnet6(sub6(2))! }, v6only(2), 3_600);
    store.put({ subnet: NO_SUBNET4, subnet6: parseSubnet6(sub6(9))! }, '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::9","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0b"}}', 3_600);
    store.put({ subnet: parseSubnet('10.244.3.0/24')! }, encodeLeaseValue({ publicIp: '198.18.0.3', vni: 1, vtepMac: '0a:00:00:00:00:03', gossipPort: 8473, nodeName: 'node3' }), 3_600);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => (warnings.push((JSON.parse(c.toString()) as { msg: string }).msg), cb()) }));
    const watcher = new LeaseWatcher({ store, log, ownKey: store.keyOf({ subnet: NO_SUBNET4, subnet6: parseSubnet6(sub6(1))! }), ipv6Only: true });
    await watcher.start();
    expect([...watcher.snapshot().keys()].sort()).toEqual(['0.0.0.0-0&fd00:10:244:2::-64', '0.0.0.0-0&fd00:10:244:9::-64']);
    expect(watcher.snapshot().get('0.0.0.0-0&fd00:10:244:2::-64')).toMatchObject({ publicIp: '0.0.0.0', vtepMac: mac6(2), gossipPort: 8473, nodeName: 'node2', v6: { publicIp: pub6(2), vtepMac: mac6(2) } });
    expect(watcher.snapshot().get('0.0.0.0-0&fd00:10:244:9::-64')).toMatchObject({ vtepMac: 'ce:7a:05:2e:91:0b', gossipPort: undefined });
    expect(warnings).toEqual([expect.stringMatching(/^ignoring lease: subnet 10\.244\.3\.0-24 has no IPv6 subnet/)]);
    watcher.close();
  });

  it('the merge speaks for an IPv6 lease by an IPv6 member, and refuses a member whose IP and subnet are of two families', () => {
    const l = { subnet: sub6(2), publicIp: pub6(2), vtepMac: mac6(2), nodeName: 'node2' };
    const r = mergeRoutes([l], [member(2), member(3, { publicIp: '198.18.0.3' }), member(4)], { network: NET6, localSubnet: sub6(1) });
    expect(r.peers).toEqual([expect.objectContaining({ subnet: sub6(2), source: 'lease', state: 'alive', member: 'node2' }), expect.objectContaining({ subnet: sub6(4), publicIp: pub6(4), source: 'gossip', state: 'alive' })]);
    expect(r.refused).toEqual([expect.objectContaining({ member: 'node3', reason: 'invalid' })]);
    expect(mergeRoutes([l], [member(5, { subnet: 'fd00:10:244:2::/63' })], { network: NET6 }).refused).toEqual([expect.objectContaining({ member: 'node5', reason: 'lease-conflict' })]);
  });

  it('PeerRouter routes leases and gossip-only members by IPv6 subnet, every peer over the IPv6 underlay', () => {
    const { r, table } = router();
    r.setLeases(snapshot(lease(2), lease(3, false)));
    r.setMembers([member(2), member(4)]);
    const slot = (i: number): number => table().lookup6(...at(`fd00:10:244:${i.toString(16)}::9`));
    expect([2, 3, 4].map((i) => slot(i) >= 0)).toEqual([true, true, true]);
    expect(slot(1)).toBe(-1);
    for (const i of [2, 3, 4]) {
      expect(table().hasPublicIp6(slot(i))).toBe(true);
      expect(table().peerFlags[slot(i)] & PEER_WEFT).toBe(0);
      expect([...table().peerMac6.subarray(slot(i) * 6, slot(i) * 6 + 6)]).toEqual([6, 0, 0, 0, 0, i]);
    }
    expect(table().describe().map((p) => [p.subnet, p.publicIp]).sort()).toEqual([2, 3, 4].map((i) => [sub6(i), pub6(i)]));
    expect(r.current.peers.map((p) => [p.subnet, p.state]).sort()).toEqual([[sub6(2), 'alive'], [sub6(3), 'lease-only'], [sub6(4), 'alive']]);

    r.applyLeaseChanges({ resync: false, removed: [lease(3).subnetKey], upserted: [] });
    r.setMembers([member(2, { state: 'dead' }), member(4)]);
    expect([2, 3, 4].map((i) => slot(i) >= 0)).toEqual([false, false, true]);
    expect(r.current.withdrawn.map((p) => p.subnet)).toEqual([sub6(2)]);
  });
});
