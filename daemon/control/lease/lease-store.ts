// Subnet leases in etcd, Flannel's layout: `<prefix>/subnets/10.244.1.0-24` → lease JSON,
// attached to an etcd lease with the configured TTL. Every write is a transaction with a
// compare, so two nodes can never both believe they hold one subnet:
//   create : If(Version(key) == 0)       Then(Put(key, value, lease))   — Flannel createSubnet
//   replace: If(ModRevision(key) == rev) Then(Put(key, value, newLease)) — renewal / reuse
// A new etcd lease is granted per write (as Flannel's updateSubnet); the previous one is revoked
// once the key has moved off it, and a grant whose write lost is revoked at once.
import type { Etcd3, IKeyValue } from 'etcd3';
import type { EtcdHealth } from '../etcd/etcd-health.js';
import { decodeLeaseValue, type LeaseAttrs } from './lease-codec.js';
import { parseSubnetKeyName, subnetKeyName, type Subnet4 } from '../../net/ipv4.js';

export interface StoredLease {
  readonly key: string;
  readonly subnet: Subnet4;
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
  /** The subnet named by the key, when the key itself is well-formed. */
  readonly subnet: Subnet4 | undefined;
}

export interface Written {
  readonly leaseId: string;
  readonly modRevision: string;
  /** Local clock (ms) by which etcd will have expired the key unless renewed. */
  readonly expiresAt: number;
}

export class LeaseStore {
  readonly subnetsPrefix: string;

  constructor(
    private readonly client: Etcd3,
    readonly prefix: string,
    private readonly health: EtcdHealth,
  ) {
    this.subnetsPrefix = `${prefix}/subnets`;
  }

  keyOf(subnet: Subnet4): string {
    return `${this.subnetsPrefix}/${subnetKeyName(subnet)}`;
  }

  /** Decodes one key/value under `<prefix>/subnets/`; a string says why it is unusable. */
  decode(key: string, value: string, lease: string, modRevision: string): StoredLease | string {
    const subnet = parseSubnetKeyName(key);
    if (!subnet) return 'key is not of the form <ip>-<len>';
    const attrs = decodeLeaseValue(value);
    if (typeof attrs === 'string') return attrs;
    return { key, subnet, attrs, value, lease, modRevision };
  }

  /** All leases, with the revision of the listing. Unreadable entries are returned apart. */
  async list(): Promise<{ leases: StoredLease[]; skipped: SkippedKey[]; revision: string }> {
    const res = await this.health.run(() => this.client.getAll().prefix(`${this.subnetsPrefix}/`).exec());
    const leases: StoredLease[] = [];
    const skipped: SkippedKey[] = [];
    for (const kv of res.kvs) {
      const d = this.decodeKv(kv);
      if (typeof d === 'string') skipped.push({ key: kv.key.toString('utf8'), reason: d, subnet: parseSubnetKeyName(kv.key.toString('utf8')) ?? undefined });
      else leases.push(d);
    }
    return { leases, skipped, revision: res.header.revision };
  }

  /** Creates `subnet` if nobody holds it; null when the key exists (a lost race). */
  async create(subnet: Subnet4, value: string, ttlSec: number): Promise<Written | null> {
    const key = this.keyOf(subnet);
    return this.writeUnderNewLease(ttlSec, (leaseId) =>
      this.client.if(key, 'Version', '==', 0).then(this.client.put(key).value(value).lease(leaseId)).commit(),
    );
  }

  /** Rewrites `subnet` if it is unchanged since `modRevision`; null when it changed or vanished. */
  async replace(subnet: Subnet4, value: string, ttlSec: number, modRevision: string, previousLease?: string): Promise<Written | null> {
    const key = this.keyOf(subnet);
    const written = await this.writeUnderNewLease(ttlSec, (leaseId) =>
      this.client.if(key, 'Mod', '==', modRevision).then(this.client.put(key).value(value).lease(leaseId)).commit(),
    );
    if (written && previousLease && previousLease !== '0' && previousLease !== written.leaseId) {
      await this.revoke(previousLease);
    }
    return written;
  }

  /** Deletes `subnet` if unchanged since `modRevision`. */
  async deleteIfUnchanged(subnet: Subnet4, modRevision: string): Promise<boolean> {
    const key = this.keyOf(subnet);
    const res = await this.health.run(() => this.client.if(key, 'Mod', '==', modRevision).then(this.client.delete().key(key)).commit());
    return res.succeeded;
  }

  /** Remaining TTL (s) of an etcd lease; -1 when it no longer exists. */
  async timeToLive(leaseId: string): Promise<number> {
    const res = await this.health.run(() => this.client.leaseClient.leaseTimeToLive({ ID: leaseId, keys: false }));
    return Number(res.TTL);
  }

  private decodeKv(kv: IKeyValue): StoredLease | string {
    return this.decode(kv.key.toString('utf8'), kv.value.toString('utf8'), String(kv.lease ?? '0'), String(kv.mod_revision));
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
    return { leaseId: grant.ID, modRevision: res.header.revision, expiresAt: before + Number(grant.TTL) * 1000 };
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
