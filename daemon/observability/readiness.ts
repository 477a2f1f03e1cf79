// Named readiness conditions. /readyz is 200 only while every registered condition holds.
// Modules register theirs at start-up ("lease", "subnet-file", later "tun") and flip them.
// Notes report a degraded state that does not make the node unready (etcd unreachable: the data
// plane keeps forwarding on the lease and routes it has), so /readyz can say why without failing.

export interface ReadinessCondition {
  readonly name: string;
  set(ok: boolean): void;
}

export class Readiness {
  private readonly state = new Map<string, boolean>();
  private readonly noteSources: (() => string | undefined)[] = [];

  /** Adds a note source, read on every /readyz: a sentence while degraded, else undefined. */
  note(source: () => string | undefined): void {
    this.noteSources.push(source);
  }

  /** The current notes, in the order their sources were added. */
  notes(): string[] {
    return this.noteSources.map((s) => s()).filter((n): n is string => n !== undefined);
  }

  /** Registers a condition, initially not met. Names are unique. */
  register(name: string): ReadinessCondition {
    if (this.state.has(name)) throw new Error(`readiness condition ${name} registered twice`);
    this.state.set(name, false);
    return { name, set: (ok: boolean) => void this.state.set(name, ok) };
  }

  /** Conditions not currently met, in registration order. */
  missing(): string[] {
    return [...this.state].filter(([, ok]) => !ok).map(([name]) => name);
  }

  get ready(): boolean {
    return this.state.size > 0 && this.missing().length === 0;
  }
}
