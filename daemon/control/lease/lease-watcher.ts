// Peer leases: every other node's subnet lease, as an immutable snapshot that is replaced (never
// mutated) on each change, and as the changes themselves. Consumers subscribe with
// onChange(snapshot) (and may keep the map they are given: a copy, O(peers) per change) or with
// onPeerChanges(changes) (the peers upserted and removed: O(1) per lease changed, which the route
// path uses so that one lease written among thousands costs little).
//
// Follows `<prefix>/subnets/` through the LeaseStore's watch (list, watch from revision + 1, list
// again after compaction or any stream failure and diff). Leases whose BackendType is not "vxlan" are left out
// with one log line per lease (as Flannel: "ignoring non-vxlan subnet"), as are unreadable ones.
// Our own subnet is left out; setOwnKey() updates it when the keeper re-acquires.
import { LogEvent } from '../../observability/log-events.js';
import type { Logger } from '../../observability/logger.js';
import type { KvChange } from '../etcd/resilient-watch.js';
import { DEFAULT_VNI } from '../../dataplane/constants.js';
import { formatCidr, type Subnet4 } from '../../net/ipv4.js';
import { formatIpv6, parseIpv6, sameSubnet6, type Subnet6 } from '../../net/ipv6.js';
import type { LeaseAttrs } from './lease-codec.js';
import { decodeStoredLease, type LeaseStore, type LeaseWatch, type LeaseWatchHooks } from './lease-store.js';
import { normalizeMac } from '../../net/mac.js';
import { isNoSubnet4 } from '../../net/subnet-key.js';

/** One peer's lease, as the data plane needs it. */
export interface PeerLease {
  /** etcd key name, e.g. `10.244.2.0-24`. */
  readonly subnetKey: string;
  readonly subnet: Subnet4;
  readonly publicIp: string;
  readonly vni: number;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  readonly vtepMac: string;
  /** Present for weft nodes; undefined for Flannel nodes. */
  readonly gossipPort: number | undefined;
  readonly nodeName: string | undefined;
  /** The node accepts checksum-elided frames (weft only). */
  readonly csumElision?: boolean;
  /** A dual-stack lease's IPv6 half, when it names a usable IPv6 VTEP (for the IPv6 data path to come). */
  readonly v6?: PeerVtep6;
}

/** A peer's IPv6 subnet and VTEP: PublicIPv6 (formatIpv6 form) and BackendV6Data. */
export interface PeerVtep6 {
  readonly subnet: Subnet6;
  readonly publicIp: string;
  readonly vni: number;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  readonly vtepMac: string;
}

export type PeerSnapshot = ReadonlyMap<string, PeerLease>;

/** What one watch event (or a listing after an outage: `resync`) changed. */
export interface PeerChanges {
  /** Peers added or with a field changed. */
  readonly upserted: readonly PeerLease[];
  /** subnetKeys of peers gone (lease deleted or expired, now unreadable, or now our own). */
  readonly removed: readonly string[];
  /** A listing replaced everything known (start, compaction, stream failure): consumers may want to resync. */
  readonly resync: boolean;
}

export interface LeaseWatcherOptions {
  readonly store: LeaseStore;
  readonly log: Logger;
  /** Our own lease key (full path), excluded from snapshots. */
  readonly ownKey: string | undefined;
  /** Served (e.g. from the state cache) until etcd's first listing replaces it. */
  readonly initial?: PeerSnapshot;
  readonly hooks?: LeaseWatchHooks;
  /**
   * An IPv6-only network: IPv6-only leases are peers (their vtepMac is BackendV6Data's, their
   * publicIp Flannel's 0.0.0.0), and a lease without a usable IPv6 VTEP is left out.
   */
  readonly ipv6Only?: boolean;
}

export class LeaseWatcher {
  private all = new Map<string, KvChange>();
  /** Full key → the peer its value decodes to (our own key and ignored leases absent). */
  private readonly peers = new Map<string, PeerLease>();
  /** The published snapshot, copied from `peers` on demand. */
  private snap: PeerSnapshot | undefined;
  private listed = false;
  private ownKey: string | undefined;
  private readonly listeners = new Set<(s: PeerSnapshot) => void>();
  private readonly changeListeners = new Set<(c: PeerChanges) => void>();
  /** Keys (with mod revision) already reported as ignored, so each is logged once. */
  private readonly reported = new Set<string>();
  private readonly watch: LeaseWatch;

  constructor(private readonly o: LeaseWatcherOptions) {
    this.ownKey = o.ownKey;
    this.snap = o.initial ?? new Map();
    this.watch = o.store.watch(
      { all: true },
      {
        reset: (kvs) => {
          const served = this.snap ?? this.snapshot();
          this.listed = true;
          this.all = new Map(kvs.map((kv) => [kv.key, kv]));
          this.peers.clear();
          for (const kv of this.all.values()) this.decode(kv.key);
          const changes = diff(served, this.peers);
          this.publish({ ...changes, resync: true });
        },
        apply: (changes) => {
          const acc = { upserted: new Map<string, PeerLease>(), removed: new Set<string>() };
          for (const c of changes) {
            if (c.type === 'delete') this.all.delete(c.key);
            else this.all.set(c.key, c);
            this.refresh(c.key, acc);
          }
          this.publish({ upserted: [...acc.upserted.values()], removed: [...acc.removed], resync: false });
        },
      },
      o.hooks,
    );
  }

  /** Starts following etcd; resolves once the first snapshot has been published. */
  start(): Promise<void> {
    return this.watch.start();
  }

  /** The current snapshot (our own lease excluded); O(peers) after a change, then cached. */
  snapshot(): PeerSnapshot {
    if (this.snap) return this.snap;
    const next = new Map<string, PeerLease>();
    for (const key of this.all.keys()) {
      const p = this.peers.get(key);
      if (p) next.set(p.subnetKey, p);
    }
    this.snap = next;
    return next;
  }

  /**
   * Calls `fn` with each new snapshot, only when the set of peers or any of their fields
   * changed. Returns an unsubscribe function.
   */
  onChange(fn: (s: PeerSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Calls `fn` with what changed, on the same occasions as onChange. Returns an unsubscribe function. */
  onPeerChanges(fn: (c: PeerChanges) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  setOwnKey(key: string | undefined): void {
    const was = this.ownKey;
    this.ownKey = key;
    if (!this.listed || was === key) return;
    const acc = { upserted: new Map<string, PeerLease>(), removed: new Set<string>() };
    if (was !== undefined) this.refresh(was, acc);
    if (key !== undefined) this.refresh(key, acc);
    this.publish({ upserted: [...acc.upserted.values()], removed: [...acc.removed], resync: false });
  }

  async close(): Promise<void> {
    await this.watch.close();
    this.listeners.clear();
    this.changeListeners.clear();
  }

  /** Decodes the value at `key` into `peers` (or removes it); what changed goes into `acc`. O(1). */
  private refresh(key: string, acc: { upserted: Map<string, PeerLease>; removed: Set<string> }): void {
    const before = this.peers.get(key);
    const after = this.decode(key);
    if (after && (!before || !samePeer(before, after))) {
      acc.upserted.set(after.subnetKey, after);
      acc.removed.delete(after.subnetKey);
    } else if (!after && before) {
      acc.removed.add(before.subnetKey);
      acc.upserted.delete(before.subnetKey);
    } else if (after && before) {
      this.peers.set(key, before);
    }
  }

  private decode(key: string): PeerLease | undefined {
    const kv = this.all.get(key);
    const peer = kv && key !== this.ownKey ? this.toPeer(kv) : undefined;
    if (peer) this.peers.set(key, Object.freeze(peer));
    else this.peers.delete(key);
    return peer && this.peers.get(key);
  }

  private publish(changes: PeerChanges): void {
    if (!this.listed) return;
    if (changes.upserted.length === 0 && changes.removed.length === 0) return;
    this.snap = undefined;
    for (const l of this.changeListeners) l(changes);
    if (this.listeners.size === 0) return;
    const s = this.snapshot();
    for (const l of this.listeners) l(s);
  }

  private toPeer(kv: KvChange): PeerLease | undefined {
    const d = decodeStoredLease(kv);
    const ignore = (why: string): undefined => {
      const id = `${kv.key}@${kv.modRevision}`;
      if (!this.reported.has(id)) {
        this.reported.add(id);
        this.o.log.warn({ event: LogEvent.leaseIgnored, key: kv.key, reason: why }, `ignoring lease: ${why}`);
      }
      return undefined;
    };
    if (typeof d === 'string') return ignore(d);
    if (this.o.ipv6Only) return this.toPeer6Only(kv, d.subnet, d.subnet6, d.attrs, ignore);
    if (isNoSubnet4(d.subnet)) return ignore('IPv6-only lease (no IPv4 subnet) in a network with IPv4; its IPv6 subnet is not routed');
    const a = d.attrs;
    if (a.backendType !== 'vxlan') return ignore(`non-vxlan subnet ${formatCidr(d.subnet)} (BackendType ${JSON.stringify(a.backendType)})`);
    const mac = a.vtepMac === undefined ? null : normalizeMac(a.vtepMac);
    if (mac === null) return ignore(`subnet ${formatCidr(d.subnet)} has no valid BackendData.VtepMAC`);
    return {
      subnetKey: kv.key.slice(kv.key.lastIndexOf('/') + 1),
      subnet: d.subnet,
      publicIp: a.publicIp,
      vni: a.vni ?? DEFAULT_VNI,
      vtepMac: mac,
      gossipPort: a.gossipPort,
      nodeName: a.nodeName,
      csumElision: a.csumElision,
      ...(d.subnet6 ? vtep6Of(d.subnet6, a) : {}),
    };
  }

  /** toPeer in an IPv6-only network: the lease's IPv6 half is the peer. */
  private toPeer6Only(kv: KvChange, subnet: Subnet4, subnet6: Subnet6 | undefined, a: LeaseAttrs, ignore: (why: string) => undefined): PeerLease | undefined {
    const name = kv.key.slice(kv.key.lastIndexOf('/') + 1);
    if (a.backendType !== 'vxlan') return ignore(`non-vxlan subnet ${name} (BackendType ${JSON.stringify(a.backendType)})`);
    const v6 = subnet6 ? vtep6Of(subnet6, a).v6 : undefined;
    if (!v6) return ignore(`subnet ${name} has no IPv6 subnet with a valid PublicIPv6 and BackendV6Data.VtepMAC, in an IPv6-only network`);
    return { subnetKey: name, subnet, publicIp: a.publicIp, vni: v6.vni, vtepMac: v6.vtepMac, gossipPort: a.gossipPort, nodeName: a.nodeName, csumElision: a.csumElision, v6 };
  }
}

/** `{ v6 }` when the lease names a valid PublicIPv6 and BackendV6Data.VtepMAC; else nothing (IPv4 is routed all the same). */
function vtep6Of(subnet: Subnet6, a: LeaseAttrs): { v6?: PeerVtep6 } {
  const ip = a.v6 ? parseIpv6(a.v6.publicIp) : null;
  const mac = a.v6?.vtepMac === undefined ? null : normalizeMac(a.v6.vtepMac);
  if (ip === null || mac === null) return {};
  return { v6: Object.freeze({ subnet, publicIp: formatIpv6(ip), vni: a.v6?.vni ?? DEFAULT_VNI, vtepMac: mac }) };
}

function sameVtep6(a: PeerVtep6 | undefined, b: PeerVtep6 | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && sameSubnet6(a.subnet, b.subnet) && a.publicIp === b.publicIp && a.vni === b.vni && a.vtepMac === b.vtepMac);
}

function samePeer(a: PeerLease, b: PeerLease): boolean {
  return a.publicIp === b.publicIp && a.vni === b.vni && a.vtepMac === b.vtepMac && a.gossipPort === b.gossipPort && a.nodeName === b.nodeName && (a.csumElision ?? false) === (b.csumElision ?? false) && sameVtep6(a.v6, b.v6);
}

/** What turns snapshot `a` into the peers of `b` (keyed by full key). O(peers). */
function diff(a: PeerSnapshot, b: ReadonlyMap<string, PeerLease>): { upserted: PeerLease[]; removed: string[] } {
  const upserted: PeerLease[] = [];
  const seen = new Set<string>();
  for (const p of b.values()) {
    seen.add(p.subnetKey);
    const was = a.get(p.subnetKey);
    if (!was || !samePeer(was, p)) upserted.push(p);
  }
  return { upserted, removed: [...a.keys()].filter((k) => !seen.has(k)) };
}
