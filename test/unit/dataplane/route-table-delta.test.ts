// RouteTable changed one peer at a time (the deltas the data plane thread applies) against a plain
// Map of the peers and against the table built from scratch from that Map: any sequence of upserts
// and removals routes, validates senders and keeps counters exactly as they would.
import { describe, expect, it } from 'vitest';
import { PeerEncoder, RouteTable, type PeerSpec, type PeerWire, type RouteDelta } from '../../../daemon/dataplane/route-table.js';
import { PEER_FIELDS } from '../../../daemon/dataplane/counters.js';
import { formatIpv4 } from '../../../daemon/net/ipv4.js';
import { u32 } from '../../fixtures/dataplane/packets.js';

const NETWORK = '10.244.0.0/16';
const SUBNET_LEN = 24;
const encoder = new PeerEncoder({ network: NETWORK, subnetLen: SUBNET_LEN, localSubnet: '10.244.0.0/24' });

function lcg(seed: number): (n: number) => number {
  let s = seed;
  return (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n;
}

/** A random valid peer on one of `subnets` subnets, with one of `ips` public IPs (so several subnets share a sender). */
function randomPeer(rnd: (n: number) => number, subnets: number, ips: number): PeerSpec {
  const i = 1 + rnd(subnets);
  return {
    subnet: `10.244.${i}.0/24`,
    publicIp: `198.18.0.${1 + rnd(ips)}`,
    vtepMac: `0e:00:00:00:${rnd(256).toString(16).padStart(2, '0')}:${rnd(256).toString(16).padStart(2, '0')}`,
    ...(rnd(2) === 0 ? { nodeName: `n${rnd(1000)}` } : {}),
    ...(rnd(2) === 0 ? { csumElision: true } : {}),
  };
}

function wire(p: PeerSpec): PeerWire {
  const w = encoder.encode(p);
  if (typeof w === 'string') throw new Error(w);
  return w;
}

/** What a table says about every address of the network and every candidate sender, by value. */
function behaviour(t: RouteTable, ips: number): unknown {
  const routes: unknown[] = [];
  for (let i = 0; i < 256; i++) {
    const slot = t.lookup(u32(`10.244.${i}.7`));
    routes.push(slot < 0 ? null : { ip: t.peerPublicIp[slot], mac: [...t.peerMac.subarray(slot * 6, slot * 6 + 6)], flags: t.peerFlags[slot], name: t.nodeNames[slot], base: t.peerSubnetBase[slot] });
  }
  const senders: unknown[] = [];
  for (let i = 1; i <= ips + 1; i++) {
    const ip = u32(`198.18.0.${i}`) | 0;
    const s = t.senderIndex(ip);
    senders.push(s < 0 ? null : t.peerPublicIp[s] === ip);
  }
  return { routes, senders, size: t.size, peers: [...t.peers].sort((a, b) => (a.subnet < b.subnet ? -1 : 1)) };
}

describe('RouteTable deltas', () => {
  it('any sequence of upserts and removals equals the table built from scratch (fuzz against a plain Map)', () => {
    for (const [seed, subnets, ips] of [
      [1, 8, 3],
      [2, 60, 10],
      [3, 250, 250],
      [4, 250, 2],
    ] as const) {
      const rnd = lcg(seed);
      const reference = new Map<string, PeerSpec>();
      const t = RouteTable.empty(NETWORK, SUBNET_LEN);
      for (let step = 0; step < 3000; step++) {
        const deltas: RouteDelta[] = [];
        for (let k = 1 + rnd(4); k > 0; k--) {
          if (rnd(3) === 0) {
            const i = 1 + rnd(subnets);
            reference.delete(`10.244.${i}.0/24`);
            deltas.push({ op: 'remove', subnetBase: u32(`10.244.${i}.0`) | 0 });
          } else {
            const p = randomPeer(rnd, subnets, ips);
            reference.set(p.subnet, p);
            deltas.push({ op: 'upsert', peer: wire(p) });
          }
        }
        t.apply(structuredClone(deltas));
        if (step % 50 === 0 || step === 2999) {
          const built = RouteTable.build({ network: NETWORK, subnetLen: SUBNET_LEN, peers: [...reference.values()] });
          expect(behaviour(t, ips)).toEqual(behaviour(built, ips));
          expect(behaviour(RouteTable.fromWire(structuredClone(t.toWire())), ips)).toEqual(behaviour(built, ips));
        }
      }
    }
  });

  it('a peer keeps its slot and counters while its subnet stays routed; a removed one starts again at 0', () => {
    const t = RouteTable.empty(NETWORK, SUBNET_LEN);
    const a = t.upsert(wire({ subnet: '10.244.1.0/24', publicIp: '198.18.0.1', vtepMac: '0e:00:00:00:00:01' }));
    t.peerCounters[a * PEER_FIELDS] = 42;
    for (let i = 2; i < 100; i++) t.upsert(wire({ subnet: `10.244.${i}.0/24`, publicIp: `198.18.0.${i}`, vtepMac: '0e:00:00:00:00:02' }));
    const moved = t.upsert(wire({ subnet: '10.244.1.0/24', publicIp: '198.18.0.200', vtepMac: '0e:00:00:00:00:aa' }));
    expect(moved).toBe(a);
    expect(t.peerCounters[a * PEER_FIELDS]).toBe(42);
    expect(t.senderIndex(u32('198.18.0.1'))).toBe(-1);
    expect(t.senderIndex(u32('198.18.0.200'))).toBe(a);
    expect(t.remove(u32('10.244.1.0'))).toBe(true);
    expect(t.remove(u32('10.244.1.0'))).toBe(false);
    expect(t.lookup(u32('10.244.1.9'))).toBe(-1);
    const again = t.upsert(wire({ subnet: '10.244.1.0/24', publicIp: '198.18.0.1', vtepMac: '0e:00:00:00:00:01' }));
    expect(t.peerCounters[again * PEER_FIELDS]).toBe(0);
    expect(t.size).toBe(99);
  });

  it('a full swap carries counters over by subnet, like the deltas it replaces (Dataplane.setRoutes)', () => {
    const peers = Array.from({ length: 20 }, (_, i) => ({ subnet: `10.244.${i + 1}.0/24`, publicIp: `198.18.0.${i + 1}`, vtepMac: '0e:00:00:00:00:01' }));
    const t = RouteTable.build({ network: NETWORK, subnetLen: SUBNET_LEN, peers });
    for (const s of t.slots()) t.peerCounters[s * PEER_FIELDS + 1] = 1000 + (t.peerPublicIp[s] & 0xff);
    const next = RouteTable.build({ network: NETWORK, subnetLen: SUBNET_LEN, peers: [...peers.slice(5)].reverse() });
    next.takeCounters(t);
    expect(next.slotOf(u32('10.244.8.0'))).not.toBe(t.slotOf(u32('10.244.8.0')));
    for (const s of next.slots()) expect(next.peerCounters[s * PEER_FIELDS + 1]).toBe(1000 + (next.peerPublicIp[s] & 0xff));
    expect(next.slotOf(u32('10.244.3.0'))).toBe(-1);
    expect(formatIpv4(next.peerPublicIp[next.slotOf(u32('10.244.8.0'))] >>> 0)).toBe('198.18.0.8');
  });

  it('refuses a delta that no encoder of this network made, and the encoder says why a peer cannot be routed', () => {
    const t = RouteTable.empty(NETWORK, SUBNET_LEN);
    const ok = wire({ subnet: '10.244.2.0/24', publicIp: '198.18.0.2', vtepMac: '0e:00:00:00:00:02' });
    expect(() => t.apply([{ op: 'upsert', peer: { ...ok, subnetBase: u32('10.245.2.0') | 0 } }])).toThrow(/inconsistent/);
    expect(() => t.apply([{ op: 'upsert', peer: { ...ok, subnetBase: (u32('10.244.2.0') + 4) | 0 } }])).toThrow(/inconsistent/);
    expect(() => t.apply([{ op: 'upsert', peer: { ...ok, mac: new Uint8Array(5) } }])).toThrow(/inconsistent/);
    expect(t.size).toBe(0);
    expect(encoder.encode({ subnet: '10.244.0.0/24', publicIp: '198.18.0.1', vtepMac: '0e:00:00:00:00:01' })).toBe('local subnet');
    expect(encoder.encode({ subnet: '10.244.3.0/25', publicIp: '198.18.0.1', vtepMac: '0e:00:00:00:00:01' })).toBe('subnet 10.244.3.0/25 is not a /24');
    expect(encoder.encode({ subnet: '10.244.3.0/24', publicIp: '0.0.0.0', vtepMac: '0e:00:00:00:00:01' })).toBe("publicIp '0.0.0.0' is not an IPv4 address");
  });
});
