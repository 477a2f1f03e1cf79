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
//   member with an unparsable subnet/IP/MAC, or outside `network` → refused ('invalid')
//   two gossip-only members with overlapping subnets → the smaller name wins, the other is refused
import { overlaps, parseCidr, parseIpv4, sameSubnet, subnetOf, within, type Subnet4 } from '../../net/ipv4.js';
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

/** A subnet as written, host bits cleared. */
function parseSubnet4(s: string): Subnet4 | undefined {
  const c = parseCidr(s);
  return c ? subnetOf(c) : undefined;
}

function sameIp(a: string, b: string): boolean {
  const ip = parseIpv4(a);
  return ip !== null && ip === parseIpv4(b);
}

const gone = (s: MemberState): boolean => s === 'dead' || s === 'left';

/** Whether `m` went away after `lease` was last written; without times, a gone holder always did. */
function wentAfter(m: GossipPeer, lease: LeasePeer): boolean {
  return m.goneAt === undefined || lease.seenAt === undefined || m.goneAt > lease.seenAt;
}

export function mergeRoutes(leases: readonly LeasePeer[], members: readonly GossipPeer[], opts: MergeOptions = {}): MergeResult {
  const local = opts.localSubnet ? parseSubnet4(opts.localSubnet) : undefined;
  const network = opts.network ? parseSubnet4(opts.network) : undefined;
  const peers: RoutePeer[] = [];
  const withdrawn: RoutePeer[] = [];
  const refused: Refusal[] = [];

  const leased = leases
    .map((l) => ({ lease: l, cidr: parseSubnet4(l.subnet) }))
    .filter((x): x is { lease: LeasePeer; cidr: Subnet4 } => x.cidr !== undefined && !(local && sameSubnet(x.cidr, local)));

  const valid: { m: GossipPeer; cidr: Subnet4 }[] = [];
  for (const m of [...members].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const cidr = parseSubnet4(m.subnet);
    if (!cidr || parseIpv4(m.publicIp) === null || parseMac(m.vtepMac) === null || (network && !within(cidr, network))) {
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

  const routedGossip: Subnet4[] = [];
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
