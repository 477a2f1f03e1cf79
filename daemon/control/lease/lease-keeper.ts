// The lease keeper: acquires this node's subnet lease, renews it before it expires, and takes it
// back if it is lost, without ever exiting.
//
//   acquire ──▶ held ──(expiresAt − margin)──▶ renew ──ok──▶ held
//                 ▲                              │ etcd down: retry (backoff 250 ms → 5 s,
//                 │                              │ woken at once when etcd answers again)
//                 └──── re-acquire ◀── key deleted / expired / changed by someone else
//
// Acquire (Flannel's tryAcquireLease, raceRetries = 10): list → allocator choice (our PublicIP's
// lease → previous subnet → random; dual-stack: both subnets at once, one key) → create-if-absent
// or replace-if-unchanged; a lost race lists again; while another live weftd holds our node name
// or our PublicIP's lease, nothing is taken (identity-guard.ts). Renewal grants a fresh etcd lease and rewrites the key with a compare on
// its mod revision (Flannel's updateSubnet, made conditional), then revokes the old etcd lease. This was chosen
// over KeepAlive because it is two unary calls with deadlines (no stream to babysit through an
// outage), it detects a key that was deleted or taken over atomically, and peers see a renewal
// exactly as Flannel peers do. Re-acquire prefers the subnet just lost. close() stops all work and
// keeps the lease in etcd, so a restart reuses it. All waiting runs on the injected clock, and
// etcd is reached only through the LeaseStore, so unit tests drive every path on fakes.
import { pause, type Clock, type TimerHandle } from '../../clock.js';
import { WeftError, errorMessage, isWeftError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import { Backoff } from '../etcd/backoff.js';
import { isUnreachableError } from '../etcd/etcd-health.js';
import type { KvChange } from '../etcd/resilient-watch.js';
import { chooseSubnet, sameSubnets, staleOwnLeases, type Allocation, type HeldSubnet } from './allocator.js';
import { formatCidr, type Subnet4 } from '../../net/ipv4.js';
import { formatCidr6, type Subnet6 } from '../../net/ipv6.js';
import { identityRefusal, type IdentityGuard } from './identity-guard.js';
import { encodeLeaseValue, leaseOwnerIp, type OwnLeaseAttrs } from './lease-codec.js';
import { isNoSubnet4 } from '../../net/subnet-key.js';
import type { LeaseStore, LeaseWatch, Written } from './lease-store.js';
import type { NetworkConfig } from './network-config.js';
import { LogEvent } from '../../observability/log-events.js';

/** Flannel's raceRetries: immediate re-lists after losing a create race, before backing off. */
export const RACE_RETRIES = 10;

export interface HeldLease {
  readonly subnet: Subnet4;
  /** Dual-stack: the IPv6 subnet held under the same key. */
  readonly subnet6?: Subnet6 | undefined;
  readonly key: string;
  readonly leaseId: string;
  readonly modRevision: string;
  /** Wall clock (ms since the epoch) at which etcd expires the key unless it is renewed. */
  readonly expiresAt: number;
  readonly how: Allocation['kind'];
}

export type KeeperEvent =
  | { readonly type: 'lost'; readonly lease: HeldLease; readonly reason: string }
  | { readonly type: 'acquired'; readonly lease: HeldLease; readonly previous: HeldLease | undefined }
  | { readonly type: 'renewed'; readonly lease: HeldLease };

export interface LeaseKeeperOptions {
  readonly store: LeaseStore;
  /** Renewal timers and retry backoff run on it (realClock in weftd). */
  readonly clock: Clock;
  readonly log: Logger;
  readonly network: NetworkConfig;
  readonly attrs: OwnLeaseAttrs;
  readonly ttlMs: number;
  readonly renewMarginMs: number;
  /** Subnet from the previous subnet file, preferred when free. */
  readonly previousSubnet: Subnet4 | undefined;
  /** Dual-stack: IPv6 subnet from the previous subnet file, preferred when free. */
  readonly previousSubnet6?: Subnet6 | undefined;
  /**
   * Asked before every acquisition whether a live weftd holds our node name or the lease holding
   * our public IP; if so the attempt is refused (guard.refused) and retried with backoff, leaving
   * the lease to its holder. Without it, leases are reused as Flannel does.
   */
  readonly identity?: IdentityGuard;
}

/** The subnets an acquisition prefers when they are free (the previous run's, or the ones just lost). */
export interface PreferredSubnets {
  readonly subnet: Subnet4 | undefined;
  readonly subnet6?: Subnet6 | undefined;
}

/** Log fields naming a lease's subnets (the IPv6 one alone for an IPv6-only lease). */
function subnetFields(l: { readonly subnet: Subnet4; readonly subnet6?: Subnet6 | undefined }): { subnet?: string; subnet6?: string } {
  const v4 = isNoSubnet4(l.subnet) ? {} : { subnet: formatCidr(l.subnet) };
  return l.subnet6 ? { ...v4, subnet6: formatCidr6(l.subnet6) } : v4;
}

function abortError(): WeftError {
  return new WeftError('WEFT_ERR_LEASE_LOST', 'stopped before a lease was acquired');
}

export class LeaseKeeper {
  private held: HeldLease | undefined;
  private readonly value: string;
  private readonly closed = new AbortController();
  private wake: AbortController | undefined;
  private renewTimer: TimerHandle | undefined;
  /** Clock time (clock.now()) at which the held lease is renewed. */
  private renewAt = 0;
  private ownWatch: LeaseWatch | undefined;
  private working: Promise<void> | undefined;
  private readonly listeners = new Set<(e: KeeperEvent) => void>();
  private lastError = '';
  /** Incremented on every acquisition; stale renewals and watch callbacks compare against it. */
  private generation = 0;
  private readonly unsubscribe: () => void;
  private renewals = 0;
  private failures = 0;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.value = encodeLeaseValue(o.attrs);
    this.unsubscribe = o.store.onReachable(() => this.wake?.abort());
  }

  get current(): HeldLease | undefined {
    return this.held;
  }

  /** Counters since start, for /metrics: renewals done, and renewal attempts that failed. */
  stats(): { renewals: number; failures: number } {
    return { renewals: this.renewals, failures: this.failures };
  }

  /** The lease value this node writes (byte-exact). */
  get leaseValue(): string {
    return this.value;
  }

  onEvent(fn: (e: KeeperEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Acquires the lease, retrying through etcd outages and subnet exhaustion (each distinct
   * problem logged once) until it succeeds or close() is called (then it throws).
   */
  async acquire(preferred: PreferredSubnets = { subnet: this.o.previousSubnet, subnet6: this.o.previousSubnet6 }): Promise<HeldLease> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    let races = 0;
    while (!this.closed.signal.aborted) {
      try {
        const got = await this.tryAcquire(preferred);
        if (got) {
          const held = got.lease;
          this.held = held;
          this.renewAt = got.renewAt;
          this.generation++;
          this.lastError = '';
          this.o.log.info({ event: LogEvent.leaseAcquired, ...subnetFields(held), how: held.how, key: held.key, leaseId: held.leaseId, ttlSec: this.o.ttlMs / 1000 }, 'lease acquired');
          return held;
        }
        races++;
        this.o.log.info({ event: LogEvent.leaseRaceLost, attempt: races }, 'lost a race for a subnet; listing again');
        if (races < RACE_RETRIES) continue;
        races = 0;
        this.report(new WeftError('WEFT_ERR_LEASE_CONFLICT', `lost ${RACE_RETRIES} races for a free subnet in a row; backing off`));
      } catch (err) {
        this.failures++;
        if (!isWeftError(err, 'WEFT_ERR_IDENTITY_CONFLICT')) this.report(err);
      }
      await this.pause(backoff.next());
    }
    throw abortError();
  }

  /**
   * Takes `lease` (held before a restart, from the state cache) as held without asking etcd.
   * start() then renews it at once, retrying until etcd answers: a renewal that succeeds proves it
   * is still ours; one that finds the key changed or gone re-acquires (same subnet preferred).
   */
  adopt(lease: HeldLease): void {
    this.held = lease;
    this.renewAt = this.o.clock.now();
    this.generation++;
    this.o.log.info({ ...subnetFields(lease), key: lease.key, leaseExpiry: new Date(lease.expiresAt).toISOString() }, 'lease taken from the state cache; verifying it with etcd when etcd answers');
  }

  /** Starts renewal and the watch on our own key. Call once, after acquire() or adopt(). */
  start(): void {
    if (!this.held || this.closed.signal.aborted) return;
    this.scheduleRenewal();
    this.watchOwnKey();
  }

  /** Stops renewing and watching; the lease stays in etcd until its TTL runs out. */
  async close(): Promise<void> {
    this.closed.abort();
    this.wake?.abort();
    this.unsubscribe();
    this.renewTimer?.cancel();
    await this.ownWatch?.close();
    await this.working?.catch(() => undefined);
    this.listeners.clear();
  }

  private emit(e: KeeperEvent): void {
    for (const l of this.listeners) l(e);
  }

  private report(err: unknown): void {
    if (isUnreachableError(err)) return void this.o.log.debug({ err: errorMessage(err) }, 'lease attempt failed: etcd unreachable');
    const message = errorMessage(err);
    if (message === this.lastError) return;
    this.lastError = message;
    if (isWeftError(err)) this.o.log.error({ code: err.code }, message);
    else this.o.log.warn({ err: message }, 'etcd refused a lease request; retrying');
  }

  private async pause(ms: number): Promise<void> {
    this.wake = new AbortController();
    await pause(this.o.clock, 'lease-retry', ms, AbortSignal.any([this.closed.signal, this.wake.signal]));
  }

  private async tryAcquire(preferred: PreferredSubnets): Promise<{ lease: HeldLease; renewAt: number } | null> {
    const { store, network, attrs } = this.o;
    const { leases, skipped } = await store.list();
    for (const s of skipped) this.o.log.warn({ key: s.key, reason: s.reason }, 'ignoring unreadable lease (its subnet still counts as taken)');
    // An IPv6-only lease's NO_SUBNET4 holds no IPv4 subnet; each lease is owned by leaseOwnerIp.
    const held: HeldSubnet[] = leases.map((l) => ({ subnet: isNoSubnet4(l.subnet) ? undefined : l.subnet, subnet6: l.subnet6, publicIp: leaseOwnerIp(l.attrs) }));
    for (const s of skipped) if (s.subnet || s.subnet6) held.push({ subnet: s.subnet, subnet6: s.subnet6, publicIp: '' });
    const self = leaseOwnerIp(attrs);
    for (const stale of staleOwnLeases({ config: network, leases: held, publicIp: self })) {
      const i = held.indexOf(stale);
      const l = i < leases.length ? leases[i] : undefined;
      if (!l) continue;
      this.o.log.info(subnetFields(l), 'deleting our old lease that no longer fits the network config');
      await store.deleteIfUnchanged(l, l.modRevision);
      held.splice(held.indexOf(stale), 1);
    }
    const choice = chooseSubnet({ config: network, leases: held, publicIp: self, previousSubnet: preferred.subnet, previousSubnet6: preferred.subnet6, subnetsPrefix: store.subnetsPrefix });
    const refusal = this.o.identity && (await identityRefusal(leases, attrs, choice.kind === 'reuse-public-ip' ? choice : undefined, this.o.identity));
    if (refusal) {
      this.o.identity?.refused(refusal.kind, refusal.holder);
      throw new WeftError('WEFT_ERR_IDENTITY_CONFLICT', `${refusal.kind}: ${refusal.holder.name} at ${refusal.holder.publicIp} is alive`);
    }
    const ttlSec = Math.round(this.o.ttlMs / 1000);
    const sent = this.o.clock.now();
    const subnets = { subnet: choice.subnet, subnet6: choice.subnet6 };
    let written;
    if (choice.kind === 'reuse-public-ip') {
      const existing = leases.find((l) => sameSubnets(l, subnets));
      if (!existing) return null;
      written = await store.replace(subnets, this.value, ttlSec, existing.modRevision, existing.lease);
    } else {
      written = await store.create(subnets, this.value, ttlSec);
    }
    if (!written) return null;
    const lease: HeldLease = { ...subnets, key: store.keyOf(subnets), leaseId: written.leaseId, modRevision: written.modRevision, expiresAt: written.expiresAt, how: choice.kind };
    return { lease, renewAt: this.renewTimeOf(sent, written) };
  }

  /** When a lease written at clock time `sent` is renewed: `renewMarginMs` before it expires. */
  private renewTimeOf(sent: number, written: Written): number {
    return sent + written.ttlMs - this.o.renewMarginMs;
  }

  private scheduleRenewal(): void {
    if (!this.held || this.closed.signal.aborted) return;
    this.renewTimer?.cancel();
    const delay = Math.max(0, this.renewAt - this.o.clock.now());
    this.renewTimer = this.o.clock.setTimer('lease-renew', delay, () => this.run(() => this.renew()));
  }

  /** Serialises renewal and re-acquisition. */
  private run(job: () => Promise<void>): void {
    const prev = this.working ?? Promise.resolve();
    this.working = prev.then(job).catch((err) => this.o.log.error({ err: errorMessage(err) }, 'lease keeper job failed'));
  }

  private async renew(): Promise<void> {
    const backoff = new Backoff({ initialMs: 250, maxMs: 5_000 });
    const generation = this.generation;
    while (!this.closed.signal.aborted && generation === this.generation) {
      const held = this.held;
      if (!held) return;
      try {
        const sent = this.o.clock.now();
        const written = await this.o.store.replace(held, this.value, Math.round(this.o.ttlMs / 1000), held.modRevision, held.leaseId);
        if (!written) return this.reacquire('the lease key changed or vanished before renewal', generation);
        this.held = { ...held, leaseId: written.leaseId, modRevision: written.modRevision, expiresAt: written.expiresAt };
        this.renewAt = this.renewTimeOf(sent, written);
        this.lastError = '';
        this.renewals++;
        this.o.log.info({ event: LogEvent.leaseRenewed, ...subnetFields(held), leaseId: written.leaseId, leaseExpiry: new Date(written.expiresAt).toISOString() }, 'lease renewed');
        this.emit({ type: 'renewed', lease: this.held });
        this.scheduleRenewal();
        return;
      } catch (err) {
        this.failures++;
        this.report(err);
      }
      await this.pause(backoff.next());
    }
  }

  private async reacquire(reason: string, generation: number): Promise<void> {
    const lost = this.held;
    if (!lost || generation !== this.generation || this.closed.signal.aborted) return;
    this.renewTimer?.cancel();
    this.held = undefined;
    const watch = this.ownWatch;
    this.ownWatch = undefined;
    this.o.log.warn({ event: LogEvent.leaseLost, ...subnetFields(lost), reason }, 'lease lost; re-acquiring, preferring the same subnet');
    this.emit({ type: 'lost', lease: lost, reason });
    await watch?.close();
    let held: HeldLease;
    try {
      held = await this.acquire(lost);
    } catch {
      return;
    }
    if (!sameSubnets(held, lost)) this.o.log.warn({ event: LogEvent.subnetChanged, from: subnetFields(lost), to: subnetFields(held) }, 'subnet changed on re-acquire');
    this.emit({ type: 'acquired', lease: held, previous: lost });
    this.scheduleRenewal();
    this.watchOwnKey();
  }

  private watchOwnKey(): void {
    const held = this.held;
    if (!held) return;
    const generation = this.generation;
    const onState = (present: KvChange | undefined): void => {
      if (generation !== this.generation) return;
      if (!present) return this.run(() => this.reacquire('the lease key was deleted or its etcd lease expired', generation));
      if (present.value !== this.value) this.o.log.warn({ key: held.key }, 'our lease key was overwritten by another writer; the next renewal will take it back or re-acquire');
    };
    const watch = this.o.store.watch(
      { key: held.key },
      {
        reset: (kvs) => onState(kvs[0]),
        apply: (changes) => onState(changes[changes.length - 1].type === 'delete' ? undefined : changes[changes.length - 1]),
      },
    );
    this.ownWatch = watch;
    void watch.start();
  }
}
