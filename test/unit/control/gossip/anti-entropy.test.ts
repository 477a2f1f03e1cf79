// Anti-entropy by digest, joins that do not flood, and reconnects to dead members, on the fake
// clock and in-memory network.
import { describe, expect, it } from 'vitest';
import { bucketOf, bucketsFor, StateDigest } from '../../../../daemon/control/gossip/digest.js';
import type { Membership } from '../../../../daemon/control/gossip/membership.js';
import type { PushPullMsg } from '../../../../daemon/control/gossip/messages.js';
import { pushPullIntervalFor, type SwimConfig } from '../../../../daemon/control/gossip/swim-config.js';
import type { MemberRecord } from '../../../../daemon/control/gossip/types.js';
import { addressOf, FakeCluster } from '../../../fakes/gossip-net.js';

async function cluster(n: number, overrides: Partial<SwimConfig> = {}): Promise<FakeCluster> {
  const c = new FakeCluster(overrides);
  for (let i = 0; i < n; i++) c.add(i);
  await c.clock.advance(5_000);
  return c;
}

function stateOf(m: Membership): MemberRecord[] {
  return [m.selfRecord(), ...m.members()];
}

function digestOf(records: readonly MemberRecord[]): StateDigest {
  const d = new StateDigest();
  for (const r of records) d.toggle(r);
  return d;
}

const pushPulls = (c: FakeCluster, from: number) => c.net.log.slice(from).filter((m) => m.kind === 'PushPull' || m.kind === 'PushPullReply');

describe('anti-entropy by digest', () => {
  it('in a converged cluster, exchanges digests and no records', async () => {
    const c = await cluster(12);
    const from = c.net.log.length;
    await c.clock.advance(30_000);
    const exchanges = pushPulls(c, from);
    expect(exchanges.filter((m) => m.kind === 'PushPull').length).toBeGreaterThanOrEqual(12);
    for (const m of exchanges) {
      expect(m.updates).toEqual([]);
      const msg = m.msg as PushPullMsg;
      if (m.kind === 'PushPull') expect(msg.digest).toHaveLength(bucketsFor(12));
      else expect(msg.differing).toEqual([]);
    }
  });

  it('answers a digest with the buckets that differ and only its records in them', async () => {
    const c = await cluster(40);
    const n0 = c.members[0];
    const mine = stateOf(n0);
    const theirs = mine.map((r) => (r.name === 'n5' ? { ...r, incarnation: r.incarnation + 1 } : r));
    const buckets = bucketsFor(theirs.length);
    const reply = n0.onPushPull('n1', { join: false, members: [], digest: digestOf(theirs).fold(buckets) });
    expect(reply.differing).toEqual([bucketOf('n5', buckets)]);
    expect(reply.members.map((r) => r.name).sort()).toEqual(mine.filter((r) => bucketOf(r.name, buckets) === bucketOf('n5', buckets)).map((r) => r.name).sort());
    expect(reply.members.length).toBeLessThan(mine.length / 2);
    // Without a digest (a join, or a v2 peer): the full state.
    expect(n0.onPushPull('n1', { join: false, members: [] }).members).toHaveLength(mine.length);
  });

  it('spreads a record through anti-entropy alone, each exchange carrying a bucket, not the state', async () => {
    const c = await cluster(40, { gossipFanout: 0, maxPiggyback: 0, pushPullIntervalMs: 1_000 });
    const ghost: MemberRecord = { name: 'ghost', publicIp: '127.0.0.2', gossipPort: 9, subnet: '10.244.200.0/24', vtepMac: '02:00:00:00:01:00', vni: 1, incarnation: 3, state: 'dead' };
    c.members[0].mergeAll([ghost]);
    const from = c.net.log.length;
    for (let t = 0; t < 120_000 && c.viewsOf('ghost').some((s) => s !== 'dead'); t += 1_000) await c.clock.advance(1_000);
    expect(c.viewsOf('ghost').every((s) => s === 'dead')).toBe(true);
    const carrying = c.net.log.slice(from).filter((m) => m.updates.some((u) => u.name === 'ghost'));
    expect(carrying.some((m) => m.kind === 'PushPullReply')).toBe(true);
    // a requester that had the record the replier lacked sends it back in a second exchange
    expect(carrying.some((m) => m.kind === 'PushPull' && (m.msg as PushPullMsg).digest !== undefined)).toBe(true);
    expect(carrying.some((m) => m.kind === 'Gossip')).toBe(false);
    for (const m of carrying) expect(m.updates.length).toBeLessThan(20);
  });

  it('takes a push-pull claim that a member it sees alive is dead as a suspicion, which the member refutes', async () => {
    const c = await cluster(6);
    const n3 = c.members[3].selfRecord();
    const reply = c.members[0].onPushPull('n1', { join: false, members: [{ ...n3, state: 'dead' }] });
    expect(reply.members.length).toBe(6);
    expect(c.members[0].member('n3')).toMatchObject({ state: 'suspect', accuser: 'n1', incarnation: n3.incarnation });
    await c.clock.advance(2_000);
    expect(c.viewsOf('n3').every((s) => s === 'alive')).toBe(true);
    expect(c.members[3].selfRecord().incarnation).toBe(n3.incarnation + 1);
    // dead records of members it does not see alive are taken as they are
    const gone = { ...n3, name: 'gone', gossipPort: 9, state: 'dead' as const };
    c.members[0].onPushPull('n1', { join: false, members: [gone] });
    expect(c.members[0].member('gone')?.state).toBe('dead');
  });
});

describe('joining a large cluster', () => {
  it('contacts joinFanout seeds at a time, the next ones only when none answered', async () => {
    const c = await cluster(10);
    const seeds = Array.from({ length: 10 }, (_, i) => addressOf(i));
    const from = c.net.log.length;
    c.add(10, { seeds });
    await c.clock.advance(1);
    expect(c.net.log.slice(from).filter((m) => m.from === 'n10' && m.kind === 'PushPull')).toHaveLength(c.config.joinFanout);
    await c.clock.advance(2_000);
    expect(c.viewsOf('n10').every((s) => s === 'alive')).toBe(true);

    const d = await cluster(10);
    for (let i = 1; i < 10; i++) d.net.down.add(addressOf(i));
    const start = d.clock.now();
    d.add(10, { seeds: [...seeds.slice(1), addressOf(0)] });
    for (let t = 0; t < 10_000 && d.members[10].member('n0')?.state !== 'alive'; t += 100) await d.clock.advance(100);
    expect(d.members[10].member('n0')?.state).toBe('alive');
    // the 9 unreachable seeds first, three at a time, each batch waiting out rpcTimeoutMs at most
    expect(d.clock.now() - start).toBeLessThanOrEqual(3 * d.config.rpcTimeoutMs + 100);
    expect(d.net.log.filter((m) => m.from === 'n10' && m.kind === 'PushPull' && (m.msg as PushPullMsg).join).length).toBeLessThanOrEqual(10);
  });

  it('a seed added later is contacted by a few members of the cluster at their next push-pull, not by all of them', async () => {
    const c = await cluster(60);
    const from = c.net.log.length;
    const fresh = addressOf(60);
    c.net.down.add(fresh);
    for (const m of c.members) m.setSeeds([addressOf(0), fresh]);
    await c.clock.advance(1);
    expect(c.net.log.slice(from).filter((m) => m.to === fresh)).toEqual([]);
    await c.clock.advance(pushPullIntervalFor(c.config, 60) * 1.2);
    const contacts = c.net.log.slice(from).filter((m) => m.to === fresh);
    expect(contacts.length).toBeGreaterThanOrEqual(1);
    expect(contacts.length).toBeLessThanOrEqual(10);
    expect(contacts.every((m) => m.kind === 'PushPull' && !(m.msg as PushPullMsg).join)).toBe(true);
  });

  it('a seed added later that joined by itself meanwhile is not contacted', async () => {
    const c = await cluster(60);
    const from = c.net.log.length;
    for (const m of c.members) m.setSeeds([addressOf(0), addressOf(60)]);
    c.add(60);
    await c.clock.advance(pushPullIntervalFor(c.config, 60) * 1.2);
    expect(c.viewsOf('n60').every((s) => s === 'alive')).toBe(true);
    expect(c.net.log.slice(from).filter((m) => m.to === addressOf(60) && m.kind === 'PushPull').length).toBeLessThanOrEqual(3);
  });
});

describe('reconnecting to dead members', () => {
  it('heals a partition without seeds: members declared dead on both sides see each other alive again', async () => {
    const c = await cluster(5);
    c.members[4].setSeeds([]);
    c.net.down.add(addressOf(4));
    for (let t = 0; t < 30_000 && (c.viewsOf('n4').some((s) => s !== 'dead') || c.members[4].members().some((m) => m.state !== 'dead')); t += 500) await c.clock.advance(500);
    expect(c.viewsOf('n4').every((s) => s === 'dead')).toBe(true);
    expect(c.members[4].members().every((m) => m.state === 'dead')).toBe(true);
    // past gossipToTheDeadMs: dissemination no longer reaches across
    await c.clock.advance(c.config.gossipToTheDeadMs + 1_000);
    c.net.down.delete(addressOf(4));
    for (let t = 0; t < 60_000 && !healed(c); t += 500) await c.clock.advance(500);
    expect(healed(c)).toBe(true);
  });
});

function healed(c: FakeCluster): boolean {
  return c.members.every((m) => m.members().every((x) => x.state === 'alive'));
}
