// Leases (etcd, authoritative) + gossip membership → the peers the route table is built from.
// Pure: the caller logs and counts the refusals it returns (see RefusalReporter).
//
//   lease, no member / member alive or suspect   → routed from the lease (Flannel nodes too)
//   lease, member with its public IP dead or left → withdrawn
//   member only (etcd away or lease not yet seen) → routed from gossip, unless dead or left
//   member whose subnet overlaps a lease held by another public IP → refused ('lease-conflict')
//   member with an unparsable subnet/IP/MAC, or outside `network` → refused ('invalid')
//   two gossip-only members with overlapping subnets → the smaller name wins, the other is refused
import ipaddr from 'ipaddr.js';
import { overlaps, parseCidr, sameSubnet, type Subnet4 } from '../lease/ipv4.js';
import type { MemberState } from './types.js';

export interface LeasePeer {
  /** "10.244.1.0/24" */
  subnet: string;
  publicIp: string;
  vtepMac: string;
  nodeName?: string;
  csumElision?: boolean;
}

export interface GossipPeer {
  name: string;
  publicIp: string;
  subnet: string;
  vtepMac: string;
  state: MemberState;
}

export interface RoutePeer {
  subnet: string;
  publicIp: string;
  vtepMac: string;
  nodeName: string;
  source: 'lease' | 'gossip';
  /** From the lease only; a gossip-only peer gets full checksums. */
  csumElision?: boolean;
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
  /** Leased subnets not routed because their member is dead or left. */
  withdrawn: RoutePeer[];
  refused: Refusal[];
}

export interface MergeOptions {
  /** This node's own subnet: never routed to a peer. */
  localSubnet?: string;
  /** The overlay network ("10.244.0.0/16"): gossip members outside it are refused. */
  network?: string;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function parseSubnet4(s: string): Subnet4 | undefined {
  return parseCidr(s) ?? undefined;
}

function sameIp(a: string, b: string): boolean {
  try {
    return ipaddr.process(a).toString() === ipaddr.process(b).toString();
  } catch {
    return false;
  }
}

const gone = (s: MemberState): boolean => s === 'dead' || s === 'left';

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
    if (!cidr || !ipaddr.isValid(m.publicIp) || !MAC.test(m.vtepMac) || (network && !(cidr.len >= network.len && overlaps(cidr, network)))) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'invalid' });
      continue;
    }
    if (local && overlaps(cidr, local)) {
      refused.push({ member: m.name, subnet: m.subnet, publicIp: m.publicIp, reason: 'lease-conflict', conflictsWith: opts.localSubnet });
      continue;
    }
    valid.push({ m, cidr });
  }

  // A lease is withdrawn when a member with the same subnet and public IP is dead or left.
  for (const { lease, cidr } of leased) {
    const member = valid.find((v) => sameSubnet(v.cidr, cidr) && sameIp(v.m.publicIp, lease.publicIp));
    const peer: RoutePeer = { subnet: lease.subnet, publicIp: lease.publicIp, vtepMac: lease.vtepMac, nodeName: lease.nodeName ?? member?.m.name ?? '', source: 'lease', ...(lease.csumElision === true ? { csumElision: true } : {}) };
    (member && gone(member.m.state) ? withdrawn : peers).push(peer);
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
    peers.push({ subnet: m.subnet, publicIp: m.publicIp, vtepMac: m.vtepMac, nodeName: m.name, source: 'gossip' });
  }
  return { peers, withdrawn, refused };
}
