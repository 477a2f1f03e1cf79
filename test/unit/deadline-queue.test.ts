// DeadlineQueue, the real clock's timer order over one wake-up source: runs timers by due time
// (then creation), keeps the source armed for the earliest pending one only, and moves it later
// when that one is cancelled. A fake source and time here; test/integration/clock.test.ts runs it
// on the addon's libuv timer.
import { describe, expect, it } from 'vitest';
import { DeadlineQueue, type Wakeup } from '../../daemon/clock.js';
import { seededRandom } from '../../sim/gossip/random.js';

function setup() {
  let now = 1_000;
  const arms: (number | 'off')[] = [];
  const source: Wakeup = { arm: (ms) => arms.push(ms), disarm: () => arms.push('off') };
  const q = new DeadlineQueue(source, () => now);
  const ran: string[] = [];
  const at = (ms: number, name: string) => q.add(ms, () => ran.push(name));
  /** Advances time to the source's due time and fires it, as libuv would. */
  const advance = (ms: number): void => {
    now += ms;
    q.fire(0);
  };
  return { q, arms, ran, at, advance, now: () => now };
}

describe('DeadlineQueue', () => {
  it('runs timers in due order, timers due together in creation order', () => {
    const { ran, at, advance } = setup();
    at(30, 'c');
    at(10, 'a1');
    at(20, 'b');
    at(10, 'a2');
    advance(10);
    expect(ran).toEqual(['a1', 'a2']);
    advance(20);
    expect(ran).toEqual(['a1', 'a2', 'b', 'c']);
  });

  it('arms the source for the earliest timer only, and moves it later when that one is cancelled', () => {
    const { arms, at } = setup();
    const late = at(500, 'late');
    const probe = at(150, 'probe timeout');
    expect(arms).toEqual([500, 150]);
    at(300, 'other');
    expect(arms).toEqual([500, 150]);
    probe.cancel();
    expect(arms).toEqual([500, 150, 300]);
    probe.cancel();
    late.cancel();
    expect(arms).toEqual([500, 150, 300]);
  });

  it('disarms the source when the last timer is cancelled, and never runs a cancelled one', () => {
    const { q, arms, ran, at, advance } = setup();
    const t = at(50, 'x');
    t.cancel();
    expect(arms).toEqual([50, 'off']);
    expect(q.size).toBe(0);
    advance(100);
    expect(ran).toEqual([]);
  });

  it('fired early, runs nothing and re-arms for the time left; a timer set by a running one waits for the next fire', () => {
    const { q, arms, ran, advance, at } = setup();
    q.add(100, () => {
      ran.push('first');
      at(0, 'set while running');
    });
    advance(60);
    expect(ran).toEqual([]);
    expect(arms).toEqual([100, 40]);
    advance(40);
    expect(ran).toEqual(['first']);
    expect(arms.at(-1)).toBe(0);
    advance(0);
    expect(ran).toEqual(['first', 'set while running']);
  });

  it('arms at most 2^31 - 1 ms ahead and re-arms for the rest; a throwing timer does not stop the others', () => {
    const { q, arms, ran, at, advance } = setup();
    at(2 ** 31 + 10, 'far');
    expect(arms).toEqual([2 ** 31 - 1]);
    advance(2 ** 31 - 1);
    expect(ran).toEqual([]);
    expect(arms.at(-1)).toBe(11);
    advance(11);
    expect(ran).toEqual(['far']);
    ran.length = 0;
    q.add(0, () => {
      throw new Error('boom');
    });
    at(0, 'after the throw');
    expect(() => advance(0)).toThrow('boom');
    expect(ran).toEqual(['after the throw']);
  });

  it('agrees with a sorted reference over random adds, cancels and fires', () => {
    const random = seededRandom(7);
    const { q, advance, now } = setup();
    const ran: string[] = [];
    const ref = new Map<string, { due: number; seq: number }>();
    const handles = new Map<string, { cancel(): void }>();
    let seq = 0;
    for (let step = 0; step < 3_000; step++) {
      const r = random();
      if (r < 0.5) {
        const name = `t${seq}`;
        const ms = Math.floor(random() * 200);
        ref.set(name, { due: now() + ms, seq: seq++ });
        handles.set(name, q.add(ms, () => ran.push(name)));
      } else if (r < 0.75 && handles.size > 0) {
        const names = [...handles.keys()];
        const name = names[Math.floor(random() * names.length)];
        handles.get(name)!.cancel();
        handles.delete(name);
        ref.delete(name);
      } else {
        const ms = Math.floor(random() * 50);
        const limit = now() + ms;
        const expected = [...ref.entries()].filter(([, v]) => v.due <= limit).sort(([, a], [, b]) => a.due - b.due || a.seq - b.seq).map(([k]) => k);
        ran.length = 0;
        advance(ms);
        expect(ran).toEqual(expected);
        for (const k of expected) {
          ref.delete(k);
          handles.delete(k);
        }
      }
      expect(q.size).toBe(ref.size);
    }
  });
});
