// Bounded, jittered exponential backoff and an abortable, unref'd sleep for control-plane retries.
// A timer here never keeps the process alive on its own.

export interface BackoffOptions {
  /** First delay (ms). */
  readonly initialMs: number;
  /** Upper bound of any delay (ms), jitter included. */
  readonly maxMs: number;
  /** Growth per attempt; default 2. */
  readonly factor?: number;
  /** Fraction of random spread around each delay, 0..1; default 0.2. */
  readonly jitter?: number;
}

export class Backoff {
  private current: number;

  constructor(private readonly opts: BackoffOptions) {
    this.current = opts.initialMs;
  }

  /** The next delay (ms), then grows the base for the following one. */
  next(): number {
    const jitter = this.opts.jitter ?? 0.2;
    const spread = this.current * jitter * (Math.random() * 2 - 1);
    const delay = Math.min(this.opts.maxMs, Math.max(1, Math.round(this.current + spread)));
    this.current = Math.min(this.opts.maxMs, this.current * (this.opts.factor ?? 2));
    return delay;
  }

  reset(): void {
    this.current = this.opts.initialMs;
  }
}

/** Resolves after `ms`, or as soon as `signal` aborts or `wake` is called; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}
