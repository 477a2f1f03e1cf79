// A state check repeated every `periodMs` for as long as its owner runs (Flannel's
// --iptables-resync loop): one unref'd timer, armed again only once the previous check has
// finished, so checks never overlap and an idle node wakes once per period. The check logs its own
// fixes; a check that throws is logged once per distinct error and once when checks work again.
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export interface ResyncOptions {
  /** For log lines: what is checked, e.g. "ip-masq rules". */
  readonly what: string;
  /** 0 disables the check. */
  readonly periodMs: number;
  /** Reads the state once and restores what drifted. */
  readonly check: () => Promise<void>;
  readonly log: Logger;
}

export class Resync {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastError = '';
  private finished = 0;

  constructor(private readonly o: ResyncOptions) {}

  /** What is checked (ResyncOptions.what). */
  get what(): string {
    return this.o.what;
  }

  /** Checks finished since start(), whether they fixed something, found nothing to fix, or failed. */
  get checks(): number {
    return this.finished;
  }

  /** Arms the first check one period from now. */
  start(): this {
    this.arm();
    return this;
  }

  /** Disarms the timer and waits for a check in flight; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private arm(): void {
    if (this.stopped || this.o.periodMs <= 0) return;
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.arm();
      });
    }, this.o.periodMs);
    this.timer.unref();
  }

  private async runOnce(): Promise<void> {
    try {
      await this.o.check();
      if (this.lastError !== '') this.o.log.info({ what: this.o.what }, 'state check works again');
      this.lastError = '';
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this.lastError) this.o.log.warn({ what: this.o.what, err: message, retryInMs: this.o.periodMs }, `cannot check the ${this.o.what}; retrying every period`);
      this.lastError = message;
    } finally {
      this.finished++;
    }
  }
}
