// The real clock in an idle process: a due timer runs when due, not at the process's next
// unrelated wake-up (before the fix, a 50 ms timer ran only when a 2 s one woke the process).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIST } from '../../lab/paths.js';
import { run } from '../../lab/processes.js';

describe('realClock', () => {
  it('runs a due timer in a process that nothing else wakes', async () => {
    const out = await run(process.execPath, [join(DIST, 'test', 'fixtures', 'clock', 'idle-timer.js')]);
    const [clock, plain] = out.trim().split('\n');
    expect(plain).toBe('plain');
    expect(clock).toMatch(/^clock \d+$/);
    expect(Number(clock.split(' ')[1])).toBeLessThan(1_000);
  });
});

describe('realClock on the addon wake-up timer', () => {
  const fixture = join(DIST, 'test', 'fixtures', 'clock', 'cancelled-timers.js');
  const runMode = async (mode: 'clock' | 'node'): Promise<{ iterations: number; order: number[]; lateMs: number[] }> =>
    JSON.parse((await run(process.execPath, [fixture, mode])).trim());

  it('a cancelled timeout does not wake the process, where a cleared Node timer does; timers run in order, on time', async () => {
    const [clock, node] = await Promise.all([runMode('clock'), runMode('node')]);
    // Each of the 20 rounds wakes once for its 200 ms pause; a cleared Node timer adds a wake-up at
    // its old time, a cancelled realClock timer none.
    expect(node.iterations).toBeGreaterThanOrEqual(40);
    expect(clock.iterations).toBeLessThanOrEqual(node.iterations - 15);
    expect(clock.order).toEqual([1, 3, 2, 0]);
    for (const late of clock.lateMs) expect(late).toBeGreaterThanOrEqual(0);
    for (const late of clock.lateMs) expect(late).toBeLessThan(100);
  });
});
