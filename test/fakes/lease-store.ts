// An in-memory LeaseStore on a FakeClock, for unit tests of the lease keeper and watcher. It keeps
// the etcd semantics the lease code relies on: one revision per write, conditional create /
// replace / delete, a new TTL lease per write whose expiry (or revocation) deletes its keys, and
// watches that get the full state first and again after an outage, then each change in order.
// Faults: down() makes every call reject as unreachable (GRPCUnavailableError, as the etcd client
// does) and holds watch delivery back; hang() makes every call wait for the etcd client's deadline
// (ETCD_CALL_TIMEOUT_MS on the fake clock) and then fail as unreachable; up() ends either and
// tells onReachable listeners. etcd keeps expiring leases meanwhile.
// Other writers: put() and remove() change a key as another node or an operator would.
// Leases are named by their LeaseSubnets (dual-stack) or, for short, by an IPv4 subnet alone.
import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import { ETCD_CALL_TIMEOUT_MS } from '../../daemon/control/etcd/etcd-client.js';
import type { KvChange, WatchSink } from '../../daemon/control/etcd/resilient-watch.js';
import type { Subnet4 } from '../../daemon/net/ipv4.js';
import { leaseKeyOf, listingOf, type LeaseListing, type LeaseStore, type LeaseSubnets, type LeaseWatch, type LeaseWatchHooks, type LeaseWatchTarget, type Written } from '../../daemon/control/lease/lease-store.js';
import type { FakeClock } from './clock.js';
import type { TimerHandle } from '../../daemon/clock.js';

type Entry = Omit<KvChange, 'type'>;
/** A lease's name: its subnets, or an IPv4 subnet alone. */
type Named = Subnet4 | LeaseSubnets;
const subnetsOf = (n: Named): LeaseSubnets => ('subnet' in n ? n : { subnet: n });

class FakeWatch implements LeaseWatch {
  started = false;
  closed = false;
  private firstList: (() => void) | undefined;

  constructor(
    private readonly store: FakeLeaseStore,
    readonly target: LeaseWatchTarget,
    readonly sink: WatchSink,
    private readonly hooks: LeaseWatchHooks,
  ) {}

  matches(key: string): boolean {
    return 'all' in this.target ? key.startsWith(`${this.store.subnetsPrefix}/`) : key === this.target.key;
  }

  start(): Promise<void> {
    this.started = true;
    const first = new Promise<void>((resolve) => (this.firstList = resolve));
    if (this.store.state === 'up') this.list();
    return first;
  }

  /** A listing reached the sink: the full state of the target. */
  list(): void {
    if (!this.started || this.closed) return;
    this.sink.reset(this.store.entries().filter((e) => this.matches(e.key)).map((e) => ({ type: 'put', ...e })), this.store.revisionNow);
    this.firstList?.();
    this.firstList = undefined;
    const hook = this.hooks.afterFirstList;
    if (hook) void hook();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.firstList?.();
    this.store.forget(this);
  }
}

export class FakeLeaseStore implements LeaseStore {
  readonly subnetsPrefix: string;
  state: 'up' | 'down' | 'hang' = 'up';
  /** Every call made, by name, in order. */
  readonly calls: string[] = [];
  private revision = 1;
  private nextLease = 1;
  private readonly kvs = new Map<string, Entry>();
  private readonly leases = new Map<string, TimerHandle>();
  private readonly watches = new Set<FakeWatch>();
  private readonly reachable = new Set<() => void>();

  constructor(
    private readonly clock: FakeClock,
    prefix = '/coreos.com/network',
  ) {
    this.subnetsPrefix = `${prefix}/subnets`;
  }

  get revisionNow(): string {
    return String(this.revision);
  }

  keyOf(subnet: Named): string {
    return leaseKeyOf(this.subnetsPrefix, subnetsOf(subnet));
  }

  /** Stored entries, in key order. */
  entries(): Entry[] {
    return [...this.kvs.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  get(subnet: Named): Entry | undefined {
    return this.kvs.get(this.keyOf(subnet));
  }

  /** etcd lease IDs granted and neither expired nor revoked. */
  liveLeases(): string[] {
    return [...this.leases.keys()];
  }

  list(): Promise<LeaseListing> {
    return this.call('list', () => listingOf(this.entries().filter((e) => e.key.startsWith(`${this.subnetsPrefix}/`)), this.revisionNow));
  }

  create(subnet: Named, value: string, ttlSec: number): Promise<Written | null> {
    return this.call('create', () => (this.kvs.has(this.keyOf(subnet)) ? null : this.write(subnet, value, ttlSec)));
  }

  async replace(subnet: Named, value: string, ttlSec: number, modRevision: string, previousLease?: string): Promise<Written | null> {
    return this.call('replace', () => {
      if (this.kvs.get(this.keyOf(subnet))?.modRevision !== modRevision) return null;
      const written = this.write(subnet, value, ttlSec);
      if (previousLease && previousLease !== written.leaseId) this.revoke(previousLease);
      return written;
    });
  }

  deleteIfUnchanged(subnet: Named, modRevision: string): Promise<boolean> {
    return this.call('deleteIfUnchanged', () => {
      const e = this.kvs.get(this.keyOf(subnet));
      if (e?.modRevision !== modRevision) return false;
      this.delete(e.key);
      return true;
    });
  }

  watch(target: LeaseWatchTarget, sink: WatchSink, hooks: LeaseWatchHooks = {}): LeaseWatch {
    const w = new FakeWatch(this, target, sink, hooks);
    this.watches.add(w);
    return w;
  }

  onReachable(fn: () => void): () => void {
    this.reachable.add(fn);
    return () => this.reachable.delete(fn);
  }

  /** Another writer puts `value` at `subnet` (no TTL lease unless `ttlSec`). */
  put(subnet: Named, value: string, ttlSec?: number): Entry {
    if (ttlSec !== undefined) this.write(subnet, value, ttlSec);
    else this.set({ key: this.keyOf(subnet), value, lease: '0', modRevision: String(++this.revision) });
    return this.kvs.get(this.keyOf(subnet))!;
  }

  /** Another writer deletes `subnet`. */
  remove(subnet: Named): void {
    this.delete(this.keyOf(subnet));
  }

  down(): void {
    this.state = 'down';
  }

  hang(): void {
    this.state = 'hang';
  }

  /** etcd answers again: watches list again, then onReachable listeners run. */
  up(): void {
    if (this.state === 'up') return;
    this.state = 'up';
    for (const w of this.watches) w.list();
    for (const fn of this.reachable) fn();
  }

  forget(w: FakeWatch): void {
    this.watches.delete(w);
  }

  private call<T>(name: string, op: () => T): Promise<T> {
    this.calls.push(name);
    if (this.state === 'down') return Promise.reject(new GRPCUnavailableError(`${name}: etcd unavailable (fake)`));
    if (this.state === 'hang') {
      return new Promise((_resolve, reject) => this.clock.setTimer('etcd-deadline', ETCD_CALL_TIMEOUT_MS, () => reject(new GRPCDeadlineExceededError(`${name}: deadline exceeded (fake)`))));
    }
    return Promise.resolve().then(op);
  }

  private write(subnet: Named, value: string, ttlSec: number): Written {
    const leaseId = String(this.nextLease++);
    const ttlMs = ttlSec * 1000;
    this.leases.set(leaseId, this.clock.setTimer('etcd-lease-expiry', ttlMs, () => this.revoke(leaseId)));
    const modRevision = String(++this.revision);
    this.set({ key: this.keyOf(subnet), value, lease: leaseId, modRevision });
    return { leaseId, modRevision, expiresAt: this.clock.now() + ttlMs, ttlMs };
  }

  /** Ends `leaseId` and deletes its keys, as etcd does on expiry or revocation. */
  private revoke(leaseId: string): void {
    this.leases.get(leaseId)?.cancel();
    this.leases.delete(leaseId);
    for (const e of [...this.kvs.values()]) if (e.lease === leaseId) this.delete(e.key);
  }

  private set(e: Entry): void {
    this.kvs.set(e.key, e);
    this.deliver({ type: 'put', ...e });
  }

  private delete(key: string): void {
    if (!this.kvs.delete(key)) return;
    this.deliver({ type: 'delete', key, value: '', lease: '0', modRevision: String(++this.revision) });
  }

  /** Changes reach watches asynchronously, and only while etcd answers (after an outage they list again). */
  private deliver(change: KvChange): void {
    if (this.state !== 'up') return;
    for (const w of this.watches) {
      if (!w.started || w.closed || !w.matches(change.key)) continue;
      queueMicrotask(() => {
        if (!w.closed && this.state === 'up') w.sink.apply([change]);
      });
    }
  }
}
