// Leases (etcd, authoritative) + gossip membership → one immutable RouteTable → the data plane.
// Every input change rebuilds the whole table and swaps it in (the data plane reads it once per
// batch); one log line per route that appears, moves or goes away. The merge result is also what
// /status shows (current), so the two never disagree. Input changes are numbered in order, so the
// merge can tell whether a member went away before or after a lease was (re)written.
import type { RouteTable, RouteTableOptions } from '../dataplane/index.js';
import type { Logger } from '../observability/logger.js';
import { mergeRoutes, type GossipPeer, type LeasePeer, type MergeResult, type RefusalReporter, type RoutePeer } from './gossip/index.js';
import { formatCidr } from '../net/ipv4.js';
import type { PeerSnapshot } from './lease/lease-watcher.js';
import { LogEvent } from '../observability/log-events.js';

/** The consumer of route tables: the data plane, or anything with its setRoutes contract. */
export interface RouteSink {
  setRoutes(table: RouteTable): void;
}

export interface PeerRouterOptions {
  readonly network: string;
  readonly subnetLen: number;
  /** This node's own subnet: never routed to a peer. */
  readonly localSubnet: string;
  readonly build: (opts: RouteTableOptions) => RouteTable;
  readonly sink: RouteSink;
  readonly refusals: RefusalReporter;
  readonly log: Logger;
}

/** Why a route went away, as logged: a graceful gossip leave is not a death. */
const WITHDRAWN = {
  lease_gone: 'lease gone',
  left: 'peer left the cluster (graceful leave); packets to it are answered with ICMP unreachable',
  dead: 'peer is dead (gossip); packets to it are answered with ICMP unreachable',
} as const;
const gone = (s: GossipPeer['state']): boolean => s === 'dead' || s === 'left';

export class PeerRouter {
  private leases: LeasePeer[] = [];
  private members: (GossipPeer & { incarnation?: number })[] = [];
  /** Orders input changes: LeasePeer.seenAt and GossipPeer.goneAt. */
  private tick = 0;
  private merged: MergeResult = { peers: [], withdrawn: [], refused: [] };
  private routed = new Map<string, RoutePeer>();
  private swaps = 0;

  constructor(private readonly o: PeerRouterOptions) {}

  /** The peers routed now, those withdrawn because gossip says they are dead, and refusals. */
  get current(): MergeResult {
    return this.merged;
  }

  get routeSwaps(): number {
    return this.swaps;
  }

  /** The leases as etcd lists them (our own excluded by the watcher). */
  setLeases(snapshot: PeerSnapshot): void {
    const tick = ++this.tick;
    const before = new Map(this.leases.map((l) => [l.subnet, l]));
    this.leases = [...snapshot.values()].map((l) => {
      const lease: LeasePeer = { subnet: formatCidr(l.subnet), publicIp: l.publicIp, vtepMac: l.vtepMac, nodeName: l.nodeName, csumElision: l.csumElision };
      const was = before.get(lease.subnet);
      const same = was && was.publicIp === lease.publicIp && was.vtepMac === lease.vtepMac && was.nodeName === lease.nodeName && was.csumElision === lease.csumElision;
      return { ...lease, seenAt: same ? was.seenAt : tick };
    });
    this.rebuild();
  }

  /** Gossip's current view of the other members. */
  setMembers(members: readonly (GossipPeer & { incarnation?: number })[]): void {
    const tick = ++this.tick;
    const before = new Map(this.members.map((m) => [m.name, m]));
    this.members = members.map((m) => {
      const was = before.get(m.name);
      const stillGone = was?.goneAt !== undefined && gone(was.state) && gone(m.state) && was.incarnation === m.incarnation;
      const { name, publicIp, subnet, vtepMac, state, incarnation } = m;
      return { name, publicIp, subnet, vtepMac, state, incarnation, goneAt: gone(m.state) ? (stillGone ? was.goneAt : tick) : undefined };
    });
    this.rebuild();
  }

  private rebuild(): void {
    const merged = mergeRoutes(this.leases, this.members, { localSubnet: this.o.localSubnet, network: this.o.network });
    this.o.refusals.report(merged.refused);
    const table = this.o.build({ network: this.o.network, subnetLen: this.o.subnetLen, localSubnet: this.o.localSubnet, peers: merged.peers });
    for (const r of table.rejected) this.o.log.warn({ subnet: r.peer.subnet, publicIP: r.peer.publicIp, reason: r.reason }, 'peer not routable');
    this.o.sink.setRoutes(table);
    this.swaps++;
    this.merged = merged;
    this.logChanges(merged);
  }

  private logChanges(merged: MergeResult): void {
    const next = new Map(merged.peers.map((p) => [p.subnet, p]));
    const withdrawn = new Set(merged.withdrawn.map((p) => p.subnet));
    for (const [subnet, p] of next) {
      const before = this.routed.get(subnet);
      if (!before) this.o.log.info({ subnet, publicIP: p.publicIp, node: p.nodeName || undefined, source: p.source }, 'route added');
      else if (before.publicIp !== p.publicIp || before.vtepMac !== p.vtepMac) this.o.log.info({ subnet, publicIP: p.publicIp, was: before.publicIp, node: p.nodeName || undefined }, 'route changed');
    }
    for (const [subnet, p] of this.routed) {
      if (next.has(subnet)) continue;
      const reason = !withdrawn.has(subnet) ? 'lease_gone' : this.members.some((m) => m.subnet === subnet && m.state === 'left') ? 'left' : 'dead';
      this.o.log.info({ event: LogEvent.routeWithdrawn, subnet, publicIP: p.publicIp, node: p.nodeName || undefined, reason }, `route withdrawn: ${WITHDRAWN[reason]}`);
    }
    this.routed = next;
  }
}
