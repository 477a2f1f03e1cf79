// mergeRoutes: etcd leases are authoritative, gossip fills in while etcd is away, dead members are
// withdrawn, and a member contradicting a lease is refused.
import { describe, expect, it } from 'vitest';
import { mergeRoutes, type GossipPeer, type LeasePeer } from '../../../../daemon/control/gossip/merge.js';
import { RefusalReporter } from '../../../../daemon/control/gossip/refusal-reporter.js';
import { quietLogger } from '../../../fakes/gossip-net.js';

const lease = (i: number, extra: Partial<LeasePeer> = {}): LeasePeer => ({ subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: `02:00:00:00:00:0${i}`, nodeName: `n${i}`, ...extra });
const member = (i: number, extra: Partial<GossipPeer> = {}): GossipPeer => ({ name: `n${i}`, subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: `02:00:00:00:00:0${i}`, state: 'alive', ...extra });
const subnets = (r: { subnet: string }[]): string[] => r.map((p) => p.subnet).sort();

describe('mergeRoutes', () => {
  it('routes leased peers from their lease, including ones that do not gossip (Flannel nodes)', () => {
    const r = mergeRoutes([lease(1), lease(2)], [member(1, { vtepMac: '02:ff:ff:ff:ff:ff' })]);
    expect(r.peers).toEqual([
      { subnet: '10.244.1.0/24', publicIp: '198.18.0.1', vtepMac: '02:00:00:00:00:01', nodeName: 'n1', source: 'lease', state: 'alive', member: 'n1' },
      { subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '02:00:00:00:00:02', nodeName: 'n2', source: 'lease', state: 'lease-only' },
    ]);
    expect(r.refused).toEqual([]);
  });

  it('withdraws a leased peer whose member is dead or left, and keeps a suspect one', () => {
    const r = mergeRoutes([lease(1), lease(2), lease(3)], [member(1, { state: 'dead' }), member(2, { state: 'left' }), member(3, { state: 'suspect' })]);
    expect(subnets(r.peers)).toEqual(['10.244.3.0/24']);
    expect(subnets(r.withdrawn)).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
  });

  it('routed peers are never dead and withdrawn ones always are', () => {
    const r = mergeRoutes([lease(1), lease(2), lease(3)], [member(1, { state: 'dead' }), member(2, { state: 'suspect' })]);
    expect(r.peers.map((p) => [p.subnet, p.state])).toEqual([
      ['10.244.2.0/24', 'suspect'],
      ['10.244.3.0/24', 'lease-only'],
    ]);
    expect(r.withdrawn.map((p) => [p.subnet, p.state, p.member])).toEqual([['10.244.1.0/24', 'dead', 'n1']]);
  });

  it('a renamed node keeps its route: the old name left, the lease names the new one', () => {
    const renamed = lease(1, { nodeName: 'n1-new' });
    const before = mergeRoutes([renamed], [member(1, { state: 'left' })]);
    expect(before.withdrawn).toEqual([]);
    expect(before.peers).toEqual([expect.objectContaining({ subnet: '10.244.1.0/24', nodeName: 'n1-new', state: 'lease-only' })]);
    const after = mergeRoutes([renamed], [member(1, { state: 'left' }), member(1, { name: 'n1-new' })]);
    expect(after.withdrawn).toEqual([]);
    expect(after.peers).toEqual([expect.objectContaining({ subnet: '10.244.1.0/24', state: 'alive', member: 'n1-new' })]);
  });

  it('a dead record never withdraws a lease a different live member holds at that subnet and IP', () => {
    const r = mergeRoutes([lease(1)], [member(1, { state: 'dead' }), member(1, { name: 'other' })]);
    expect(r.withdrawn).toEqual([]);
    expect(r.peers).toEqual([expect.objectContaining({ subnet: '10.244.1.0/24', state: 'alive', member: 'other' })]);
  });

  it('a holder that went away before its lease was rewritten does not withdraw it; one gone since does', () => {
    const flannel = lease(1, { nodeName: undefined, seenAt: 5 });
    expect(mergeRoutes([flannel], [member(1, { state: 'left', goneAt: 3 })]).peers).toEqual([expect.objectContaining({ state: 'lease-only' })]);
    expect(mergeRoutes([flannel], [member(1, { state: 'left', goneAt: 7 })]).withdrawn).toEqual([expect.objectContaining({ state: 'dead', member: 'n1' })]);
    expect(mergeRoutes([lease(1, { seenAt: 5 })], [member(1, { state: 'dead', goneAt: 3 })]).withdrawn).toEqual([]);
  });

  it('two live processes with one name: each lease is routed, neither is withdrawn', () => {
    const leases = [lease(1, { nodeName: 'twin' }), lease(2, { nodeName: 'twin' })];
    for (const seen of [member(1, { name: 'twin' }), member(2, { name: 'twin' })]) {
      const r = mergeRoutes(leases, [seen]);
      expect(subnets(r.peers)).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
      expect(r.withdrawn).toEqual([]);
    }
  });

  it('routes a member known only from gossip (etcd away), unless it is dead', () => {
    const r = mergeRoutes([], [member(4), member(5, { state: 'dead' })]);
    expect(r.peers).toEqual([{ subnet: '10.244.4.0/24', publicIp: '198.18.0.4', vtepMac: '02:00:00:00:00:04', nodeName: 'n4', source: 'gossip', state: 'alive', member: 'n4' }]);
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

  it("refuses members whose address or subnet daemon/net's strict rules refuse (hex, leading zeros)", () => {
    const r = mergeRoutes([], [member(3, { publicIp: '0x0a.1.1.1' }), member(4, { publicIp: '198.018.0.4' }), member(5, { subnet: '010.244.5.0/24' }), member(6, { publicIp: 'fd00::6' })]);
    expect(r.peers).toEqual([]);
    expect(r.refused.map((x) => [x.member, x.reason]).sort()).toEqual([
      ['n3', 'invalid'],
      ['n4', 'invalid'],
      ['n5', 'invalid'],
      ['n6', 'invalid'],
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
