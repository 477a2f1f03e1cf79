// PeerRouter merges one subnet at a time and sends the data plane deltas; this checks it against
// the plain reference it replaced (every change: mergeRoutes over all leases and members, then the
// table built from scratch): on random lease writes, deletions, resyncs and membership changes
// (forged claims that overlap several subnets included), the table the sink holds and what /status
// shows are the same. And one lease changing among thousands costs one delta, not a table.
import { describe, expect, it } from 'vitest';
import { RouteTable, type RouteDelta } from '../../../daemon/dataplane/index.js';
import { mergeRoutes, RefusalReporter, type GossipPeer, type LeasePeer, type MergeResult } from '../../../daemon/control/gossip/index.js';
import type { PeerLease } from '../../../daemon/control/lease/lease-watcher.js';
import { PeerRouter } from '../../../daemon/control/peers.js';
import { formatCidr } from '../../../daemon/net/ipv4.js';
import { quietLogger } from '../../fakes/gossip-net.js';

const NETWORK = '10.244.0.0/16';
const LOCAL = '10.244.9.0/24';
type Member = GossipPeer & { incarnation?: number };

function lcg(seed: number): (n: number) => number {
  let s = seed;
  return (n) => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n;
}

const lease = (i: number, ip: number, mac: number, nodeName: string | undefined): PeerLease => ({
  subnetKey: `10.244.${i}.0-24`,
  subnet: { base: ((10 << 24) | (244 << 16) | (i << 8)) >>> 0, len: 24 },
  publicIp: `198.18.0.${ip}`,
  vni: 1,
  vtepMac: `02:00:00:00:00:${mac.toString(16).padStart(2, '0')}`,
  gossipPort: nodeName ? 8473 : undefined,
  nodeName,
  ...(mac % 2 === 0 ? { csumElision: true } : {}),
});

/** The router as it was: one full merge per change, with the same input ordering. */
class Reference {
  leases: (LeasePeer & { seenAt: number })[] = [];
  members: Member[] = [];
  tick = 0;
  setLeases(all: readonly PeerLease[]): void {
    const tick = ++this.tick;
    const before = new Map(this.leases.map((l) => [l.subnet, l]));
    this.leases = all.map((l) => {
      const x = { subnet: formatCidr(l.subnet), publicIp: l.publicIp, vtepMac: l.vtepMac, nodeName: l.nodeName, csumElision: l.csumElision, ...(l.gossipPort !== undefined ? { weft: true } : {}) };
      const was = before.get(x.subnet);
      const same = was && was.publicIp === x.publicIp && was.vtepMac === x.vtepMac && was.nodeName === x.nodeName && was.csumElision === x.csumElision;
      return { ...x, seenAt: same ? was.seenAt : tick };
    });
  }
  setMembers(members: readonly Member[]): void {
    const tick = ++this.tick;
    const before = new Map(this.members.map((m) => [m.name, m]));
    const gone = (s: string): boolean => s === 'dead' || s === 'left';
    this.members = members.map((m) => {
      const was = before.get(m.name);
      const stillGone = was?.goneAt !== undefined && gone(was.state) && gone(m.state) && was.incarnation === m.incarnation;
      return { ...m, goneAt: gone(m.state) ? (stillGone ? was.goneAt : tick) : undefined };
    });
  }
  merged(): MergeResult {
    return mergeRoutes(this.leases, this.members, { localSubnet: LOCAL, network: NETWORK });
  }
}

const bySubnet = <T extends { subnet: string }>(xs: readonly T[]): T[] => [...xs].sort((a, b) => (a.subnet < b.subnet ? -1 : a.subnet > b.subnet ? 1 : 0));
const sorted = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

function routerWithSink(): { r: PeerRouter; table: () => RouteTable; sent: { tables: number; deltas: RouteDelta[][] } } {
  let t: RouteTable | undefined;
  const sent = { tables: 0, deltas: [] as RouteDelta[][] };
  const r = new PeerRouter({
    network: NETWORK,
    subnetLen: 24,
    localSubnet: LOCAL,
    sink: {
      setRoutes: (x) => {
        t = RouteTable.fromWire(structuredClone(x.toWire()));
        sent.tables++;
      },
      applyRoutes: (d) => {
        t!.apply(structuredClone(d));
        sent.deltas.push([...d]);
      },
    },
    refusals: new RefusalReporter(quietLogger),
    log: quietLogger,
  });
  return { r, table: () => t!, sent };
}

describe('PeerRouter, one subnet at a time', () => {
  it('routes and reports exactly what a full merge per change would (fuzz)', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const rnd = lcg(seed);
      const { r, table } = routerWithSink();
      const ref = new Reference();
      const leases = new Map<string, PeerLease>();
      const members: Member[] = [];
      const snapshot = (): PeerLease[] => [...leases.values()];
      r.setLeases(new Map());
      ref.setLeases([]);
      for (let step = 0; step < 1000; step++) {
        const op = rnd(10);
        if (op < 4) {
          const i = rnd(12);
          const l = lease(i, 1 + rnd(6), rnd(4), rnd(3) === 0 ? undefined : `n${rnd(8)}`);
          leases.set(l.subnetKey, l);
          r.applyLeaseChanges({ upserted: [l], removed: [], resync: false });
          ref.setLeases(snapshot());
        } else if (op < 6) {
          const key = `10.244.${rnd(12)}.0-24`;
          const had = leases.delete(key);
          r.applyLeaseChanges({ upserted: [], removed: had ? [key] : [], resync: false });
          ref.setLeases(snapshot());
        } else if (op < 7) {
          r.setLeases(new Map(snapshot().map((l) => [l.subnetKey, l])));
          ref.setLeases(snapshot());
        } else {
          // Gossip's view evolves: one or two members change a field, join or go.
          for (let k = 1 + rnd(2); k > 0; k--) {
            const name = `n${rnd(8)}`;
            const at = members.findIndex((m) => m.name === name);
            const was = at < 0 ? undefined : members[at];
            const i = rnd(12);
            const odd = rnd(30);
            const subnet = odd === 0 ? `10.244.${i & ~1}.0/23` : odd === 1 ? `10.245.${i}.0/24` : odd === 2 ? 'nonsense' : odd === 3 ? `10.244.${i}.77/24` : `10.244.${i}.0/24`;
            const fresh: Member = { name, subnet, publicIp: `198.18.0.${1 + rnd(6)}`, vtepMac: `02:00:00:00:00:0${rnd(4)}`, state: 'alive', incarnation: 1 };
            const next: Member | undefined =
              !was ? fresh
              : rnd(8) === 0 ? undefined
              : rnd(6) === 0 ? { ...fresh, incarnation: was.incarnation }
              : rnd(3) === 0 ? { ...was, incarnation: (was.incarnation ?? 1) + 1, state: 'alive' }
              : { ...was, state: (['alive', 'suspect', 'dead', 'left'] as const)[rnd(4)] };
            if (at >= 0) members.splice(at, 1);
            if (next) members.push(next);
          }
          r.setMembers(members);
          ref.setMembers(members);
        }
        const want = ref.merged();
        const got = r.current;
        expect(bySubnet(got.peers), `seed ${seed} step ${step}`).toEqual(bySubnet(want.peers));
        expect(bySubnet(got.withdrawn)).toEqual(bySubnet(want.withdrawn));
        expect(sorted(got.refused)).toEqual(sorted(want.refused));
        const built = RouteTable.build({ network: NETWORK, subnetLen: 24, localSubnet: LOCAL, peers: want.peers });
        expect(bySubnet(table().peers)).toEqual(bySubnet(RouteTable.fromWire(built.toWire()).peers));
        expect(r.routeCount).toBe(built.size);
      }
    }
  });

  it('sends one whole table at start, then one delta per lease changed among 5,000', () => {
    const sent = { tables: 0, deltas: [] as RouteDelta[][] };
    const many = new Map<string, PeerLease>();
    for (let i = 0; i < 5000; i++) {
      const l: PeerLease = { ...lease(0, 1, 1, undefined), subnetKey: `x${i}`, subnet: { base: (((10 << 24) | (244 << 16)) >>> 0) + (i + 1) * 8, len: 29 }, publicIp: `198.18.${(i >> 8) + 100}.${i & 255}` };
      many.set(l.subnetKey, l);
    }
    const big = new PeerRouter({ network: NETWORK, subnetLen: 29, localSubnet: '10.244.0.0/29', sink: { setRoutes: () => sent.tables++, applyRoutes: (d) => sent.deltas.push([...d]) }, refusals: new RefusalReporter(quietLogger), log: quietLogger });
    big.setLeases(many);
    expect(sent.tables).toBe(1);
    expect(big.routeCount).toBe(5000);
    const extra: PeerLease = { ...many.get('x0')!, subnetKey: 'x5000', subnet: { base: (((10 << 24) | (244 << 16)) >>> 0) + 5001 * 8, len: 29 } };
    big.applyLeaseChanges({ upserted: [extra], removed: [], resync: false });
    big.applyLeaseChanges({ upserted: [{ ...extra, publicIp: '198.18.99.1' }], removed: [], resync: false });
    big.applyLeaseChanges({ upserted: [], removed: ['10.244.39.8-29'], resync: false });
    expect(sent.tables).toBe(1);
    expect(sent.deltas.map((d) => d.map((x) => x.op))).toEqual([['upsert'], ['upsert'], ['remove']]);
    expect(big.routeCount).toBe(5000);
    big.applyLeaseChanges({ upserted: [], removed: [], resync: true });
    expect(sent.tables).toBe(2);
  });
});
