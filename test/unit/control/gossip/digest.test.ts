// The state digest: kept record by record, it equals one computed from scratch; two states differ
// exactly in the buckets of the records that differ; sizes follow the state.
import { describe, expect, it } from 'vitest';
import { bucketOf, bucketsFor, LEAF_BUCKETS, recordHash, StateDigest, validBuckets } from '../../../../daemon/control/gossip/digest.js';
import type { MemberState } from '../../../../daemon/control/gossip/types.js';
import { seededRandom } from '../../../fakes/gossip-net.js';

type Rec = { name: string; incarnation: number; state: MemberState };
const STATES: MemberState[] = ['alive', 'suspect', 'dead', 'left'];

function fromScratch(records: Iterable<Rec>): StateDigest {
  const d = new StateDigest();
  for (const r of records) d.toggle(r);
  return d;
}

describe('state digest', () => {
  it('kept up to date record by record, equals a digest of the final state at every size', () => {
    const random = seededRandom(3);
    const state = new Map<string, Rec>();
    const d = new StateDigest();
    for (let step = 0; step < 5_000; step++) {
      const name = `n${Math.floor(random() * 400)}`;
      const before = state.get(name);
      const after: Rec = { name, incarnation: Math.floor(random() * 3) * 2 ** (random() < 0.1 ? 40 : 0), state: STATES[Math.floor(random() * 4)] };
      if (before && random() < 0.1) {
        d.toggle(before);
        state.delete(name);
      } else if (before) {
        d.replace(before, after);
        state.set(name, after);
      } else {
        d.toggle(after);
        state.set(name, after);
      }
    }
    const scratch = fromScratch(state.values());
    for (const b of [1, 2, 64, LEAF_BUCKETS]) expect(d.fold(b)).toEqual(scratch.fold(b));
  });

  it('two states differ exactly in the buckets of the records that differ, the accuser aside', () => {
    const records: Rec[] = Array.from({ length: 1_000 }, (_, i) => ({ name: `node-${i}`, incarnation: i % 5, state: 'alive' }));
    const a = fromScratch(records);
    const changed = [records[7], records[500], records[999]];
    const other = records.map((r) => (changed.includes(r) ? { ...r, incarnation: r.incarnation + 1 } : r));
    other.push({ name: 'newcomer', incarnation: 0, state: 'alive' });
    const b = fromScratch(other);
    const buckets = bucketsFor(1_001);
    const expected = [...new Set([...changed.map((r) => r.name), 'newcomer'].map((n) => bucketOf(n, buckets)))].sort((x, y) => x - y);
    expect(a.differing(b.fold(buckets))).toEqual(expected);
    expect(fromScratch(records).differing(a.fold(buckets))).toEqual([]);
    expect(recordHash({ name: 'x', incarnation: 1, state: 'suspect' })).not.toBe(recordHash({ name: 'x', incarnation: 1, state: 'alive' }));
    expect(recordHash({ name: 'x', incarnation: 2 ** 32, state: 'alive' })).not.toBe(recordHash({ name: 'x', incarnation: 0, state: 'alive' }));
  });

  it('has about 8 records per bucket, up to 4096 buckets, always a power of two', () => {
    expect(bucketsFor(1)).toBe(1);
    expect(bucketsFor(8)).toBe(1);
    expect(bucketsFor(9)).toBe(2);
    expect(bucketsFor(5_000)).toBe(1_024);
    expect(bucketsFor(100_000)).toBe(LEAF_BUCKETS);
    for (const b of [1, 2, 1_024, 4_096]) expect(validBuckets(b)).toBe(true);
    for (const b of [0, 3, 1_000, 8_192, 1.5]) expect(validBuckets(b)).toBe(false);
  });
});
