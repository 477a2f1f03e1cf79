// Suspicion timeouts follow log n: a confirmed suspicion lasts suspicionMult × log10(n) ×
// gossipIntervalMs (the time a refutation needs to reach everyone), never less than the floor.
import { describe, expect, it } from 'vitest';
import type { MemberRecord } from '../../../../daemon/control/gossip/types.js';
import { FakeCluster } from '../../../fakes/gossip-net.js';

/** Member n0 alone on the network, knowing `known` other members alive (none of them answers). */
async function observer(known: number): Promise<FakeCluster> {
  // No probing and no anti-entropy: suspicions come only from the injected accusers.
  const c = new FakeCluster({ probeIntervalMs: 600_000, probeTimeoutMs: 1_000, pushPullIntervalMs: 600_000 });
  const m = c.add(0);
  const roster: MemberRecord[] = Array.from({ length: known }, (_, i) => ({
    name: `m${i}`, publicIp: '127.0.0.3', gossipPort: 20_000 + (i % 40_000), subnet: `10.${(i >> 8) & 255}.${i & 255}.0/24`, vtepMac: '02:00:00:00:02:00', vni: 1, incarnation: 0, state: 'alive',
  }));
  m.mergeAll(roster);
  await c.clock.advance(10);
  return c;
}

/** How long a suspicion of m1, confirmed by four distinct accusers at once, lasts at n0. */
async function confirmedTimeout(known: number): Promise<number> {
  const c = await observer(known);
  const m = c.members[0];
  const target = m.member('m1')!;
  const start = c.clock.now();
  for (const accuser of ['a', 'b', 'c', 'd']) m.mergeAll([{ ...target, state: 'suspect', accuser }]);
  while (m.member('m1')?.state === 'suspect') await c.clock.advance(50);
  expect(m.member('m1')?.state).toBe('dead');
  m.stop();
  return c.clock.now() - start;
}

describe('suspicion timeout', () => {
  it('is the floor in small clusters and grows with log10 n in large ones', async () => {
    const c = new FakeCluster();
    const cfg = c.config;
    const expected = (n: number): number => Math.max(cfg.suspicionTimeoutMs, cfg.suspicionMult * Math.log10(n) * cfg.gossipIntervalMs);
    for (const known of [4, 999, 4_999]) {
      const took = await confirmedTimeout(known);
      const want = expected(known + 1);
      expect(took).toBeGreaterThanOrEqual(want);
      expect(took).toBeLessThan(want + 100);
    }
    // the defaults: 1.5 s up to ~316 members, 1.8 s at 1,000, 2.2 s at 5,000
    expect(expected(5)).toBe(1_500);
    expect(Math.round(expected(1_000))).toBe(1_800);
    expect(Math.round(expected(5_000))).toBe(2_219);
  });
});
