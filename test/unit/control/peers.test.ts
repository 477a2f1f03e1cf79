// PeerRouter: the route table the data plane gets and the states /status shows come from one
// merge; lease writes and member departures are ordered, so a holder that went away before its
// lease was rewritten (a node replaced at the same IP and subnet) does not withdraw the new lease.
import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../../daemon/dataplane/index.js';
import { RefusalReporter, type GossipPeer } from '../../../daemon/control/gossip/index.js';
import type { PeerLease, PeerSnapshot } from '../../../daemon/control/lease/lease-watcher.js';
import { PeerRouter } from '../../../daemon/control/peers.js';
import { quietLogger } from '../../fakes/gossip-net.js';

const lease = (i: number, nodeName: string | undefined, vtepMac = `02:00:00:00:00:0${i}`): PeerLease => ({
  subnetKey: `10.244.${i}.0-24`,
  subnet: { base: ((10 << 24) | (244 << 16) | (i << 8)) >>> 0, len: 24 },
  publicIp: `198.18.0.${i}`,
  vni: 1,
  vtepMac,
  gossipPort: nodeName ? 8473 : undefined,
  nodeName,
});
const snapshot = (...l: PeerLease[]): PeerSnapshot => new Map(l.map((x) => [x.subnetKey, x]));
const member = (i: number, name: string, state: GossipPeer['state'], incarnation = 1) => ({ name, subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: `02:00:00:00:00:0${i}`, state, incarnation });

function router(): { r: PeerRouter; routed: () => string[] } {
  let table: RouteTable | undefined;
  const r = new PeerRouter({
    network: '10.244.0.0/16',
    subnetLen: 24,
    localSubnet: '10.244.9.0/24',
    sink: { setRoutes: (t) => (table = t), applyRoutes: (d) => table!.apply(d) },
    refusals: new RefusalReporter(quietLogger),
    log: quietLogger,
  });
  return { r, routed: () => (table?.peers ?? []).map((p) => p.subnet).sort() };
}

describe('PeerRouter', () => {
  it('withdraws a lease whose holder dies after it was written, and /status says dead', () => {
    const { r, routed } = router();
    r.setLeases(snapshot(lease(1, 'n1'), lease(2, 'n2')));
    r.setMembers([member(1, 'n1', 'alive'), member(2, 'n2', 'alive')]);
    expect(routed()).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
    r.setMembers([member(1, 'n1', 'dead'), member(2, 'n2', 'alive')]);
    expect(routed()).toEqual(['10.244.2.0/24']);
    expect(r.current.withdrawn.map((p) => [p.subnet, p.state])).toEqual([['10.244.1.0/24', 'dead']]);
  });

  it('routes a lease rewritten after its old holder left (another node at the same IP and subnet)', () => {
    const { r, routed } = router();
    r.setLeases(snapshot(lease(1, 'n1')));
    r.setMembers([member(1, 'n1', 'left')]);
    expect(routed()).toEqual([]);
    // A Flannel node (no name in its lease) takes over 198.18.0.1 and its lease.
    r.setLeases(snapshot(lease(1, undefined, '02:00:00:00:00:aa')));
    expect(routed()).toEqual(['10.244.1.0/24']);
    expect(r.current.peers.map((p) => [p.subnet, p.state])).toEqual([['10.244.1.0/24', 'lease-only']]);
    // Further gossip about the same departure changes nothing; a later one (higher incarnation) does.
    r.setMembers([member(1, 'n1', 'left')]);
    expect(routed()).toEqual(['10.244.1.0/24']);
    r.setMembers([member(1, 'n1', 'dead', 2)]);
    expect(routed()).toEqual([]);
  });
});
