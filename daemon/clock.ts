// The time seam of the control plane's state machines (SWIM membership, the lease keeper): the
// real clock uses unref'd Node timers, tests inject a fake one and advance it by hand.

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` once after `ms`. `name` identifies the timer in tests and traces. Never keeps the process alive. */
  setTimer(name: string, ms: number, fn: () => void): TimerHandle;
}

/**
 * Node timers, unref'd. A due timer runs in the check phase after the next I/O poll, so a reply
 * that arrived while the event loop was busy is seen before the timeout that races it. That
 * immediate is ref'd (it holds the loop for that one iteration): an unref'd immediate waits for
 * the next I/O event or timer, so an idle process ran every timer late (gossip probed every
 * 0.6–1 s instead of 500 ms, and its timeouts expired as late).
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(_name, ms, fn) {
    let immediate: NodeJS.Immediate | undefined;
    const t = setTimeout(() => {
      immediate = setImmediate(fn);
    }, ms);
    t.unref();
    return {
      cancel: () => {
        clearTimeout(t);
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
