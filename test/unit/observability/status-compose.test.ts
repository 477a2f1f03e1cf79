// The peers of /status from the merged routes (the route table's own input), gossip members and
// data plane counters.
import { describe, expect, it } from 'vitest';
import { mergeRoutes, type GossipPeer, type LeasePeer } from '../../../daemon/control/gossip/merge.js';
import { composePeers } from '../../../daemon/observability/status-compose.js';

const lease = (n: number, nodeName?: string): LeasePeer => ({ subnet: `10.244.${n}.0/24`, publicIp: `198.18.0.${n}`, vtepMac: `0e:00:00:00:00:0${n}`, nodeName });
const member = (n: number, name: string, extra: Partial<GossipPeer> = {}): GossipPeer => ({ name, subnet: `10.244.${n}.0/24`, publicIp: `198.18.0.${n}`, vtepMac: `0e:00:00:00:00:0${n}`, state: 'alive', ...extra });
const routes = (leases: LeasePeer[], members: GossipPeer[]) => {
  const m = mergeRoutes(leases, members);
  return [...m.peers, ...m.withdrawn];
};

describe('composePeers', () => {
  it('lists every route, with its state, last seen and counters where they exist, sorted by subnet', () => {
    const seen = new Date('2026-11-21T09:59:58.000Z');
    const peers = composePeers(
      routes([lease(10, 'node-j'), lease(2, 'node-b'), lease(3)], [member(2, 'node-b', { state: 'suspect' })]),
      [{ name: 'node-b', lastSeen: seen }],
      [{ subnet: '10.244.2.0/24', txPackets: 5, txBytes: 500, rxPackets: 7, rxBytes: 700, drops: 1 }],
    );
    expect(peers.map((p) => p.subnet)).toEqual(['10.244.2.0/24', '10.244.3.0/24', '10.244.10.0/24']);
    expect(peers[0]).toEqual({
      name: 'node-b',
      publicIP: '198.18.0.2',
      subnet: '10.244.2.0/24',
      vtepMAC: '0e:00:00:00:00:02',
      state: 'suspect',
      lastSeen: '2026-11-21T09:59:58.000Z',
      packetsIn: 7,
      packetsOut: 5,
      bytesIn: 700,
      bytesOut: 500,
      drops: 1,
    });
    expect(peers[1]).toMatchObject({ name: null, state: 'lease-only', lastSeen: null, packetsIn: 0, packetsOut: 0, drops: 0 });
    expect(peers[2]).toMatchObject({ name: 'node-j', state: 'lease-only' });
  });

  it('ignores a member whose public IP differs from the lease, and shows a holder that left as dead', () => {
    const peers = composePeers(
      routes([lease(2, 'node-b'), lease(3, 'node-c')], [member(2, 'impostor', { publicIp: '198.18.0.99' }), member(3, 'node-c', { state: 'left' })]),
      [],
      [],
    );
    expect(peers.map((p) => [p.name, p.state])).toEqual([
      ['node-b', 'lease-only'],
      ['node-c', 'dead'],
    ]);
  });

  it('a renamed node (old name left, new name alive, same subnet and IP) shows alive, as routed', () => {
    const m = mergeRoutes([lease(4, 'new-name')], [member(4, 'old-name', { state: 'left' }), member(4, 'new-name')]);
    expect(m.withdrawn).toEqual([]);
    const peers = composePeers([...m.peers, ...m.withdrawn], [{ name: 'new-name', lastSeen: new Date(0) }, { name: 'old-name', lastSeen: new Date(0) }], []);
    expect(peers.map((p) => [p.name, p.state, p.lastSeen])).toEqual([['new-name', 'alive', '1970-01-01T00:00:00.000Z']]);
  });
});
