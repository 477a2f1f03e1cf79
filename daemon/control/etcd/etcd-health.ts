// Whether etcd answers, as seen by weftd's own calls. Logs exactly one line per change
// ("etcd reachable" / "etcd unreachable" / "etcd reachable again") and, while unreachable,
// probes with a bounded jittered backoff (100 ms → 1 s) so that waiters learn within about a
// second that etcd is back, whatever their own retry delays.
//
//   unknown ──ok──▶ reachable ──failure──▶ unreachable ──probe ok──▶ reachable
//      └──────────failure─────────────────────▲
import { isRecoverableError } from 'etcd3';
import type { Logger } from '../../observability/logger.js';
import { errorMessage } from '../../errors.js';
import { Backoff, sleep } from './backoff.js';
import { LogEvent } from '../../observability/log-events.js';

export type EtcdState = 'unknown' | 'reachable' | 'unreachable';

/** True for errors that mean "etcd did not answer" rather than "etcd said no". */
export function isUnreachableError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && isRecoverableError(err as Error);
}

export class EtcdHealth {
  private stateValue: EtcdState = 'unknown';
  private since = Date.now();
  private readonly listeners = new Set<() => void>();
  private readonly closed = new AbortController();
  private probing = false;

  constructor(
    private readonly log: Logger,
    private readonly endpoints: readonly string[],
    /** A cheap call that succeeds when etcd serves requests. */
    private readonly probe: () => Promise<unknown>,
  ) {}

  get state(): EtcdState {
    return this.stateValue;
  }

  /** While unreachable: since when (ms since the epoch); undefined otherwise. */
  get downSince(): number | undefined {
    return this.stateValue === 'unreachable' ? this.since : undefined;
  }

  /** Runs an etcd call and records the outcome; rethrows its error. */
  async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      this.ok();
      return result;
    } catch (err) {
      if (isUnreachableError(err)) this.failed(err);
      else this.ok();
      throw err;
    }
  }

  ok(): void {
    if (this.stateValue === 'reachable') return;
    const before = this.stateValue;
    this.stateValue = 'reachable';
    if (before === 'unreachable') this.log.info({ event: LogEvent.etcdReachableAgain, endpoints: this.endpoints, downMs: Date.now() - this.since }, 'etcd reachable again');
    else this.log.info({ event: LogEvent.etcdReachable, endpoints: this.endpoints }, 'etcd reachable');
    this.since = Date.now();
    for (const l of this.listeners) l();
  }

  failed(err: unknown): void {
    if (this.stateValue === 'unreachable' || this.closed.signal.aborted) return;
    this.stateValue = 'unreachable';
    this.since = Date.now();
    this.log.warn({ event: LogEvent.etcdUnreachable, endpoints: this.endpoints, err: errorMessage(err) }, 'etcd unreachable; keeping current state and retrying');
    void this.probeUntilReachable();
  }

  /** Calls `fn` on every transition to reachable; returns an unsubscribe function. */
  onReachable(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  close(): void {
    this.closed.abort();
    this.listeners.clear();
  }

  private async probeUntilReachable(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    const backoff = new Backoff({ initialMs: 100, maxMs: 1_000, factor: 1.6 });
    try {
      while (this.stateValue === 'unreachable' && !this.closed.signal.aborted) {
        await sleep(backoff.next(), this.closed.signal);
        if (this.closed.signal.aborted) return;
        try {
          await this.probe();
          this.ok();
        } catch {
          // still down; the next probe follows the backoff
        }
      }
    } finally {
      this.probing = false;
    }
  }
}
