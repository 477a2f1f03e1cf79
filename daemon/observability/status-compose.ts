// Builds the peers of the /status document from what the daemon already holds: the routes as the
// peer router merged them (each with its state: the same result the route table was built from,
// so /status and the data plane never disagree), the gossip view of each member (for last seen)
// and the data plane's per-peer counters. Pure; structural inputs so that it depends on no module.
import { parseCidr } from '../net/ipv4.js';
import type { PeerState, PeerStatus } from './status-types.js';

export interface RouteInput {
  /** "10.244.2.0/24" */
  readonly subnet: string;
  readonly publicIp: string;
  readonly vtepMac: string;
  /** Empty or undefined for a Flannel node. */
  readonly nodeName?: string | undefined;
  /** dead: withdrawn; alive/suspect: routed, that member speaks for it; lease-only: routed. */
  readonly state: PeerState;
  /** The member whose state this is (for last seen); undefined for lease-only. */
  readonly member?: string | undefined;
}

export interface MemberInput {
  readonly name: string;
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

/** One PeerStatus per route (routed or withdrawn), sorted by subnet address. */
export function composePeers(
  routes: Iterable<RouteInput>,
  members: Iterable<MemberInput>,
  traffic: Iterable<TrafficInput>,
): PeerStatus[] {
  const byName = new Map<string, MemberInput>();
  for (const m of members) byName.set(m.name, m);
  const counters = new Map<string, TrafficInput>();
  for (const t of traffic) counters.set(t.subnet, t);
  const peers: PeerStatus[] = [];
  for (const r of routes) {
    const member = r.member === undefined ? undefined : byName.get(r.member);
    const t = counters.get(r.subnet);
    peers.push({
      name: r.nodeName || r.member || null,
      publicIP: r.publicIp,
      subnet: r.subnet,
      vtepMAC: r.vtepMac,
      state: r.state,
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
  const c = parseCidr(cidr);
  return c === null ? 0 : c.ip * 64 + c.len;
}
