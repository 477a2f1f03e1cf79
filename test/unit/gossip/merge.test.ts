// mergeRoutes: etcd leases are authoritative, gossip fills in while etcd is away, dead members are
// withdrawn, and a member contradicting a lease is refused.
import { describe, expect, it } from 'vitest';
import { mergeRoutes, type GossipPeer, type LeasePeer } from '../../../daemon/control/gossip/merge.js';
import { RefusalReporter } from '../../../daemon/control/gossip/refusal-reporter.js';
import { quietLogger } from './fake-net.js';

const lease = (i: number, extra: Partial<LeasePeer> = {}): LeasePeer => ({ subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: `02:00:00:00:00:0${i}`, nodeName: `n${i}`, ...extra });
const member = (i: number, extra: Partial<GossipPeer> = {}): GossipPeer => ({ name: `n${i}`, subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: `02:00:00:00:00:0${i}`, state: 'alive', ...extra });
const subnets = (r: { subnet: string }[]): string[] => r.map((p) => p.subnet).sort();

describe('mergeRoutes', () => {
  it('routes leased peers from their lease, including ones that do not gossip (Flannel nodes)', () => {
    const r = mergeRoutes([lease(1), lease(2)], [member(1, { vtepMac: '02:ff:ff:ff:ff:ff' })]);
    expect(r.peers).toEqual([
      { subnet: '10.244.1.0/24', publicIp: '198.18.0.1', vtepMac: '02:00:00:00:00:01', nodeName: 'n1', source: 'lease' },
      { subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '02:00:00:00:00:02', nodeName: 'n2', source: 'lease' },
    ]);
    expect(r.refused).toEqual([]);
  });

  it('withdraws a leased peer whose member is dead or left, and keeps a suspect one', () => {
    const r = mergeRoutes([lease(1), lease(2), lease(3)], [member(1, { state: 'dead' }), member(2, { state: 'left' }), member(3, { state: 'suspect' })]);
    expect(subnets(r.peers)).toEqual(['10.244.3.0/24']);
    expect(subnets(r.withdrawn)).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
  });

  it('routes a member known only from gossip (etcd away), unless it is dead', () => {
    const r = mergeRoutes([], [member(4), member(5, { state: 'dead' })]);
    expect(r.peers).toEqual([{ subnet: '10.244.4.0/24', publicIp: '198.18.0.4', vtepMac: '02:00:00:00:00:04', nodeName: 'n4', source: 'gossip' }]);
  });

  it('refuses a member claiming a subnet leased to another public IP, and keeps the lease route', () => {
    const forged = member(9, { subnet: '10.244.1.0/24', publicIp: '198.18.0.9' });
    const r = mergeRoutes([lease(1)], [forged]);
    expect(r.peers).toEqual([expect.objectContaining({ subnet: '10.244.1.0/24', publicIp: '198.18.0.1', source: 'lease' })]);
    expect(r.refused).toEqual([expect.objectContaining({ member: 'n9', reason: 'lease-conflict', subnet: '10.244.1.0/24' })]);
  });

  it('refuses a dead forged member too, without withdrawing the real lease', () => {
    const r = mergeRoutes([lease(1)], [member(9, { subnet: '10.244.1.0/24', publicIp: '198.18.0.9', state: 'dead' })]);
    expect(subnets(r.peers)).toEqual(['10.244.1.0/24']);
    expect(r.withdrawn).toEqual([]);
  });

  it('refuses a member whose subnet overlaps a lease (a wider prefix) or lies outside the network', () => {
    const r = mergeRoutes([lease(1)], [member(7, { subnet: '10.244.0.0/16' }), member(8, { subnet: '10.99.8.0/24' })], { network: '10.244.0.0/16' });
    expect(r.refused.map((x) => [x.member, x.reason]).sort()).toEqual([
      ['n7', 'lease-conflict'],
      ['n8', 'invalid'],
    ]);
    expect(subnets(r.peers)).toEqual(['10.244.1.0/24']);
  });

  it('refuses invalid members and never routes the local subnet', () => {
    const r = mergeRoutes([lease(1), lease(2)], [member(3, { vtepMac: 'zz' }), member(4, { subnet: '10.244.4.0/33' }), member(5, { subnet: '10.244.2.0/24', publicIp: '198.18.0.2' })], { localSubnet: '10.244.2.0/24' });
    expect(subnets(r.peers)).toEqual(['10.244.1.0/24']);
    expect(r.refused.map((x) => [x.member, x.reason]).sort()).toEqual([
      ['n3', 'invalid'],
      ['n4', 'invalid'],
      ['n5', 'lease-conflict'],
    ]);
  });

  it('between two gossip-only members claiming the same subnet, routes the smaller name only', () => {
    const r = mergeRoutes([], [member(6, { name: 'zeta' }), member(6, { name: 'alpha', publicIp: '198.18.0.66' })]);
    expect(r.peers).toEqual([expect.objectContaining({ nodeName: 'alpha', publicIp: '198.18.0.66' })]);
    expect(r.refused).toEqual([expect.objectContaining({ member: 'zeta', reason: 'gossip-conflict', conflictsWith: 'alpha' })]);
  });

  it('the reporter counts every refusal and logs each distinct one once', () => {
    const lines: string[] = [];
    const logger = Object.assign(Object.create(quietLogger), { warn: (_o: unknown, msg: string) => lines.push(msg) });
    const rep = new RefusalReporter(logger);
    const refused = mergeRoutes([lease(1)], [member(9, { subnet: '10.244.1.0/24', publicIp: '198.18.0.9' })]).refused;
    rep.report(refused);
    rep.report(refused);
    expect(rep.counts['lease-conflict']).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/not routing 10\.244\.1\.0\/24 via 198\.18\.0\.9/);
  });
});
