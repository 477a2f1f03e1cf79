// Gossip traffic counters: messages and envelope bytes by kind and direction, rejections by reason.
import { REJECT_REASONS, type RejectReason } from './auth.js';
import type { ConnectionCounters } from './connection-guard.js';
import type { MessageKind } from './messages.js';

export interface GossipStats {
  /** Requests sent / received, by kind (responses are counted with their request). */
  sent: Record<MessageKind, number>;
  received: Record<MessageKind, number>;
  /** Envelopes (requests and responses) dropped, by reason. */
  rejected: Record<RejectReason, number>;
  /** Serialized envelope bytes sent and received (requests and responses; HTTP/2 framing excluded). */
  bytesSent: number;
  bytesReceived: number;
  /** Outbound calls that failed (timeout, refused, or a rejected reply). */
  callFailures: number;
  /** Inbound connections (the gossip port's ConnectionGuard). */
  connections: ConnectionCounters;
  /** Long-lived request streams (proto/gossip.proto, Stream). */
  streams: StreamCounters;
  /** Probes over UDP (udp-probes.ts). */
  udp: UdpProbeCounters;
}

export interface UdpProbeCounters {
  /** Pings sent over UDP (probes and checks), and authenticated acks received for them. */
  sent: number;
  acked: number;
  /** UDP pings unanswered within their timeout (the member is probed over gRPC again). */
  timeouts: number;
  /** UDP probes unanswered after half their timeout, sent again over gRPC. */
  fallbacks: number;
  /** UDP checks sent alongside gRPC probes to members not (or no longer) confirmed. */
  checks: number;
  /** Pings sent over gRPC because they did not fit in a datagram. */
  oversize: number;
  /** Acks for no ping in flight: late, or forged (dropped unopened). */
  unmatched: number;
}

export interface StreamCounters {
  /** Streams this member opened to peers, and streams peers opened to it (authenticated). */
  opened: number;
  accepted: number;
  /** Requests sent again as unary calls because their stream ended before the response. */
  fallbacks: number;
}

const perKind = (): Record<MessageKind, number> => ({ Ping: 0, PingReq: 0, PushPull: 0, Gossip: 0 });

export function newGossipStats(): GossipStats {
  const rejected = Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReason, number>;
  return { sent: perKind(), received: perKind(), rejected, bytesSent: 0, bytesReceived: 0, callFailures: 0, connections: { open: 0, accepted: 0, refused: 0, unauthenticated: 0 }, streams: { opened: 0, accepted: 0, fallbacks: 0 }, udp: { sent: 0, acked: 0, timeouts: 0, fallbacks: 0, checks: 0, oversize: 0, unmatched: 0 } };
}
