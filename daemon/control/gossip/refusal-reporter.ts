// Counts mergeRoutes refusals and logs each distinct one once (a forged member re-gossiped every
// round must not flood the log).
import type { Logger } from 'pino';
import type { Refusal, RefusalReason } from './merge.js';

const MAX_REMEMBERED = 4_096;

export class RefusalReporter {
  /** Refusals seen per merge, summed over merges, by reason. */
  readonly counts: Record<RefusalReason, number> = { 'lease-conflict': 0, invalid: 0, 'gossip-conflict': 0 };
  private readonly logged = new Set<string>();

  constructor(private readonly logger: Logger) {}

  report(refused: readonly Refusal[]): void {
    for (const r of refused) {
      this.counts[r.reason]++;
      const key = `${r.reason}|${r.member}|${r.subnet}|${r.publicIp}`;
      if (this.logged.has(key)) continue;
      if (this.logged.size >= MAX_REMEMBERED) this.logged.clear();
      this.logged.add(key);
      this.logger.warn(
        { member: r.member, subnet: r.subnet, publicIP: r.publicIp, reason: r.reason, conflictsWith: r.conflictsWith },
        `gossip: not routing ${r.subnet} via ${r.publicIp} (member ${r.member}): ${r.reason}${r.conflictsWith ? ` with ${r.conflictsWith}` : ''}`,
      );
    }
  }
}
