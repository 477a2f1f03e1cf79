// The simulator's event heap: events come out by time, ties in scheduling order, cancelled ones
// are handed back flagged (the loop skips them).
import { describe, expect, it } from 'vitest';
import { EventKind, EventQueue } from '../../../sim/gossip/event-queue.js';
import { seededRandom } from '../../../sim/gossip/random.js';

describe('sim event queue', () => {
  it('pops random times in sorted order, equal times in insertion order', () => {
    const q = new EventQueue();
    const random = seededRandom(3);
    const pushed: { at: number; id: number }[] = [];
    for (let id = 0; id < 5_000; id++) {
      const at = Math.floor(random() * 200);
      q.push(at, EventKind.Timer, id, id);
      pushed.push({ at, id });
    }
    const expected = [...pushed].sort((a, b) => a.at - b.at || a.id - b.id).map((p) => p.id);
    const got: number[] = [];
    for (let e = q.pop(); e; e = q.pop()) got.push(e.from);
    expect(got).toEqual(expected);
    expect(q.size).toBe(0);
    expect(q.peekTime()).toBe(Infinity);
  });

  it('interleaves pushes and pops correctly and keeps cancelled events flagged', () => {
    const q = new EventQueue();
    const a = q.push(10, EventKind.Timer, 1, 1);
    q.push(5, EventKind.Timer, 2, 2);
    a.cancel();
    expect(q.pop()!.from).toBe(2);
    q.push(7, EventKind.Control, 3, 3);
    expect(q.peekTime()).toBe(7);
    expect(q.pop()!.from).toBe(3);
    const last = q.pop()!;
    expect(last.from).toBe(1);
    expect(last.cancelled).toBe(true);
    expect(q.pop()).toBeUndefined();
  });
});
