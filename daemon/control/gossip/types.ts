// Membership records as the SWIM state machine sees them, independent of the wire encoding.

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** Precedence at equal incarnation: a later state overrides an earlier one. */
export const STATE_RANK: Readonly<Record<MemberState, number>> = { alive: 0, suspect: 1, dead: 2, left: 3 };

/** What a member says about itself; fixed for the life of one process. */
export interface MemberInfo {
  name: string;
  publicIp: string;
  gossipPort: number;
  /** The member's subnet lease, "10.244.1.0/24". */
  subnet: string;
  /** "aa:bb:cc:dd:ee:ff" */
  vtepMac: string;
  vni: number;
}

/** One update as gossiped: the member's info plus incarnation and state. */
export interface MemberRecord extends MemberInfo {
  incarnation: number;
  state: MemberState;
  /** Suspect records only: who suspects it. */
  accuser?: string;
}

/** A member in the local view (a copy; mutating it changes nothing). */
export interface MemberView extends MemberRecord {
  /** Local clock (ms) of the last direct or indirect ack, or of the last update naming it alive. */
  lastSeen: number;
  /** Local clock (ms) of the last state change. */
  stateSince: number;
}

/** Address of a member's gossip endpoint, "host:port" (IPv6 hosts in brackets). */
export function memberAddress(m: Pick<MemberInfo, 'publicIp' | 'gossipPort'>): string {
  return m.publicIp.includes(':') ? `[${m.publicIp}]:${m.gossipPort}` : `${m.publicIp}:${m.gossipPort}`;
}

/** True when `a` supersedes `b` for the same member name. */
export function supersedes(a: Pick<MemberRecord, 'incarnation' | 'state'>, b: Pick<MemberRecord, 'incarnation' | 'state'>): boolean {
  return a.incarnation > b.incarnation || (a.incarnation === b.incarnation && STATE_RANK[a.state] > STATE_RANK[b.state]);
}
