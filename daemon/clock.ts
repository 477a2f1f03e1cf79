// The time seam of the control plane's state machines (SWIM membership, the lease keeper): the
// real clock runs on one timer of the native addon, tests inject a fake one and advance it by hand.
import { loadNative } from './dataplane/native.js';

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` once after `ms`. `name` identifies the timer in tests and traces. Never keeps the process alive. */
  setTimer(name: string, ms: number, fn: () => void): TimerHandle;
}

/** What a DeadlineQueue runs on: one timer that can be moved both ways. */
export interface Wakeup {
  /** Fire once, `ms` from now; replaces any earlier arming. */
  arm(ms: number): void;
  disarm(): void;
}

/** The longest a source is armed for at once (2^31 - 1 ms, as Node's timers). */
const MAX_ARM_MS = 2 ** 31 - 1;

interface Deadline {
  due: number;
  seq: number;
  fn: () => void;
  /** Position in the heap; -1 once run or cancelled. */
  index: number;
}

/**
 * Timers on one wake-up source, run in order of due time, then of creation. The source is armed
 * for the earliest pending timer only and moved whenever that one changes, later included, so a
 * cancelled timer never wakes the process (as a cleared Node timer does: Node re-arms its own
 * timer only when one fires or an earlier one is set). The owner calls fire() when the source fires.
 */
export class DeadlineQueue {
  private readonly heap: Deadline[] = [];
  private seq = 0;
  /** Due time the source is armed for; undefined while disarmed. */
  private armedDue: number | undefined;

  constructor(
    private readonly wakeup: Wakeup,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get size(): number {
    return this.heap.length;
  }

  add(ms: number, fn: () => void): TimerHandle {
    const d: Deadline = { due: this.now() + Math.max(0, ms), seq: this.seq++, fn, index: this.heap.length };
    this.heap.push(d);
    this.up(d.index);
    this.rearm();
    return { cancel: () => this.cancel(d) };
  }

  /**
   * Runs every timer due within `slackMs` (the source's clock counts whole milliseconds), earliest
   * first, then arms the source for the next one. A timer added by one that runs waits for the
   * next fire(). A timer that throws does not stop the others; the first error is rethrown after.
   */
  fire(slackMs = 1): void {
    this.armedDue = undefined;
    const limit = this.now() + slackMs;
    const due: Deadline[] = [];
    while (this.heap.length > 0 && this.heap[0].due <= limit) due.push(this.removeAt(0));
    this.rearm();
    let failure: { error: unknown } | undefined;
    for (const d of due) {
      try {
        d.fn();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }

  private cancel(d: Deadline): void {
    if (d.index < 0) return;
    this.removeAt(d.index);
    this.rearm();
  }

  private rearm(): void {
    const head = this.heap[0];
    if (!head) {
      if (this.armedDue !== undefined) this.wakeup.disarm();
      this.armedDue = undefined;
      return;
    }
    if (head.due === this.armedDue) return;
    this.armedDue = head.due;
    // Beyond a libuv timer's range, the source fires early and fire() re-arms for the rest.
    this.wakeup.arm(Math.min(MAX_ARM_MS, Math.max(0, Math.ceil(head.due - this.now()))));
  }

  private removeAt(i: number): Deadline {
    const h = this.heap;
    const d = h[i];
    const last = h.pop()!;
    if (last !== d) {
      h[i] = last;
      last.index = i;
      this.down(i);
      this.up(last.index);
    }
    d.index = -1;
    return d;
  }

  private before(a: Deadline, b: Deadline): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(h[i], h[parent])) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.before(h[l], h[m])) m = l;
      if (r < h.length && this.before(h[r], h[m])) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const h = this.heap;
    [h[i], h[j]] = [h[j], h[i]];
    h[i].index = i;
    h[j].index = j;
  }
}

/**
 * The control plane's timers, on the addon's wake-up timer (daemon/native/weft_wakeup.c: one
 * unref'd libuv timer, moved both ways) so that a timeout cancelled by its answer (every gossip
 * probe) does not wake the process later; on Node timers where the addon cannot be loaded.
 */
function nativeQueue(): DeadlineQueue | undefined {
  try {
    const native = loadNative();
    let queue: DeadlineQueue | undefined;
    const handle = native.createWakeup(() => queue?.fire());
    queue = new DeadlineQueue({ arm: (ms) => native.armWakeup(handle, ms), disarm: () => native.disarmWakeup(handle) });
    return queue;
  } catch {
    return undefined;
  }
}

let queue: DeadlineQueue | null | undefined;

function schedule(ms: number, fn: () => void): TimerHandle {
  if (queue === undefined) queue = nativeQueue() ?? null;
  if (queue) return queue.add(ms, fn);
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
}

/**
 * Unref'd timers (see schedule()). A due timer runs in the check phase after the next I/O poll, so
 * a reply that arrived while the event loop was busy is seen before the timeout that races it.
 * That immediate is ref'd (it holds the loop for that one iteration): an unref'd immediate waits
 * for the next I/O event or timer, so an idle process ran every timer late (gossip probed every
 * 0.6–1 s instead of 500 ms, and its timeouts expired as late).
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(_name, ms, fn) {
    let immediate: NodeJS.Immediate | undefined;
    const t = schedule(ms, () => {
      immediate = setImmediate(fn);
    });
    return {
      cancel: () => {
        t.cancel();
        if (immediate) clearImmediate(immediate);
      },
    };
  },
};

/** `ms` scaled by a random factor in [1 − fraction, 1 + fraction]. */
export function jitter(ms: number, fraction: number, random: () => number): number {
  return Math.max(1, Math.round(ms * (1 - fraction + 2 * fraction * random())));
}

/** Resolves with `p`'s value, or with `undefined` when `ms` pass first or `p` rejects. */
export function within<T>(clock: Clock, name: string, ms: number, p: Promise<T>): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = clock.setTimer(name, ms, () => resolve(undefined));
    p.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      () => {
        timer.cancel();
        resolve(undefined);
      },
    );
  });
}

/** Resolves after `ms` on `clock`, or as soon as `signal` aborts; never rejects. */
export function pause(clock: Clock, name: string, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(name, ms, done);
    signal.addEventListener('abort', done, { once: true });
  });
}
