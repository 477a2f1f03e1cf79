// Two live weftd claiming one node name or one public IP: each distinct conflict is logged once,
// as an error naming both sides and what the operator must do, and counted by kind for
// weft_identity_conflicts_total. Found by the lease keeper before it takes a subnet (the holder
// answers gossip) and by gossip while running (another process refutes this node's refutations).
import type { Logger } from '../observability/logger.js';
import type { IdentityGuard, IdentityKind, LeaseHolder } from './lease/identity-guard.js';
import { LogEvent } from '../observability/log-events.js';

/** One side of a conflict. */
export interface Claimant {
  readonly name: string;
  readonly publicIp: string;
  /** "10.244.1.0/24"; undefined while this node holds no lease yet. */
  readonly subnet?: string | undefined;
}

export interface IdentityConflict {
  readonly kind: IdentityKind;
  /** This weftd. */
  readonly self: Claimant;
  /** The other live process. */
  readonly other: Claimant;
  /** What happens now and what the operator must do, one sentence each. */
  readonly message: string;
}

const MAX_REMEMBERED = 1_024;

export class IdentityConflicts {
  /** Distinct conflicts found since start, by kind. */
  readonly counts: Record<IdentityKind, number> = { node_name: 0, public_ip: 0 };
  /** Lease attempts refused for a conflict, by kind: every attempt, where `counts` has each conflict once. */
  readonly refusals: Record<IdentityKind, number> = { node_name: 0, public_ip: 0 };
  private readonly seen = new Set<string>();

  constructor(private readonly log: Logger) {}

  /** Logs and counts `c` unless this conflict (kind and both sides) was reported before. */
  report(c: IdentityConflict): void {
    const side = (x: Claimant): string => `${x.name}@${x.publicIp}/${x.subnet ?? ''}`;
    const key = `${c.kind} ${side(c.self)} ${side(c.other)}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_REMEMBERED) this.seen.clear();
    this.seen.add(key);
    this.counts[c.kind]++;
    this.log.error({ event: LogEvent.identityConflict, kind: c.kind, self: c.self, other: c.other }, c.message);
  }
}

/** "node1 at 198.18.0.1 (subnet 10.244.1.0/24)" */
function describeClaimant(c: Claimant): string {
  return `${c.name} at ${c.publicIp}${c.subnet ? ` (subnet ${c.subnet})` : ''}`;
}

/** The lease keeper's guard: asks `alive`, and reports each refusal here with what to do. */
export function leaseIdentityGuard(conflicts: IdentityConflicts, self: Claimant, alive: (h: LeaseHolder) => Promise<boolean>): IdentityGuard {
  return {
    alive,
    refused(kind, h) {
      conflicts.refusals[kind]++;
      const other: Claimant = { name: h.name, publicIp: h.publicIp, subnet: h.subnet };
      const message =
        kind === 'public_ip'
          ? `public IP ${h.publicIp} is already used by the live weftd ${describeClaimant(other)}: this weftd (${self.name}) will not take over its subnet and waits, not ready. ` +
            `Give ${self.name} its own address (--public-ip, --iface), or stop ${h.name} first if ${self.name} is meant to replace it`
          : `node name ${h.name} is already used by the live weftd at ${h.publicIp} (subnet ${h.subnet}): this weftd at ${self.publicIp} will not join under the same name and waits, not ready. ` +
            'Give it a unique --node-name (the default is the hostname), or stop the other one first';
      conflicts.report({ kind, self, other, message });
    },
  };
}

/** For gossip's onNameConflict: another live process announces this node's name. */
export function reportNameConflict(conflicts: IdentityConflicts, self: Claimant, other: Claimant): void {
  conflicts.report({
    kind: 'node_name',
    self,
    other,
    message:
      `node name ${self.name} is claimed by two live weftd, this one at ${self.publicIp}${self.subnet ? ` (subnet ${self.subnet})` : ''} and ${describeClaimant({ ...other, name: 'another' })}; ` +
      'gossip cannot tell them apart (they keep refuting each other) and both are routed from their leases alone. Give one of them a unique --node-name and restart it',
  });
}
