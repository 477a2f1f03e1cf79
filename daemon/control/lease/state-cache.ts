// What weftd needs to come back while etcd is away, kept in `<state dir>/weft-state.json`: the
// network config, the lease this node holds (with its expiry) and the peers' leases (which carry
// their gossip endpoints). Saved whenever one of them changes, atomically (writeFileAtomic), so
// a crash leaves the previous or the next version, never a torn one. Read once at start: a file
// that is missing, unreadable, of another version or whose lease has expired is not used (the
// reason is returned for the log). The IPv6 half (bigints: the IPv6 pool, a lease's subnet6) is
// written as {"$bigint":"<decimal>"} and read back as bigint.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../../errors.js';
import { writeFileAtomic } from '../write-file-atomic.js';
import { isJsonObject } from './go-json.js';
import type { HeldLease } from './lease-keeper.js';
import type { PeerLease, PeerSnapshot } from './lease-watcher.js';
import type { NetworkConfig } from './network-config.js';

export const STATE_CACHE_FILE = 'weft-state.json';
const STATE_CACHE_VERSION = 1;

export interface CachedState {
  readonly network: NetworkConfig;
  readonly lease: HeldLease;
  readonly peers: readonly PeerLease[];
}

export type LoadResult = { readonly state: CachedState; readonly savedAt: string } | { readonly state: undefined; readonly reason: string };

export class StateCache {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = join(dir, STATE_CACHE_FILE);
  }

  /** Writes `state` atomically; throws on I/O errors (the caller logs them and carries on). */
  save(state: CachedState): void {
    const body = { version: STATE_CACHE_VERSION, savedAt: new Date().toISOString(), network: state.network, lease: state.lease, peers: state.peers };
    writeFileAtomic(this.file, `${JSON.stringify(body, (_k, x: unknown) => (typeof x === 'bigint' ? { $bigint: x.toString() } : x))}\n`, { mode: 0o600 });
  }

  /** The cached state if it can be used at `now` (wall clock, ms): present, valid, lease unexpired. */
  load(now = Date.now()): LoadResult {
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(this.file, 'utf8'), (_k, x: unknown) => (isJsonObject(x) && typeof x.$bigint === 'string' && /^[0-9]+$/.test(x.$bigint) ? BigInt(x.$bigint) : x));
    } catch (err) {
      return { state: undefined, reason: (err as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${this.file}` : `${this.file} unreadable: ${errorMessage(err)}` };
    }
    if (!isJsonObject(v) || v.version !== STATE_CACHE_VERSION) return { state: undefined, reason: `${this.file} is not a version ${STATE_CACHE_VERSION} state file` };
    const { network, lease, peers, savedAt } = v;
    if (!isNetwork(network) || !isLease(lease) || !Array.isArray(peers) || !peers.every(isPeer)) return { state: undefined, reason: `${this.file} is malformed` };
    if (lease.expiresAt <= now) return { state: undefined, reason: `the cached lease expired at ${new Date(lease.expiresAt).toISOString()}` };
    const backend = { ...network.backend, mtu: typeof network.backend.mtu === 'number' ? network.backend.mtu : undefined };
    return { state: { network: { ...network, backend }, lease, peers }, savedAt: typeof savedAt === 'string' ? savedAt : '' };
  }
}

export function snapshotOf(peers: readonly PeerLease[]): PeerSnapshot {
  return new Map(peers.map((p) => [p.subnetKey, Object.freeze({ ...p })]));
}

function isSubnet(v: unknown): boolean {
  return isJsonObject(v) && typeof v.base === 'number' && typeof v.len === 'number';
}

function isSubnet6(v: unknown): boolean {
  return isJsonObject(v) && typeof v.base === 'bigint' && typeof v.len === 'number';
}

function isPool6(v: unknown): boolean {
  return v === undefined || (isJsonObject(v) && isSubnet6(v.network) && typeof v.subnetLen === 'number' && typeof v.subnetMin === 'bigint' && typeof v.subnetMax === 'bigint');
}

function isNetwork(v: unknown): v is NetworkConfig {
  if (!isJsonObject(v) || !isSubnet(v.network) || !isJsonObject(v.backend) || !isPool6(v.ipv6)) return false;
  const b = v.backend;
  return typeof v.subnetLen === 'number' && typeof v.subnetMin === 'number' && typeof v.subnetMax === 'number' && b.type === 'vxlan' && typeof b.vni === 'number' && typeof b.port === 'number';
}

function isLease(v: unknown): v is HeldLease {
  return isJsonObject(v) && isSubnet(v.subnet) && (v.subnet6 === undefined || isSubnet6(v.subnet6)) && typeof v.key === 'string' && typeof v.leaseId === 'string' && typeof v.modRevision === 'string' && typeof v.expiresAt === 'number' && typeof v.how === 'string';
}

function isPeer(v: unknown): v is PeerLease {
  return isJsonObject(v) && typeof v.subnetKey === 'string' && isSubnet(v.subnet) && typeof v.publicIp === 'string' && typeof v.vni === 'number' && typeof v.vtepMac === 'string';
}
