// The seam between the lease logic (keeper, peer watcher, node lease) and where leases live.
// Flannel's layout: `<prefix>/subnets/10.244.1.0-24` (dual-stack `…-24&fd00:10:244:1::-64`, see
// net/subnet-key.ts) → lease JSON, attached to a lease with the configured TTL. A lease is named by
// its LeaseSubnets (IPv4 subnet and, dual-stack, IPv6 subnet). Every write is conditional, so two nodes can never both believe they hold one
// subnet:
//   create : only if the key is absent                      — Flannel createSubnet
//   replace: only if the key is unchanged since a revision  — renewal / reuse
// etcd-lease-store.ts is the implementation weftd runs on; test/fakes/ holds an in-memory one.
// A call that could not reach the store rejects with an error for which isUnreachableError()
// (etcd/etcd-health.ts) is true; any other rejection is the store refusing the request.
import type { KvChange, WatchSink } from '../etcd/resilient-watch.js';
import { decodeLeaseValue, type LeaseAttrs } from './lease-codec.js';
import type { Subnet4 } from '../../net/ipv4.js';
import type { Subnet6 } from '../../net/ipv6.js';
import { isNoSubnet4, leaseKeyName, parseLeaseKeyName, type LeaseSubnets } from '../../net/subnet-key.js';

export type { LeaseSubnets } from '../../net/subnet-key.js';

export interface StoredLease {
  readonly key: string;
  readonly subnet: Subnet4;
  /** The IPv6 subnet of a dual-stack lease. */
  readonly subnet6?: Subnet6 | undefined;
  readonly attrs: LeaseAttrs;
  /** Raw value as stored. */
  readonly value: string;
  /** etcd lease ID ("0" for a reservation without TTL). */
  readonly lease: string;
  readonly modRevision: string;
}

export interface SkippedKey {
  readonly key: string;
  readonly reason: string;
  /** The subnets named by the key, when the key itself is well-formed (no IPv4 one for an IPv6-only lease). */
  readonly subnet: Subnet4 | undefined;
  readonly subnet6?: Subnet6 | undefined;
}

export interface Written {
  readonly leaseId: string;
  readonly modRevision: string;
  /** Wall clock (ms since the epoch) by which the store will have expired the key unless renewed. */
  readonly expiresAt: number;
  /** The TTL granted (ms), counted from just before the write was sent. */
  readonly ttlMs: number;
}

export interface LeaseListing {
  readonly leases: StoredLease[];
  /** Unreadable entries, apart (their subnets still count as taken). */
  readonly skipped: SkippedKey[];
  readonly revision: string;
}

/** What to follow: every lease, or one lease key (full path, as keyOf gives). */
export type LeaseWatchTarget = { readonly all: true } | { readonly key: string };

/** A running watch: start() resolves once the first listing reached the sink (or on close). */
export interface LeaseWatch {
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface LeaseWatchHooks {
  /** Test seam: runs once, after the first listing and before the watch starts. */
  readonly afterFirstList?: () => Promise<void>;
}

export interface LeaseStore {
  /** `<prefix>/subnets`. */
  readonly subnetsPrefix: string;
  keyOf(subnets: LeaseSubnets): string;
  list(): Promise<LeaseListing>;
  /** Creates `subnet` under a new TTL lease if nobody holds it; null when the key exists (a lost race). */
  create(subnets: LeaseSubnets, value: string, ttlSec: number): Promise<Written | null>;
  /**
   * Rewrites `subnet` under a new TTL lease if it is unchanged since `modRevision`; null when it
   * changed or vanished. `previousLease` is released once the key has moved off it.
   */
  replace(subnets: LeaseSubnets, value: string, ttlSec: number, modRevision: string, previousLease?: string): Promise<Written | null>;
  /** Deletes `subnet` if unchanged since `modRevision`. */
  deleteIfUnchanged(subnets: LeaseSubnets, modRevision: string): Promise<boolean>;
  /**
   * Follows `target` without gaps: the sink gets the full state first and again after any
   * interruption (an outage, a compaction), and the changes in between, in order.
   */
  watch(target: LeaseWatchTarget, sink: WatchSink, hooks?: LeaseWatchHooks): LeaseWatch;
  /** Calls `fn` each time the store answers again after an outage; returns an unsubscribe function. */
  onReachable(fn: () => void): () => void;
}

/**
 * Decodes one entry under `<prefix>/subnets/`; a string says why it is unusable. An IPv6-only
 * lease (Flannel's `0.0.0.0-0&…` key) has subnet NO_SUBNET4 (isNoSubnet4): its 0.0.0.0/0 holds no
 * IPv4 address and must never become a route or count as taken.
 */
export function decodeStoredLease(kv: Omit<KvChange, 'type'>): StoredLease | string {
  const name = parseLeaseKeyName(kv.key);
  if (!name) return 'key is not of the form <ip>-<len> or <ip>-<len>&<ipv6>-<len>';
  const attrs = decodeLeaseValue(kv.value);
  if (typeof attrs === 'string') return attrs;
  return { key: kv.key, subnet: name.subnet, subnet6: name.subnet6, attrs, value: kv.value, lease: kv.lease, modRevision: kv.modRevision };
}

/** Sorts decoded entries into a listing. */
export function listingOf(kvs: readonly Omit<KvChange, 'type'>[], revision: string): LeaseListing {
  const leases: StoredLease[] = [];
  const skipped: SkippedKey[] = [];
  for (const kv of kvs) {
    const d = decodeStoredLease(kv);
    if (typeof d !== 'string') {
      leases.push(d);
      continue;
    }
    const name = parseLeaseKeyName(kv.key);
    skipped.push({ key: kv.key, reason: d, subnet: name && !isNoSubnet4(name.subnet) ? name.subnet : undefined, subnet6: name?.subnet6 });
  }
  return { leases, skipped, revision };
}

/** `<subnetsPrefix>/10.244.1.0-24`, dual-stack `<subnetsPrefix>/10.244.1.0-24&fd00:10:244:1::-64`. */
export function leaseKeyOf(subnetsPrefix: string, subnets: LeaseSubnets): string {
  return `${subnetsPrefix}/${leaseKeyName(subnets)}`;
}
