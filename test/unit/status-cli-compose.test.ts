// The peers of /status from leases, gossip members and data plane counters.
import { describe, expect, it } from 'vitest';
import { composePeers } from '../../daemon/observability/status-compose.js';

const lease = (n: number, nodeName?: string) => ({ subnet: `10.244.${n}.0/24`, publicIp: `198.18.0.${n}`, vtepMac: `0e:00:00:00:00:0${n}`, nodeName });

describe('composePeers', () => {
  it('lists every lease, with gossip state, last seen and counters where they exist, sorted by subnet', () => {
    const seen = new Date('2026-11-21T09:59:58.000Z');
    const peers = composePeers(
      [lease(10, 'node-j'), lease(2, 'node-b'), lease(3)],
      [{ name: 'node-b', publicIp: '198.18.0.2', subnet: '10.244.2.0/24', state: 'suspect', lastSeen: seen }],
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

  it('ignores a member whose public IP differs from the lease, and shows a member that left as dead', () => {
    const at = new Date(0);
    const peers = composePeers(
      [lease(2, 'node-b'), lease(3, 'node-c')],
      [
        { name: 'impostor', publicIp: '198.18.0.99', subnet: '10.244.2.0/24', state: 'alive', lastSeen: at },
        { name: 'node-c', publicIp: '198.18.0.3', subnet: '10.244.3.0/24', state: 'left', lastSeen: at },
      ],
      [],
    );
    expect(peers.map((p) => [p.name, p.state])).toEqual([
      ['node-b', 'lease-only'],
      ['node-c', 'dead'],
    ]);
  });
});
