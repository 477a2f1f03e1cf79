// While running: a live member announcing this node's public IP under another name, i.e. a second
// process configured with our --public-ip that got past the lease keeper's check (both started at
// once, or the keeper could not reach us). A record at our IP may also be this node's own earlier
// run under another name (renamed after a crash); probes for it reach us and are refused, so it
// turns dead within the suspicion time. A claim is therefore reported (IdentityConflicts, kind
// public_ip) only after it stayed alive or suspect for confirmMs.
import type { MemberView } from './gossip/index.js';
import type { Claimant, IdentityConflicts } from './identity-conflicts.js';

/** Longer than any suspicion (suspicionMaxMult × timeout, a few seconds by default). */
const PUBLIC_IP_CONFIRM_MS = 15_000;

export interface PublicIpWatchOptions {
  readonly self: Claimant;
  readonly members: () => readonly MemberView[];
  readonly conflicts: IdentityConflicts;
  readonly confirmMs?: number;
}

export class PublicIpWatch {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly reported = new Set<string>();

  constructor(private readonly o: PublicIpWatchOptions) {}

  /** Call after every membership change. */
  update(): void {
    const claims = new Set(this.claimants().map((m) => m.name));
    for (const [name, timer] of this.pending) {
      if (claims.has(name)) continue;
      clearTimeout(timer);
      this.pending.delete(name);
    }
    for (const name of claims) {
      if (this.pending.has(name) || this.reported.has(name)) continue;
      const timer = setTimeout(() => this.confirm(name), this.o.confirmMs ?? PUBLIC_IP_CONFIRM_MS);
      timer.unref();
      this.pending.set(name, timer);
    }
  }

  close(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }

  private claimants(): readonly MemberView[] {
    const { self } = this.o;
    return this.o.members().filter((m) => m.publicIp === self.publicIp && m.name !== self.name && (m.state === 'alive' || m.state === 'suspect'));
  }

  private confirm(name: string): void {
    this.pending.delete(name);
    const m = this.claimants().find((x) => x.name === name);
    if (!m) return;
    this.reported.add(name);
    const { self } = this.o;
    this.o.conflicts.report({
      kind: 'public_ip',
      self,
      other: { name: m.name, publicIp: m.publicIp, subnet: m.subnet },
      message:
        `public IP ${self.publicIp} is claimed by two live weftd, this one (${self.name}${self.subnet ? `, subnet ${self.subnet}` : ''}) and ${m.name} (subnet ${m.subnet}); ` +
        `VXLAN for both goes to whichever machine owns ${self.publicIp}. Give the one that does not own it its own address (--public-ip, --iface) and restart it`,
    });
  }
}
