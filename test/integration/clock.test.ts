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
