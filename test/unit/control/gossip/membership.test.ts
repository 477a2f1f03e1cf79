// The SWIM state machine on a fake clock and an in-memory network: join, suspicion and death,
// refutation, graceful leave, restart, and the bound on piggybacked retransmissions.
import { describe, expect, it } from 'vitest';
import { retransmitLimit } from '../../../../daemon/control/gossip/broadcast-queue.js';
import { swimConfig } from '../../../../daemon/control/gossip/swim-config.js';
import { addressOf, FakeCluster } from '../../../fakes/gossip-net.js';

async function cluster(n: number): Promise<FakeCluster> {
  const c = new FakeCluster();
  for (let i = 0; i < n; i++) c.add(i);
  await c.clock.advance(1_000);
  return c;
}

describe('SWIM membership', () => {
  it('members joining through one seed converge to the same alive view', async () => {
    const c = await cluster(6);
    for (const m of c.members) {
      const alive = m.members().filter((x) => x.state === 'alive').map((x) => x.name).sort();
      expect(alive).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5'].filter((n) => n !== m.name));
    }
  });

  it('a joining member announces itself to every member it learned, without waiting for a round', async () => {
    const c = await cluster(6);
    c.add(6, { seeds: [addressOf(2)] });
    await c.clock.advance(1);
    expect(c.viewsOf('n6')).toEqual(['alive', 'alive', 'alive', 'alive', 'alive', 'alive']);
  });

  it('a member that stops answering becomes suspect, then dead everywhere after the suspicion timeout', async () => {
    const c = await cluster(6);
    c.net.down.add(addressOf(5));
    c.members[5].stop();
    let firstSuspect = -1;
    for (let t = 0; t < 6_000 && c.viewsOf('n5').some((s) => s !== 'dead'); t += 50) {
      await c.clock.advance(50);
      if (firstSuspect < 0 && c.viewsOf('n5').includes('suspect')) firstSuspect = c.clock.now();
    }
    expect(c.viewsOf('n5')).toEqual(['dead', 'dead', 'dead', 'dead', 'dead']);
    expect(firstSuspect).toBeGreaterThan(0);
    // Suspect never jumps straight to dead: the suspicion timeout (1.5 s) separates them.
    const deadAt = c.clock.now();
    expect(deadAt - firstSuspect).toBeGreaterThanOrEqual(c.config.suspicionTimeoutMs - 50);
    expect(c.members[0].counters.suspicions).toBeGreaterThan(0);
  });

  it('an unconfirmed suspicion waits suspicionMaxMult × the timeout; distinct accusers shorten it to the timeout', async () => {
    // No probing: suspicions come only from the injected accusers.
    const quietProbes = { probeIntervalMs: 600_000, probeTimeoutMs: 1_000, suspicionMult: 0, pushPullIntervalMs: 600_000 };
    for (const accusers of [['x'], ['x', 'y', 'z', 'w']]) {
      const c = new FakeCluster(quietProbes);
      for (let i = 0; i < 6; i++) c.add(i);
      await c.clock.advance(1_000);
      c.net.down.add(addressOf(5));
      c.members[5].stop();
      const start = c.clock.now();
      for (const a of accusers) c.members[0].mergeAll([{ ...c.members[5].selfRecord(), state: 'suspect', accuser: a }]);
      await c.clock.advance(10);
      expect(c.members[0].member('n5')?.state).toBe('suspect');
      const expectedMs = accusers.length === 1 ? 3 * c.config.suspicionTimeoutMs : c.config.suspicionTimeoutMs;
      await c.clock.advance(expectedMs - 100 - (c.clock.now() - start));
      expect(c.members[0].member('n5')?.state).toBe('suspect');
      await c.clock.advance(200);
      expect(c.members[0].member('n5')?.state).toBe('dead');
      for (const m of c.members) m.stop();
    }
  });

  it('a suspected member that is alive refutes with a higher incarnation', async () => {
    const c = await cluster(5);
    const n3 = c.members[3].selfRecord();
    c.members[0].mergeAll([{ ...n3, state: 'suspect' }]);
    expect(c.members[0].member('n3')?.state).toBe('suspect');
    await c.clock.advance(1_000);
    expect(c.members[3].selfRecord().incarnation).toBe(n3.incarnation + 1);
    expect(c.members[3].counters.refutations).toBe(1);
    for (const m of c.members) if (m.name !== 'n3') expect(m.member('n3')).toMatchObject({ state: 'alive', incarnation: n3.incarnation + 1 });
    await c.clock.advance(3_000);
    expect(c.viewsOf('n3').every((s) => s === 'alive')).toBe(true);
  });

  it('a stale dead record at the same incarnation does not override a refutation', async () => {
    const c = await cluster(4);
    const n2 = c.members[2].selfRecord();
    c.members[0].mergeAll([{ ...n2, state: 'dead' }]);
    await c.clock.advance(1_000);
    c.members[1].mergeAll([{ ...n2, state: 'dead' }]);
    expect(c.members[1].member('n2')).toMatchObject({ state: 'alive', incarnation: n2.incarnation + 1 });
  });

  it('leave() marks the member left on every other member at once, and stops its timers', async () => {
    const c = await cluster(5);
    const before = c.clock.now();
    await c.members[4].leave();
    expect(c.clock.now()).toBe(before);
    expect(c.viewsOf('n4')).toEqual(['left', 'left', 'left', 'left']);
    c.net.down.add(addressOf(4));
    await c.clock.advance(5_000);
    expect(c.viewsOf('n4')).toEqual(['left', 'left', 'left', 'left']);
    expect(c.members[0].counters.suspicions).toBe(0);
  });

  it('a restarted member (same name, incarnation 0) refutes its dead record and is alive again', async () => {
    const c = await cluster(5);
    c.net.down.add(addressOf(4));
    c.members[4].stop();
    await c.clock.advance(5_000);
    expect(c.viewsOf('n4').every((s) => s === 'dead')).toBe(true);
    const deadIncarnation = c.members[0].member('n4')!.incarnation;
    c.net.down.delete(addressOf(4));
    const restarted = c.add(4, { incarnation: 0 });
    await c.clock.advance(1_000);
    expect(restarted.selfRecord().incarnation).toBeGreaterThan(deadIncarnation);
    for (const m of c.members) if (m !== restarted) expect(m.member('n4')?.state).toBe('alive');
  });

  it('dead members are not probed', async () => {
    const c = await cluster(4);
    c.net.down.add(addressOf(3));
    c.members[3].stop();
    await c.clock.advance(5_000);
    const from = c.net.log.length;
    await c.clock.advance(3_000);
    expect(c.net.log.slice(from).filter((m) => m.to === addressOf(3) && m.kind === 'Ping')).toEqual([]);
  });

  it('each member retransmits an update at most retransmitMult × ⌈log10(n + 1)⌉ times', async () => {
    const c = await cluster(8);
    const n7 = c.members[7].selfRecord();
    c.members[0].mergeAll([{ ...n7, state: 'suspect' }]);
    await c.clock.advance(4_000);
    const limit = retransmitLimit(c.config.retransmitMult, 8);
    const carrying = c.net.log.filter((m) => m.updates.some((u) => u.name === 'n7' && u.state === 'suspect'));
    const perSender = new Map<string, number>();
    for (const m of carrying) if (m.kind !== 'PushPull' && m.kind !== 'PushPullReply') perSender.set(m.from, (perSender.get(m.from) ?? 0) + 1);
    expect(perSender.size).toBeGreaterThan(1);
    for (const count of perSender.values()) expect(count).toBeLessThanOrEqual(limit);
    expect(c.members[0].pendingTransmits('n7')).toBeUndefined();
  });

  it('all periodic timers are named and stop with the member', async () => {
    const c = await cluster(3);
    c.add(3, { seeds: [addressOf(0)] });
    await c.clock.advance(1);
    expect(new Set(c.clock.pending())).toEqual(new Set(['gossip-probe', 'gossip-disseminate', 'gossip-push-pull']));
    for (const m of c.members) m.stop();
    expect(c.clock.pending()).toEqual([]);
  });

  it('runs dissemination rounds only while an update is fresh, so an idle cluster does not wake for them', async () => {
    const c = await cluster(3);
    await c.clock.advance(10_000);
    expect(new Set(c.clock.pending())).toEqual(new Set(['gossip-probe', 'gossip-push-pull']));
    c.add(3, { seeds: [addressOf(0)] });
    await c.clock.advance(1);
    expect(c.clock.pending()).toContain('gossip-disseminate');
    await c.clock.advance(10_000);
    expect(c.clock.pending()).not.toContain('gossip-disseminate');
    for (const m of c.members) expect(m.members().filter((x) => x.state === 'alive')).toHaveLength(3);
  });

  it('a lone member runs no dissemination rounds, and tells the first member to join what waited', async () => {
    const c = new FakeCluster();
    c.add(0);
    await c.clock.advance(10_000);
    expect(c.clock.pending()).not.toContain('gossip-disseminate');
    const sent = c.net.log.length;
    // Its own update, then one about a member it has not met: both wait for someone to tell.
    c.members[0].mergeAll([{ name: 'n9', publicIp: '198.18.0.9', gossipPort: 7946, subnet: '10.244.9.0/24', vtepMac: '02:00:00:00:00:09', vni: 1, incarnation: 0, state: 'dead' }]);
    await c.clock.advance(10_000);
    expect(c.clock.pending()).not.toContain('gossip-disseminate');
    expect(c.net.log.slice(sent).filter((m) => m.kind === 'Gossip')).toEqual([]);
    c.add(1, { seeds: [addressOf(0)] });
    await c.clock.advance(2_000);
    expect(c.members[1].member('n0')?.state).toBe('alive');
    expect(c.members[1].member('n9')?.state).toBe('dead');
  });

  it('a lone member runs no probe rounds; the first member to appear starts them, and its death stops them', async () => {
    const c = new FakeCluster();
    c.add(0);
    await c.clock.advance(10_000);
    expect(c.clock.pending()).not.toContain('gossip-probe');
    c.add(1, { seeds: [addressOf(0)] });
    await c.clock.advance(2_000);
    expect(c.clock.pending()).toContain('gossip-probe');
    const pings = (): number => c.net.log.filter((m) => m.kind === 'Ping' && m.from === 'n0').length;
    const before = pings();
    await c.clock.advance(5_000);
    expect(pings() - before).toBeGreaterThanOrEqual(8);
    c.members[1].stop();
    c.net.down.add(addressOf(1));
    await c.clock.advance(30_000);
    expect(c.members[0].member('n1')?.state).toBe('dead');
    expect(c.clock.pending()).not.toContain('gossip-probe');
    // Back (a restart): alive again through its join, probed again.
    c.net.down.delete(addressOf(1));
    c.add(1, { seeds: [addressOf(0)] });
    await c.clock.advance(3_000);
    expect(c.members[0].member('n1')?.state).toBe('alive');
    const after = pings();
    await c.clock.advance(5_000);
    expect(pings() - after).toBeGreaterThanOrEqual(8);
  });

  it('two members settle into exchanges: one probes back right after answering the other, each still once per interval', async () => {
    const c = await cluster(2);
    const pingsFrom = (name: string): number => c.net.log.filter((m) => m.kind === 'Ping' && m.from === name).length;
    const before = [pingsFrom('n0'), pingsFrom('n1')];
    let together = 0;
    for (let t = 0; t < 10_000; t += 10) {
      const [p0, p1] = [pingsFrom('n0'), pingsFrom('n1')];
      await c.clock.advance(10);
      if (pingsFrom('n0') > p0 && pingsFrom('n1') > p1) together++;
    }
    // 500 ms ± 10 % between rounds: about 20 probes each in 10 s, no more, no fewer.
    for (const [i, name] of ['n0', 'n1'].entries()) {
      expect(pingsFrom(name) - before[i]).toBeGreaterThanOrEqual(17);
      expect(pingsFrom(name) - before[i]).toBeLessThanOrEqual(23);
    }
    // Without probing back, two rounds with independent phases share a 10 ms step about once in 10 s.
    expect(together).toBeGreaterThanOrEqual(15);
    expect(c.members[0].counters.probesBack + c.members[1].counters.probesBack).toBeGreaterThanOrEqual(15);
    expect(c.members[0].counters.probeFailures + c.members[1].counters.probeFailures).toBe(0);
  });

  it('a lone member keeps retrying its seeds and joins once one answers', async () => {
    const c = new FakeCluster();
    c.net.down.add(addressOf(0));
    c.add(0);
    c.add(1);
    await c.clock.advance(3_000);
    expect(c.members[1].members()).toEqual([]);
    const attempts = c.net.log.filter((m) => m.from === 'n1' && m.to === addressOf(0) && m.kind === 'PushPull');
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    c.net.down.delete(addressOf(0));
    await c.clock.advance(1_500);
    expect(c.members[1].member('n0')?.state).toBe('alive');
    expect(c.members[0].member('n1')?.state).toBe('alive');
  });

  it('rejects inconsistent timing options with a message naming them', () => {
    expect(() => swimConfig({ probeTimeoutMs: 500, probeIntervalMs: 300 })).toThrow(/probeTimeoutMs/);
    expect(() => swimConfig({ gossipFanout: -1 })).toThrow(/gossipFanout/);
  });
});
