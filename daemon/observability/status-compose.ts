// Builds the peers of the /status document from what the daemon already holds: the peer leases
// (the routes: gossip never adds a peer etcd does not list), the gossip view of each member and
// the data plane's per-peer counters. Pure; structural inputs so that it depends on no module.
import type { PeerState, PeerStatus } from './status-types.js';

export interface LeaseInput {
  /** "10.244.2.0/24" */
  readonly subnet: string;
  readonly publicIp: string;
  readonly vtepMac: string;
  /** Undefined for a Flannel node. */
  readonly nodeName?: string | undefined;
}

export interface MemberInput {
  readonly name: string;
  readonly publicIp: string;
  readonly subnet: string;
  readonly state: 'alive' | 'suspect' | 'dead' | 'left';
  /** When the member was last heard from, as a wall-clock Date (convert monotonic clocks first). */
  readonly lastSeen: Date;
}

export interface TrafficInput {
  readonly subnet: string;
  readonly txPackets: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly rxBytes: number;
  /** Packets from this peer dropped on receive, when the data plane counts them per peer. */
  readonly drops?: number;
}

/** One PeerStatus per lease, sorted by subnet address; a member that left counts as dead. */
export function composePeers(
  leases: Iterable<LeaseInput>,
  members: Iterable<MemberInput>,
  traffic: Iterable<TrafficInput>,
): PeerStatus[] {
  const bySubnet = new Map<string, MemberInput>();
  for (const m of members) bySubnet.set(m.subnet, m);
  const counters = new Map<string, TrafficInput>();
  for (const t of traffic) counters.set(t.subnet, t);
  const peers: PeerStatus[] = [];
  for (const l of leases) {
    // A member only speaks for the lease it matches: same subnet and same public IP.
    const m = bySubnet.get(l.subnet);
    const member = m !== undefined && m.publicIp === l.publicIp ? m : undefined;
    const t = counters.get(l.subnet);
    const state: PeerState = member === undefined ? 'lease-only' : member.state === 'left' ? 'dead' : member.state;
    peers.push({
      name: l.nodeName ?? member?.name ?? null,
      publicIP: l.publicIp,
      subnet: l.subnet,
      vtepMAC: l.vtepMac,
      state,
      lastSeen: member === undefined ? null : member.lastSeen.toISOString(),
      packetsIn: t?.rxPackets ?? 0,
      packetsOut: t?.txPackets ?? 0,
      bytesIn: t?.rxBytes ?? 0,
      bytesOut: t?.txBytes ?? 0,
      drops: t?.drops ?? 0,
    });
  }
  return peers.sort((a, b) => subnetKey(a.subnet) - subnetKey(b.subnet));
}

function subnetKey(cidr: string): number {
  const [addr, len] = cidr.split('/');
  const o = addr.split('.').map(Number);
  return (((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0) * 64 + Number(len);
}
