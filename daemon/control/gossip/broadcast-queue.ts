// Updates waiting to be piggybacked (memberlist's TransmitLimitedQueue). Each update is sent at most
// `retransmitLimit(n)` = mult × ⌈log10(n + 1)⌉ times, least-sent first, ALIVE records first among
// those sent as often (a refutation races a suspicion timeout; during a storm of failures it must
// not wait behind newer suspicions), then newest first; a newer update about the same member
// replaces the older one and starts its count again.
import type { MemberRecord } from './types.js';

interface Pending {
  record: MemberRecord;
  transmits: number;
  /** Insertion order, so that among equals the newest goes first. */
  seq: number;
}

export function retransmitLimit(mult: number, members: number): number {
  return Math.max(1, mult * Math.ceil(Math.log10(members + 1)));
}

export class BroadcastQueue {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;

  get size(): number {
    return this.pending.size;
  }

  enqueue(record: MemberRecord): void {
    this.pending.set(record.name, { record: { ...record }, transmits: 0, seq: ++this.seq });
  }

  /** Up to `max` updates for one outgoing message; each counts as one transmission. */
  take(max: number, limit: number): MemberRecord[] {
    if (this.pending.size === 0 || max <= 0) return [];
    const chosen = [...this.pending.values()]
      .sort((a, b) => a.transmits - b.transmits || Number(b.record.state === 'alive') - Number(a.record.state === 'alive') || b.seq - a.seq)
      .slice(0, max);
    for (const p of chosen) {
      p.transmits++;
      if (p.transmits >= limit) this.pending.delete(p.record.name);
    }
    return chosen.map((p) => p.record);
  }

  /** True when some pending update has been sent fewer than `transmits` times. */
  hasFresh(transmits: number): boolean {
    for (const p of this.pending.values()) if (p.transmits < transmits) return true;
    return false;
  }

  /** Transmissions so far of the pending update about `name` (undefined when none is pending). */
  transmits(name: string): number | undefined {
    return this.pending.get(name)?.transmits;
  }

  clear(): void {
    this.pending.clear();
  }
}
