// Incarnation numbers against forged and absurd records (issue 12 item 4): "n2 dead at 2^32 - 1"
// from a third party is refused and counted; a member whose incarnation is legitimately that high
// still refutes (no 32-bit overflow); a member's own announcement is always accepted, so it can
// always refute; nothing refutes past 2^53 - 1.
import { describe, expect, it } from 'vitest';
import { MAX_INCARNATION } from '../../../../daemon/control/gossip/codec.js';
import { MAX_INCARNATION_STEP } from '../../../../daemon/control/gossip/membership.js';
import { FakeCluster } from '../../../fakes/gossip-net.js';

async function cluster(n: number, incarnationOf: (i: number) => number = () => 0): Promise<FakeCluster> {
  const c = new FakeCluster();
  for (let i = 0; i < n; i++) c.add(i, { incarnation: incarnationOf(i) });
  await c.clock.advance(1_000);
  return c;
}

describe('gossip incarnations', () => {
  it('a third party claiming "n2 dead at incarnation 2^32 - 1" is refused and counted; n2 stays alive everywhere', async () => {
    const c = await cluster(4);
    const n2 = c.members[2].selfRecord();
    c.members[0].onGossip('n1', { updates: [{ ...n2, state: 'dead', incarnation: 2 ** 32 - 1 }] });
    expect(c.members[0].member('n2')).toMatchObject({ state: 'alive', incarnation: n2.incarnation });
    expect(c.members[0].counters.incarnationRefused).toBe(1);
    // Told to n2 itself, it is not refuted either: nobody could have believed it.
    c.members[2].onGossip('n1', { updates: [{ ...n2, state: 'dead', incarnation: 2 ** 32 - 1 }] });
    expect(c.members[2].selfRecord().incarnation).toBe(n2.incarnation);
    expect(c.members[2].counters.incarnationRefused).toBe(1);
    await c.clock.advance(3_000);
    expect(c.viewsOf('n2')).toEqual(['alive', 'alive', 'alive']);
  });

  it('a member at incarnation 2^32 - 1 refutes "dead at 2^32 - 1" with 2^32, and everyone sees it alive again', async () => {
    const c = await cluster(4, (i) => (i === 2 ? 2 ** 32 - 1 : 0));
    expect(c.members[0].member('n2')).toMatchObject({ state: 'alive', incarnation: 2 ** 32 - 1 });
    const n2 = c.members[2].selfRecord();
    c.members[0].onGossip('n1', { updates: [{ ...n2, state: 'dead' }] });
    expect(c.members[0].member('n2')?.state).toBe('dead');
    await c.clock.advance(2_000);
    expect(c.members[2].selfRecord().incarnation).toBe(2 ** 32);
    expect(c.viewsOf('n2')).toEqual(['alive', 'alive', 'alive']);
    for (const m of c.members) if (m.name !== 'n2') expect(m.member('n2')?.incarnation).toBe(2 ** 32);
  });

  it('a third party may raise a known incarnation by MAX_INCARNATION_STEP at most; the member itself by any amount', async () => {
    const c = await cluster(3);
    const n2 = c.members[2].selfRecord();
    c.members[0].onGossip('n1', { updates: [{ ...n2, state: 'suspect', accuser: 'n1', incarnation: n2.incarnation + MAX_INCARNATION_STEP }] });
    expect(c.members[0].member('n2')).toMatchObject({ state: 'suspect', incarnation: n2.incarnation + MAX_INCARNATION_STEP });
    c.members[0].onGossip('n1', { updates: [{ ...n2, incarnation: n2.incarnation + 3 * MAX_INCARNATION_STEP }] });
    expect(c.members[0].counters.incarnationRefused).toBe(1);
    c.members[0].onGossip('n2', { updates: [{ ...n2, incarnation: 2 ** 40 }] });
    expect(c.members[0].member('n2')).toMatchObject({ state: 'alive', incarnation: 2 ** 40 });
    // An unknown member is introduced by a third party at most MAX_INCARNATION_STEP high.
    const stranger = { ...n2, name: 'n9', subnet: '10.244.9.0/24', incarnation: MAX_INCARNATION_STEP + 1 };
    c.members[0].onGossip('n1', { updates: [stranger] });
    expect(c.members[0].member('n9')).toBeUndefined();
    for (const m of c.members) m.stop();
  });

  it('a member never refutes past 2^53 - 1 (the largest exact incarnation); the record is counted instead', async () => {
    const c = await cluster(3, (i) => (i === 1 ? MAX_INCARNATION - 10 : 0));
    const n1 = c.members[1].selfRecord();
    c.members[1].onGossip('n0', { updates: [{ ...n1, state: 'dead', incarnation: MAX_INCARNATION }] });
    expect(c.members[1].selfRecord().incarnation).toBe(MAX_INCARNATION - 10);
    expect(c.members[1].counters.incarnationRefused).toBe(1);
    for (const m of c.members) m.stop();
  });
});
