// Leases (etcd, authoritative) + gossip membership → the data plane's routes, one subnet at a time.
// Each subnet is merged on its own (mergeRoutes over its lease and the members that claim it), so
// one lease written, deleted or rewritten costs O(1): one merge, one peer validated into numbers
// (PeerEncoder), one RouteDelta sent, one log line if its route appears, moves or goes away. A
// whole table is sent at start and on resync (the watcher listed etcd again). Gossip hands over
// its full member list, so a membership change costs O(members) to diff, then O(1) per member
// that changed. A member claiming a subnet that is not one /SubnetLen of the network (it could
// overlap several leases: a forged or misconfigured node) makes every change a full merge while
// it is known, as before. The merge result is also what /status shows (current), so the two never
// disagree. Input changes are numbered in order, so the merge can tell whether a member went away
// before or after a lease was (re)written. In an IPv6-only network (ipv6Only) every key, lease and
// member is by IPv6 subnet, PublicIPv6 and IPv6 VTEP MAC instead, the table's own keys aside.
import { PeerEncoder, RouteTable, type PeerWire, type RouteDelta } from '../dataplane/index.js';
import type { Logger } from '../observability/logger.js';
import { mergeRoutes, type GossipPeer, type LeasePeer, type MergeResult, type RefusalReporter, type RoutePeer } from './gossip/index.js';
import { formatCidr, parseCidr, subnetOf, within } from '../net/ipv4.js';
import { isNoSubnet4, parseLeaseKeyName } from '../net/subnet-key.js';
import { contains6, formatCidr6, parseCidr6, parseSubnet6, subnetOf6, type Subnet6 } from '../net/ipv6.js';
import type { PeerChanges, PeerLease, PeerSnapshot } from './lease/lease-watcher.js';
import { LogEvent } from '../observability/log-events.js';

/** The consumer of routes: the data plane, or anything with its setRoutes/applyRoutes contract. */
export interface RouteSink {
  /** A whole table: start and resync. */
  setRoutes(table: RouteTable): void;
  /** Changes to the table last set, applied in order. */
  applyRoutes(deltas: readonly RouteDelta[]): void;
}

export interface PeerRouterOptions {
  readonly network: string;
  readonly subnetLen: number;
  /** This node's own subnet: never routed to a peer. */
  readonly localSubnet: string;
  /** Dual-stack: IPv6Network, IPv6SubnetLen and this node's IPv6 subnet; peers' IPv6 subnets are routed only with them. */
  readonly network6?: string;
  readonly subnetLen6?: number;
  readonly localSubnet6?: string;
  /**
   * An IPv6-only network: network, subnetLen and localSubnet are ipv6OnlyLayout's stand-ins (the
   * route table's), and leases and gossip members are routed by their IPv6 subnet (network6 and
   * localSubnet6 required) and reached at their PublicIPv6.
   */
  readonly ipv6Only?: boolean;
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
/** A snapshot changing more routes than this logs one summary line instead of one line per route. */
const MAX_ROUTE_LINES = 64;
const gone = (s: GossipPeer['state']): boolean => s === 'dead' || s === 'left';

type Member = GossipPeer & { incarnation?: number };
type Merged = { readonly peers: RoutePeer[]; readonly withdrawn: RoutePeer[]; readonly refused: MergeResult['refused'] };

export class PeerRouter {
  private readonly encoder: PeerEncoder;
  private readonly v6Only: { readonly net: Subnet6; readonly subnetLen: number } | undefined;
  private readonly mergeOpts: { localSubnet: string; network: string };
  /** Normalised subnet → lease. */
  private readonly leases = new Map<string, LeasePeer>();
  /** Name → member, with goneAt. */
  private readonly members = new Map<string, Member>();
  /** Subnet (or `member:<name>` for an invalid claim) → names of the members claiming it. */
  private readonly claims = new Map<string, Set<string>>();
  /** Where each member is filed in `claims`. */
  private readonly claimOf = new Map<string, string>();
  /** Members and leases whose subnet is not one /SubnetLen of the network: full merges while any. */
  private readonly odd = new Set<string>();
  /** Subnet → what its merge says. */
  private readonly groups = new Map<string, Merged>();
  /** Set while odd claims exist: the merge of everything. */
  private full: Merged | undefined;
  private cached: Merged | undefined;
  /** Subnet → the peer routed there and its wire, as the sink last got them. */
  private readonly routed = new Map<string, { peer: RoutePeer; wire: PeerWire }>();
  /** Orders input changes: LeasePeer.seenAt and GossipPeer.goneAt. */
  private tick = 0;
  private swaps = 0;

  constructor(private readonly o: PeerRouterOptions) {
    this.encoder = new PeerEncoder(o);
    const net6 = o.ipv6Only ? parseSubnet6(o.network6 ?? '') : null;
    this.v6Only = net6 ? { net: net6, subnetLen: this.encoder.layout6!.subnetLen } : undefined;
    this.mergeOpts = this.v6Only ? { localSubnet: o.localSubnet6 ?? '', network: o.network6 ?? '' } : { localSubnet: o.localSubnet, network: o.network };
  }

  /** The peers routed now, those withdrawn because gossip says they are dead, and refusals (O(peers) after a change). */
  get current(): MergeResult {
    if (this.full) return this.full;
    if (!this.cached) {
      const all: Merged = { peers: [], withdrawn: [], refused: [] };
      for (const g of this.groups.values()) {
        all.peers.push(...g.peers);
        all.withdrawn.push(...g.withdrawn);
        all.refused.push(...g.refused);
      }
      this.cached = all;
    }
    return this.cached;
  }

  /** Route messages sent to the sink (whole tables and batches of changes). */
  get routeSwaps(): number {
    return this.swaps;
  }

  /** Peers routed (validated and sent to the sink). */
  get routeCount(): number {
    return this.routed.size;
  }

  /** The leases as etcd lists them (our own excluded by the watcher); sends a whole table. */
  setLeases(snapshot: PeerSnapshot): void {
    const tick = ++this.tick;
    const next = new Map<string, PeerLease>();
    for (const l of snapshot.values()) {
      const key = this.leaseKey(l);
      if (key !== undefined) next.set(key, l);
    }
    const touched = new Set<string>();
    for (const key of this.leases.keys()) if (!next.has(key)) touched.add(key);
    for (const [key, l] of next) if (this.putLease(key, l, tick)) touched.add(key);
    for (const key of touched) if (!next.has(key)) this.dropLease(key);
    this.update(touched, true);
  }

  /** What the lease watcher says changed: O(1) per lease; a whole table after a resync. */
  applyLeaseChanges(changes: PeerChanges): void {
    const tick = ++this.tick;
    const touched = new Set<string>();
    for (const subnetKey of changes.removed) {
      const key = this.keyOfSubnetKey(subnetKey);
      if (key !== undefined && this.leases.has(key)) {
        this.dropLease(key);
        touched.add(key);
      }
    }
    for (const l of changes.upserted) {
      const key = this.leaseKey(l);
      if (key !== undefined && this.putLease(key, l, tick)) touched.add(key);
    }
    this.update(touched, changes.resync);
  }

  /** Gossip's current view of the other members: O(members) to diff, O(1) per member changed. */
  setMembers(members: readonly Member[]): void {
    const tick = ++this.tick;
    const touched = new Set<string>();
    const names = new Set<string>();
    for (const m of members) {
      names.add(m.name);
      const was = this.members.get(m.name);
      const stillGone = was?.goneAt !== undefined && gone(was.state) && gone(m.state) && was.incarnation === m.incarnation;
      const { name, publicIp, subnet, vtepMac, state, incarnation } = m;
      const next: Member = { name, publicIp, subnet, vtepMac, state, incarnation, goneAt: gone(m.state) ? (stillGone ? was.goneAt : tick) : undefined };
      if (was && sameMember(was, next)) continue;
      if (was) this.unfile(was, touched);
      this.members.set(name, next);
      this.file(next, touched);
    }
    for (const [name, was] of this.members) {
      if (names.has(name)) continue;
      this.unfile(was, touched);
      this.members.delete(name);
    }
    this.update(touched, false);
  }

  /** Where a lease is filed: its IPv4 subnet, or its IPv6 one in an IPv6-only network; undefined: not routed here. */
  private leaseKey(l: PeerLease): string | undefined {
    if (this.v6Only) return l.v6 === undefined ? undefined : formatCidr6(l.v6.subnet);
    return isNoSubnet4(l.subnet) ? undefined : formatCidr(l.subnet);
  }

  private putLease(key: string, l: PeerLease, tick: number): boolean {
    const v6 = l.v6 === undefined ? {} : { subnet6: formatCidr6(l.v6.subnet), vtepMac6: l.v6.vtepMac, publicIpv6: l.v6.publicIp };
    const weft = l.gossipPort !== undefined || l.nodeName !== undefined ? { weft: true } : {};
    const vtep = this.v6Only && l.v6 ? { publicIp: l.v6.publicIp, vtepMac: l.v6.vtepMac } : { publicIp: l.publicIp, vtepMac: l.vtepMac };
    const lease: LeasePeer = { subnet: key, ...vtep, nodeName: l.nodeName, csumElision: l.csumElision, ...weft, ...v6 };
    const was = this.leases.get(key);
    if (was && was.publicIp === lease.publicIp && was.vtepMac === lease.vtepMac && was.nodeName === lease.nodeName && was.csumElision === lease.csumElision && was.weft === lease.weft && was.subnet6 === lease.subnet6 && was.vtepMac6 === lease.vtepMac6 && was.publicIpv6 === lease.publicIpv6) return false;
    this.leases.set(key, { ...lease, seenAt: tick });
    if (this.subnetOf(key)?.regular !== true) this.odd.add(`lease:${key}`);
    return true;
  }

  private dropLease(key: string): void {
    this.leases.delete(key);
    this.odd.delete(`lease:${key}`);
  }

  /** 10.244.1.0-24 (or a dual-stack 10.244.1.0-24&fd00:10:244:1::-64) → 10.244.1.0/24 (a lease's etcd key name); IPv6-only: its IPv6 subnet. */
  private keyOfSubnetKey(subnetKey: string): string | undefined {
    const k = parseLeaseKeyName(subnetKey);
    if (this.v6Only) return k?.subnet6 ? formatCidr6(k.subnet6) : undefined;
    return k ? formatCidr(k.subnet) : undefined;
  }

  /**
   * A subnet as written → its key (host bits cleared), whether it lies inside the network, and
   * whether it is one /SubnetLen of it (IPv6-only: of IPv6Network, /IPv6SubnetLen); undefined when unparsable.
   */
  private subnetOf(written: string): { key: string; inside: boolean; regular: boolean } | undefined {
    if (this.v6Only) {
      const c6 = parseCidr6(written);
      if (!c6) return undefined;
      const s6 = subnetOf6(c6);
      const inside = s6.len >= this.v6Only.net.len && contains6(this.v6Only.net, s6.base);
      return { key: formatCidr6(s6), inside, regular: inside && s6.len === this.v6Only.subnetLen };
    }
    const c = parseCidr(written);
    if (!c) return undefined;
    const s = subnetOf(c);
    const inside = within(s, this.encoder.network);
    return { key: formatCidr(s), inside, regular: inside && s.len === this.encoder.subnetLen };
  }

  /** Files a member under the subnet it claims (or as odd, or as an invalid claim of its own). */
  private file(m: Member, touched: Set<string>): void {
    const s = this.subnetOf(m.subnet);
    let key: string;
    if (s?.regular) key = s.key;
    else if (s?.inside) {
      this.odd.add(`member:${m.name}`);
      key = `member:${m.name}`;
    } else key = `member:${m.name}`;
    let set = this.claims.get(key);
    if (!set) this.claims.set(key, (set = new Set()));
    set.add(m.name);
    this.claimOf.set(m.name, key);
    touched.add(key);
  }

  private unfile(m: Member, touched: Set<string>): void {
    const key = this.claimOf.get(m.name);
    if (key === undefined) return;
    const set = this.claims.get(key);
    set?.delete(m.name);
    if (set?.size === 0) this.claims.delete(key);
    this.claimOf.delete(m.name);
    this.odd.delete(`member:${m.name}`);
    touched.add(key);
  }

  /** Merges what `touched` names (or everything while odd claims exist) and tells the sink. */
  private update(touched: ReadonlySet<string>, resync: boolean): void {
    const deltas: RouteDelta[] = [];
    const lines: (() => void)[] = [];
    if (this.odd.size > 0) {
      this.mergeAll(deltas, lines);
    } else {
      let keys: Iterable<string> = touched;
      if (this.full) {
        // Leaving full merges: every subnet merged on its own again.
        this.full = undefined;
        keys = new Set([...this.leases.keys(), ...this.claims.keys(), ...this.routed.keys(), ...this.groups.keys()]);
        this.groups.clear();
      }
      for (const key of keys) this.mergeGroup(key, deltas, lines);
    }
    if (resync || this.swaps === 0) {
      const table = RouteTable.build({ network: this.o.network, subnetLen: this.o.subnetLen, network6: this.o.network6, subnetLen6: this.o.subnetLen6, ipv6Only: this.o.ipv6Only, peers: [] });
      for (const r of this.routed.values()) table.upsert(r.wire);
      this.o.sink.setRoutes(table);
      this.swaps++;
      if (lines.length > MAX_ROUTE_LINES) this.o.log.info({ routes: this.routed.size, changed: lines.length }, 'routes installed');
      else for (const line of lines) line();
      return;
    }
    for (const line of lines) line();
    if (deltas.length === 0) return;
    this.o.sink.applyRoutes(deltas);
    this.swaps++;
  }

  private mergeGroup(key: string, deltas: RouteDelta[], lines: (() => void)[]): void {
    const lease = this.leases.get(key);
    const names = this.claims.get(key);
    const members = names ? [...names].map((n) => this.members.get(n)!) : [];
    const g = lease || members.length > 0 ? mergeRoutes(lease ? [lease] : [], members, this.mergeOpts) : undefined;
    this.cached = undefined;
    if (g) this.o.refusals.report(g.refused);
    if (g && g.peers.length + g.withdrawn.length + g.refused.length > 0) this.groups.set(key, g);
    else this.groups.delete(key);
    this.route(key, g?.peers[0], g?.withdrawn[0], members, deltas, lines);
  }

  private mergeAll(deltas: RouteDelta[], lines: (() => void)[]): void {
    const members = [...this.members.values()];
    const merged = mergeRoutes([...this.leases.values()], members, this.mergeOpts);
    this.o.refusals.report(merged.refused);
    this.full = merged;
    this.cached = undefined;
    this.groups.clear();
    const keyOf = (p: RoutePeer): string => this.subnetOf(p.subnet)?.key ?? p.subnet;
    const next = new Map(merged.peers.map((p) => [keyOf(p), p]));
    const withdrawn = new Map(merged.withdrawn.map((p) => [keyOf(p), p]));
    for (const key of new Set([...this.routed.keys(), ...next.keys()])) this.route(key, next.get(key), withdrawn.get(key), members, deltas, lines);
  }

  /** Brings the sink's route for `key` to `peer` (or none), with its log line. */
  private route(key: string, peer: RoutePeer | undefined, withdrawn: RoutePeer | undefined, members: readonly Member[], deltas: RouteDelta[], lines: (() => void)[]): void {
    const log = this.o.log;
    const before = this.routed.get(key);
    let wire: PeerWire | undefined;
    if (peer) {
      const w = this.encoder.encode(peer);
      if (typeof w === 'string') log.warn({ subnet: peer.subnet, publicIP: peer.publicIp, reason: w }, 'peer not routable');
      else wire = w;
    }
    if (peer && wire) {
      this.routed.set(key, { peer, wire });
      if (before && sameRoute(before.peer, peer)) return;
      deltas.push({ op: 'upsert', peer: wire });
      const p = peer;
      if (!before) lines.push(() => log.info({ subnet: key, publicIP: p.publicIp, node: p.nodeName || undefined, source: p.source }, 'route added'));
      else if (before.peer.publicIp !== p.publicIp || before.peer.vtepMac !== p.vtepMac) lines.push(() => log.info({ subnet: key, publicIP: p.publicIp, was: before.peer.publicIp, node: p.nodeName || undefined }, 'route changed'));
      return;
    }
    if (!before) return;
    this.routed.delete(key);
    deltas.push({ op: 'remove', subnetBase: before.wire.subnetBase });
    const reason = !withdrawn ? 'lease_gone' : members.some((m) => m.name === withdrawn.member && m.state === 'left') ? 'left' : 'dead';
    const p = before.peer;
    lines.push(() => log.info({ event: LogEvent.routeWithdrawn, subnet: key, publicIP: p.publicIp, node: p.nodeName || undefined, reason }, `route withdrawn: ${WITHDRAWN[reason]}`));
  }
}

function sameMember(a: Member, b: Member): boolean {
  return a.publicIp === b.publicIp && a.subnet === b.subnet && a.vtepMac === b.vtepMac && a.state === b.state && a.incarnation === b.incarnation && a.goneAt === b.goneAt;
}

/** The same route for the data plane (what a RouteDelta carries). */
function sameRoute(a: RoutePeer, b: RoutePeer): boolean {
  return a.publicIp === b.publicIp && a.vtepMac === b.vtepMac && a.nodeName === b.nodeName && (a.csumElision ?? false) === (b.csumElision ?? false) && (a.weft ?? false) === (b.weft ?? false) && a.subnet6 === b.subnet6 && a.vtepMac6 === b.vtepMac6 && a.publicIpv6 === b.publicIpv6;
}
