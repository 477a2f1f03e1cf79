// The LeaseStore weftd runs on: leases in etcd. Each write is a transaction with a compare:
//   create : If(Version(key) == 0)       Then(Put(key, value, lease))
//   replace: If(ModRevision(key) == rev) Then(Put(key, value, newLease))
// A new etcd lease is granted per write (as Flannel's updateSubnet); the previous one is revoked
// once the key has moved off it, and a grant whose write lost is revoked at once. Watches are
// ResilientWatch (list, watch from revision + 1, list again after any interruption).
import type { Etcd3 } from 'etcd3';
import type { Logger } from '../../observability/logger.js';
import type { EtcdHealth } from '../etcd/etcd-health.js';
import { listPrefix, ResilientWatch, type KvChange, type WatchSink } from '../etcd/resilient-watch.js';
import { leaseKeyOf, listingOf, type LeaseListing, type LeaseSubnets, type LeaseStore, type LeaseWatch, type LeaseWatchHooks, type LeaseWatchTarget, type Written } from './lease-store.js';

export interface EtcdLeaseStoreOptions {
  readonly client: Etcd3;
  /** --etcd-prefix. */
  readonly prefix: string;
  readonly health: EtcdHealth;
  /** Where watches report interruptions. */
  readonly log: Logger;
}

export class EtcdLeaseStore implements LeaseStore {
  readonly subnetsPrefix: string;
  private readonly client: Etcd3;
  private readonly health: EtcdHealth;

  constructor(private readonly o: EtcdLeaseStoreOptions) {
    this.client = o.client;
    this.health = o.health;
    this.subnetsPrefix = `${o.prefix}/subnets`;
  }

  keyOf(subnets: LeaseSubnets): string {
    return leaseKeyOf(this.subnetsPrefix, subnets);
  }

  async list(): Promise<LeaseListing> {
    const res = await this.health.run(() => listPrefix(this.client, `${this.subnetsPrefix}/`));
    const kvs: Omit<KvChange, 'type'>[] = res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), lease: String(kv.lease ?? '0'), modRevision: String(kv.mod_revision) }));
    return listingOf(kvs, res.revision);
  }

  async create(subnets: LeaseSubnets, value: string, ttlSec: number): Promise<Written | null> {
    const key = this.keyOf(subnets);
    return this.writeUnderNewLease(ttlSec, (leaseId) =>
      this.client.if(key, 'Version', '==', 0).then(this.client.put(key).value(value).lease(leaseId)).commit(),
    );
  }

  async replace(subnets: LeaseSubnets, value: string, ttlSec: number, modRevision: string, previousLease?: string): Promise<Written | null> {
    const key = this.keyOf(subnets);
    const written = await this.writeUnderNewLease(ttlSec, (leaseId) =>
      this.client.if(key, 'Mod', '==', modRevision).then(this.client.put(key).value(value).lease(leaseId)).commit(),
    );
    if (written && previousLease && previousLease !== '0' && previousLease !== written.leaseId) {
      await this.revoke(previousLease);
    }
    return written;
  }

  async deleteIfUnchanged(subnets: LeaseSubnets, modRevision: string): Promise<boolean> {
    const key = this.keyOf(subnets);
    const res = await this.health.run(() => this.client.if(key, 'Mod', '==', modRevision).then(this.client.delete().key(key)).commit());
    return res.succeeded;
  }

  watch(target: LeaseWatchTarget, sink: WatchSink, hooks?: LeaseWatchHooks): LeaseWatch {
    return new ResilientWatch(this.client, 'all' in target ? { prefix: `${this.subnetsPrefix}/` } : { key: target.key }, sink, this.health, this.o.log, hooks);
  }

  onReachable(fn: () => void): () => void {
    return this.health.onReachable(fn);
  }

  private async writeUnderNewLease(ttlSec: number, txn: (leaseId: string) => Promise<{ succeeded: boolean; header: { revision: string } }>): Promise<Written | null> {
    const before = Date.now();
    const grant = await this.health.run(() => this.client.leaseClient.leaseGrant({ TTL: ttlSec, ID: 0 }));
    // On an error the outcome is unknown (the put may have applied), so the grant is kept: the
    // caller lists again and finds the key by its PublicIP, or the unused lease expires.
    const res = await this.health.run(() => txn(grant.ID));
    if (!res.succeeded) {
      await this.revoke(grant.ID);
      return null;
    }
    const ttlMs = Number(grant.TTL) * 1000;
    return { leaseId: grant.ID, modRevision: res.header.revision, expiresAt: before + ttlMs, ttlMs };
  }

  /** Best effort: an unrevoked lease with no keys simply expires. */
  private async revoke(leaseId: string): Promise<void> {
    try {
      await this.health.run(() => this.client.leaseClient.leaseRevoke({ ID: leaseId }));
    } catch {
      // expires on its own
    }
  }
}
