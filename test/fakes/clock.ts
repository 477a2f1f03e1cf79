// A clock advanced by hand, for the state machines that take a Clock (daemon/clock.ts): SWIM
// membership, the lease keeper. Timers run in time order, and promises settle after each.
import type { Clock, TimerHandle } from '../../daemon/clock.js';

interface FakeTimer {
  at: number;
  seq: number;
  name: string;
  fn: () => void;
  cancelled: boolean;
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: FakeTimer[] = [];

  now(): number {
    return this.t;
  }

  setTimer(name: string, ms: number, fn: () => void): TimerHandle {
    const timer: FakeTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, name, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => void (timer.cancelled = true) };
  }

  /** Names of timers still pending. */
  pending(): string[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.name);
  }

  /** Runs every timer due within `ms`, in order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      const next = this.timers.reduce<FakeTimer | undefined>((a, b) => (!a || b.at < a.at || (b.at === a.at && b.seq < a.seq) ? b : a), undefined);
      if (!next || next.at > end) break;
      this.t = next.at;
      next.cancelled = true;
      next.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}
