// Named readiness conditions. /readyz is 200 only while every registered condition holds.
// Modules register theirs at start-up ("lease", "subnet-file", later "tun") and flip them.

export interface ReadinessCondition {
  readonly name: string;
  set(ok: boolean): void;
}

export class Readiness {
  private readonly state = new Map<string, boolean>();

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
