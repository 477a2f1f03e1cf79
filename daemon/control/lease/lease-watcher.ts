// Peer leases: every other node's subnet lease, as an immutable snapshot that is replaced (never
// mutated) on each change. Consumers (peers → RouteTable, gossip seeds) subscribe with
// onChange(snapshot) and may keep the map they are given.
//
// Follows `<prefix>/subnets/` through the LeaseStore's watch (list, watch from revision + 1, list
// again after compaction or any stream failure and diff). Leases whose BackendType is not "vxlan" are left out
// with one log line per lease (as Flannel: "ignoring non-vxlan subnet"), as are unreadable ones.
// Our own subnet is left out; setOwnKey() updates it when the keeper re-acquires.
import type { Logger } from '../../observability/logger.js';
import type { KvChange } from '../etcd/resilient-watch.js';
import { DEFAULT_VNI } from '../../dataplane/constants.js';
import { formatCidr, type Subnet4 } from '../../net/ipv4.js';
import { formatIpv6, parseIpv6, sameSubnet6, type Subnet6 } from '../../net/ipv6.js';
import type { LeaseAttrs } from './lease-codec.js';
import { decodeStoredLease, type LeaseStore, type LeaseWatch, type LeaseWatchHooks } from './lease-store.js';
import { normalizeMac } from '../../net/mac.js';

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

export interface LeaseWatcherOptions {
  readonly store: LeaseStore;
  readonly log: Logger;
  /** Our own lease key (full path), excluded from snapshots. */
  readonly ownKey: string | undefined;
  /** Served (e.g. from the state cache) until etcd's first listing replaces it. */
  readonly initial?: PeerSnapshot;
  readonly hooks?: LeaseWatchHooks;
}

export class LeaseWatcher {
  private all = new Map<string, KvChange>();
  private snap: PeerSnapshot;
  private listed = false;
  private ownKey: string | undefined;
  private readonly listeners = new Set<(s: PeerSnapshot) => void>();
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
          this.listed = true;
          this.all = new Map(kvs.map((kv) => [kv.key, kv]));
          this.publish();
        },
        apply: (changes) => {
          for (const c of changes) {
            if (c.type === 'delete') this.all.delete(c.key);
            else this.all.set(c.key, c);
          }
          this.publish();
        },
      },
      o.hooks,
    );
  }

  /** Starts following etcd; resolves once the first snapshot has been published. */
  start(): Promise<void> {
    return this.watch.start();
  }

  /** The current snapshot (our own lease excluded). */
  snapshot(): PeerSnapshot {
    return this.snap;
  }

  /**
   * Calls `fn` with each new snapshot, only when the set of peers or any of their fields
   * changed. Returns an unsubscribe function.
   */
  onChange(fn: (s: PeerSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  setOwnKey(key: string | undefined): void {
    this.ownKey = key;
    this.publish();
  }

  async close(): Promise<void> {
    await this.watch.close();
    this.listeners.clear();
  }

  private publish(): void {
    if (!this.listed) return;
    const next = new Map<string, PeerLease>();
    for (const kv of this.all.values()) {
      if (kv.key === this.ownKey) continue;
      const peer = this.toPeer(kv);
      if (peer) next.set(peer.subnetKey, Object.freeze(peer));
    }
    if (sameSnapshot(this.snap, next)) return;
    this.snap = next;
    for (const l of this.listeners) l(next);
  }

  private toPeer(kv: KvChange): PeerLease | undefined {
    const d = decodeStoredLease(kv);
    const ignore = (why: string): undefined => {
      const id = `${kv.key}@${kv.modRevision}`;
      if (!this.reported.has(id)) {
        this.reported.add(id);
        this.o.log.warn({ key: kv.key }, `ignoring lease: ${why}`);
      }
      return undefined;
    };
    if (typeof d === 'string') return ignore(d);
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

function sameSnapshot(a: PeerSnapshot, b: PeerSnapshot): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || !samePeer(v, w)) return false;
  }
  return true;
}
