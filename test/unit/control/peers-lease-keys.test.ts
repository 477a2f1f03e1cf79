// PeerRouter finds a removed lease by its etcd key name in both of Flannel's forms: a deleted
// dual-stack lease (10.244.3.0-24&fd00:10:244:3::-64) stops being routed like an IPv4 one.
import { describe, expect, it } from 'vitest';
import { RouteTable, type RouteDelta } from '../../../daemon/dataplane/index.js';
import { RefusalReporter } from '../../../daemon/control/gossip/index.js';
import type { PeerLease, PeerSnapshot } from '../../../daemon/control/lease/lease-watcher.js';
import { PeerRouter } from '../../../daemon/control/peers.js';
import { parseSubnet6 } from '../../../daemon/net/ipv6.js';
import { quietLogger } from '../../fakes/gossip-net.js';

const lease = (i: number, dual: boolean): PeerLease => {
  const v6 = `fd00:10:244:${i.toString(16)}::/64`;
  return {
    subnetKey: dual ? `10.244.${i}.0-24&${v6.replace('/', '-')}` : `10.244.${i}.0-24`,
    subnet: { base: ((10 << 24) | (244 << 16) | (i << 8)) >>> 0, len: 24 },
    publicIp: `198.18.0.${i}`,
    vni: 1,
    vtepMac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
    gossipPort: undefined,
    nodeName: undefined,
    ...(dual ? { v6: { subnet: parseSubnet6(v6)!, publicIp: `fd00:198:18::${i.toString(16)}`, vni: 1, vtepMac: `06:00:00:00:00:${i.toString(16).padStart(2, '0')}` } } : {}),
  };
};

describe('PeerRouter, lease keys', () => {
  it('unroutes a deleted lease named by its dual-stack key, as one named by its IPv4 key', () => {
    let table: RouteTable | undefined;
    const r = new PeerRouter({
      network: '10.244.0.0/16',
      subnetLen: 24,
      localSubnet: '10.244.1.0/24',
      sink: { setRoutes: (t) => void (table = t), applyRoutes: (d: readonly RouteDelta[]) => table!.apply(d) },
      refusals: new RefusalReporter(quietLogger),
      log: quietLogger,
    });
    const all = [lease(2, true), lease(3, true), lease(4, false)];
    r.setLeases(new Map(all.map((l) => [l.subnetKey, l])) as PeerSnapshot);
    expect(table!.size).toBe(3);
    r.applyLeaseChanges({ resync: false, removed: [lease(3, true).subnetKey, lease(4, false).subnetKey], upserted: [] });
    expect(table!.size).toBe(1);
    expect(table!.lookup(((10 << 24) | (244 << 16) | (3 << 8)) >>> 0)).toBe(-1);
    expect(table!.lookup(((10 << 24) | (244 << 16) | (4 << 8)) >>> 0)).toBe(-1);
    expect(r.current.peers.map((p) => p.subnet)).toEqual(['10.244.2.0/24']);
  });
});
