// Leases (etcd, authoritative) + gossip membership → the peers the route table is built from, each
// with the state /status shows for it (one source for both). Pure: the caller logs and counts the
// refusals it returns (see RefusalReporter).
//
// A member speaks for a lease when it has the lease's subnet and public IP; a live one wins, the
// one named in the lease first. Identity: a dead or left record withdraws a lease only if it is
// the lease's holder (the node name in BackendData; any member at the subnet and IP for a lease
// without one) and it went away after the lease was last written (seenAt/goneAt, when given).
//
//   lease, a live member speaks for it         → routed from the lease, state alive / suspect
//   lease, its holder dead or left since       → withdrawn, state dead
//   lease, anything else (Flannel node, holder → routed from the lease, state lease-only
//     gone before the lease was rewritten, a
//     renamed node's old name)
//   member only (etcd away or lease not yet seen) → routed from gossip, unless dead or left
//   member whose subnet overlaps a lease held by another public IP → refused ('lease-conflict')
//   member with an unparsable subnet/IP/MAC, its IP and subnet of two families, or outside `network` → refused ('invalid')
//   two gossip-only members with overlapping subnets → the smaller name wins, the other is refused
//
// Subnets and public IPs are of either family, compared within it: an IPv6-only network's leases
// and members are keyed by their IPv6 subnet and PublicIPv6 (PeerRouter's ipv6Only).
import { parseCidr, parseIpv4, subnetOf } from '../../net/ipv4.js';
import { parseCidr6, parseIpv6, subnetOf6 } from '../../net/ipv6.js';
import { parseMac } from '../../net/mac.js';
import type { MemberState } from './types.js';

export interface LeasePeer {
  /** "10.244.1.0/24" */
  subnet: string;
  publicIp: string;
  vtepMac: string;
  nodeName?: string;
  csumElision?: boolean;
  /** The lease is a weft node's (BackendData.WeftGossipPort/WeftNodeName): it takes IPv6 over the IPv4 underlay. */
  weft?: boolean;
  /** Dual-stack leases: the IPv6 subnet ('fd00:10:244:5f::/64') and IPv6 VTEP MAC (BackendV6Data). */
  subnet6?: string;
  vtepMac6?: string;
  /** The lease's PublicIPv6: where IPv6 goes to a Flannel node (over the IPv6 underlay). */
  publicIpv6?: string;
  /** When this lease value was last written, as seen locally: on the same clock as GossipPeer.goneAt. */
  seenAt?: number;
}

export interface GossipPeer {
  name: string;
  publicIp: string;
  subnet: string;
  vtepMac: string;
  state: MemberState;
  /** When this member was first seen dead or left (in its current incarnation); see LeasePeer.seenAt. */
  goneAt?: number;
}

/** What /status shows for a peer; routed peers are never 'dead', withdrawn ones always are. */
export type RouteState = 'alive' | 'suspect' | 'dead' | 'lease-only';

export interface RoutePeer {
  subnet: string;
  publicIp: string;
  vtepMac: string;
  nodeName: string;
  source: 'lease' | 'gossip';
  /** From the lease only; a gossip-only peer gets full checksums. */
  csumElision?: boolean;
  /** From the lease only: a weft node's (LeasePeer.weft). */
  weft?: boolean;
  /** From a dual-stack lease only (gossip carries IPv4 subnets). */
  subnet6?: string;
  vtepMac6?: string;
  publicIpv6?: string;
  state: RouteState;
  /** The member whose state `state` is; undefined for lease-only. */
  member?: string;
}

export type RefusalReason = 'lease-conflict' | 'invalid' | 'gossip-conflict';

export interface Refusal {
  member: string;
  subnet: string;
  publicIp: string;
  reason: RefusalReason;
  /** The lease or member it conflicts with. */
  conflictsWith?: string;
}

export interface MergeResult {
  peers: RoutePeer[];
  /** Leased subnets not routed because their holder is dead or left (state 'dead'). */
  withdrawn: RoutePeer[];
  refused: Refusal[];
}

export interface MergeOptions {
  /** This node's own subnet: never routed to a peer. */
  localSubnet?: string;
  /** The overlay network ("10.244.0.0/16"): gossip members outside it are refused. */
  network?: string;
}

/** A subnet of either family, host bits cleared. */
interface Net {
  readonly bits: 32 | 128;
  readonly base: bigint;
  readonly len: number;
}

/** A subnet as written (IPv4 or IPv6), host bits cleared. */
function parseNet(s: string): Net | undefined {
  const c = parseCidr(s);
  if (c) {
    const n = subnetOf(c);
    return { bits: 32, base: BigInt(n.base >>> 0), len: n.len };
  }
  const c6 = parseCidr6(s);
  if (!c6) return undefined;
  const n6 = subnetOf6(c6);
  return { bits: 128, base: n6.base, len: n6.len };
}

function sameSubnet(a: Net, b: Net): boolean {
  return a.bits === b.bits && a.base === b.base && a.len === b.len;
}

function overlaps(a: Net, b: Net): boolean {
  const shift = BigInt(a.bits - Math.min(a.len, b.len));
  return a.bits === b.bits && a.base >> shift === b.base >> shift;
}

function within(inner: Net, outer: Net): boolean {
  return inner.len >= outer.len && overlaps(inner, outer);
}

/** An address of either family as one comparable value, or null. */
function parseIp(s: string): number | bigint | null {
  return parseIpv4(s) ?? (s.includes(':') ? parseIpv6(s) : null);
}

function sameIp(a: string, b: string): boolean {
  const ip = parseIp(a);
  return ip !== null && ip === parseIp(b);
}

const gone = (s: MemberState): boolean => s === 'dead' || s === 'left';

/** Whether `m` went away after `lease` was last written; without times, a gone holder always did. */
function wentAfter(m: GossipPeer, lease: LeasePeer): boolean {
  return m.goneAt === undefined || lease.seenAt === undefined || m.goneAt > lease.seenAt;
}

export function mergeRoutes(leases: readonly LeasePeer[], members: readonly GossipPeer[], opts: MergeOptions = {}): MergeResult {
  const local = opts.localSubnet ? parseNet(opts.localSubnet) : undefined;
  const network = opts.network ? parseNet(opts.network) : undefined;
  const peers: RoutePeer[] = [];
  const withdrawn: RoutePeer[] = [];
  const refused: Refusal[] = [];

  const leased = leases
    .map((l) => ({ lease: l, cidr: parseNet(l.subnet) }))
    .filter((x): x is { lease: LeasePeer; cidr: Net } => x.cidr !== undefined && !(local && sameSubnet(x.cidr, local)));

  const valid: { m: GossipPeer; cidr: Net }[] = [];
  for (const m of [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const cidr = parseNet(m.subnet);
    const ip = parseIp(m.publicIp);
    // The public IP is of the subnet's family (an IPv6-only network's members: both IPv6).
    if (!cidr || ip === null || (typeof ip === 'bigint') !== (cidr.bits === 128) || parseMac(m.vtepMac) === null || (network && !within(cidr, network))) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'invalid' });
      continue;
    }
    if (local && overlaps(cidr, local)) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'lease-conflict', conflictsWith: opts.localSubnet });
      continue;
    }
    valid.push({ m, cidr });
  }

  for (const { lease, cidr } of leased) {
    const at = valid.filter((v) => sameSubnet(v.cidr, cidr) && sameIp(v.m.publicIp, lease.publicIp)).map((v) => v.m);
    const live = at.filter((m) => !gone(m.state));
    const speaker = live.find((m) => m.name === lease.nodeName) ?? live[0];
    const base = {
      subnet: lease.subnet,
      publicIp: lease.publicIp,
      vtepMac: lease.vtepMac,
      source: 'lease' as const,
      ...(lease.csumElision === true ? { csumElision: true } : {}),
      ...(lease.weft === true ? { weft: true } : {}),
      ...(lease.subnet6 !== undefined && lease.vtepMac6 !== undefined ? { subnet6: lease.subnet6, vtepMac6: lease.vtepMac6 } : {}),
      ...(lease.publicIpv6 !== undefined ? { publicIpv6: lease.publicIpv6 } : {}),
    };
    if (speaker) {
      peers.push({ ...base, nodeName: lease.nodeName ?? speaker.name, state: speaker.state as RouteState, member: speaker.name });
      continue;
    }
    const holder = at.find((m) => lease.nodeName === undefined || m.name === lease.nodeName);
    if (holder && wentAfter(holder, lease)) withdrawn.push({ ...base, nodeName: lease.nodeName ?? holder.name, state: 'dead', member: holder.name });
    else peers.push({ ...base, nodeName: lease.nodeName ?? '', state: 'lease-only' });
  }

  const routedGossip: Net[] = [];
  for (const { m, cidr } of valid) {
    const conflict = leased.find((l) => overlaps(l.cidr, cidr) && !(sameSubnet(l.cidr, cidr) && sameIp(l.lease.publicIp, m.publicIp)));
    if (conflict) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'lease-conflict', conflictsWith: `${conflict.lease.subnet} → ${conflict.lease.publicIp}` });
      continue;
    }
    if (leased.some((l) => sameSubnet(l.cidr, cidr))) continue;
    if (gone(m.state)) continue;
    const clash = valid.find((o) => o.m !== m && !gone(o.m.state) && overlaps(o.cidr, cidr) && routedGossip.includes(o.cidr));
    if (clash) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'gossip-conflict', conflictsWith: clash.m.name });
      continue;
    }
    routedGossip.push(cidr);
    peers.push({ subnet: m.subnet, publicIp: m.publicIp, vtepMac: m.vtepMac, nodeName: m.name, source: 'gossip', state: m.state as RouteState, member: m.name });
  }
  return { peers, withdrawn, refused };
}
