// What /metrics shows of a gossip node: a plain snapshot of its counters, taken at scrape time
// (observability/metrics.ts turns it into weft_gossip_* samples).
import type { GossipNode } from './node.js';
import type { RefusalReporter } from './refusal-reporter.js';
import type { MemberState } from './types.js';

export interface GossipCounters {
  /** Members known by state, this node counted as alive. */
  readonly members: Readonly<Record<MemberState, number>>;
  /** Requests sent / received, by message kind. */
  readonly sent: Readonly<Record<string, number>>;
  readonly received: Readonly<Record<string, number>>;
  /**
   * Envelopes dropped by reason; records refused for an implausible incarnation (`incarnation`);
   * connections closed at accept over a limit (`connection_limit`) or for carrying no authenticated
   * request (`connection_unauthenticated`); with `refusals`, members not routed, as
   * `route-<reason>`.
   */
  readonly rejected: Readonly<Record<string, number>>;
  /** Streams opened, accepted, and requests that fell back to unary calls. */
  readonly streams: Readonly<Record<string, number>>;
  /** Probes over UDP: pings sent, acked, timed out, sent again over gRPC; checks; pings too large; unmatched acks. */
  readonly udp: Readonly<Record<string, number>>;
}

export function gossipCounters(node: GossipNode, refusals?: RefusalReporter): GossipCounters {
  const members: Record<MemberState, number> = { alive: 1, suspect: 0, dead: 0, left: 0 };
  for (const m of node.members()) members[m.state]++;
  const s = node.stats;
  const refused = Object.fromEntries(Object.entries(refusals?.counts ?? {}).map(([k, v]) => [`route-${k}`, v]));
  const guarded = { incarnation: node.counters.incarnationRefused, connection_limit: s.connections.refused, connection_unauthenticated: s.connections.unauthenticated };
  const streams = { opened: s.streams.opened, accepted: s.streams.accepted, fallback: s.streams.fallbacks };
  const udp = { sent: s.udp.sent, acked: s.udp.acked, timeout: s.udp.timeouts, fallback: s.udp.fallbacks, check: s.udp.checks, oversize: s.udp.oversize, unmatched: s.udp.unmatched };
  return { members, sent: { ...s.sent }, received: { ...s.received }, rejected: { ...s.rejected, ...guarded, ...refused }, streams, udp };
}
