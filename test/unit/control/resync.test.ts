// The periodic state check (daemon/control/resync.ts): one timer, no overlap, errors logged once,
// nothing at all with period 0, and stop() waits for a check in flight. Fake timers, no sleeping.
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Resync } from '../../../daemon/control/resync.js';

function capture(): { log: pino.Logger; lines: { msg: string; err?: string }[] } {
  const lines: { msg: string; err?: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  return { log, lines };
}

describe('Resync', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('checks once per period, never overlapping a slow check, and stops waiting for the one in flight', async () => {
    const { log } = capture();
    let running = 0;
    let overlapped = false;
    let calls = 0;
    let release: (() => void) | undefined;
    const r = new Resync({
      what: 'x',
      periodMs: 1_000,
      log,
      check: async () => {
        calls++;
        overlapped ||= running > 0;
        running++;
        await new Promise<void>((resolve) => (release = resolve));
        running--;
      },
    }).start();
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(1);
    expect(r.checks).toBe(0); // counted when finished
    await vi.advanceTimersByTimeAsync(5_000); // the check is still running: no second one
    expect(calls).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    release?.();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(2);
    expect(r.checks).toBe(1);
    let stopped = false;
    const stopping = r.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release?.();
    await stopping;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toBe(2);
    expect(overlapped).toBe(false);
  });

  it('logs a failing check once per distinct error and once when it works again', async () => {
    const { log, lines } = capture();
    const errors = ['EPERM', 'EPERM', 'EPERM', 'gone', undefined, undefined];
    let i = 0;
    const r = new Resync({ what: 'ip-masq rules', periodMs: 10, log, check: async () => { const e = errors[i++]; if (e) throw new Error(e); } }).start();
    await vi.advanceTimersByTimeAsync(60);
    await r.stop();
    expect(r.checks).toBe(6); // failed ones too
    expect(lines.map((l) => `${l.msg}${l.err ? ` (${l.err})` : ''}`)).toEqual([
      'cannot check the ip-masq rules; retrying every period (EPERM)',
      'cannot check the ip-masq rules; retrying every period (gone)',
      'state check works again',
    ]);
  });

  it('does nothing with period 0', async () => {
    const { log } = capture();
    const r = new Resync({ what: 'x', periodMs: 0, log, check: () => Promise.reject(new Error('never')) }).start();
    expect(vi.getTimerCount()).toBe(0);
    await r.stop();
  });
});
