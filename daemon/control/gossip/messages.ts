// Decoded gossip messages and the transport seam between the SWIM state machine and the network.
// The gRPC transport implements it for real; unit tests route calls between in-memory members.
import type { MemberRecord } from './types.js';

export interface PingMsg {
  target: string;
  seq: number;
  updates: MemberRecord[];
}

export interface AckMsg {
  seq: number;
  ok: boolean;
  updates: MemberRecord[];
}

export interface PingReqMsg {
  target: MemberRecord;
  seq: number;
  updates: MemberRecord[];
}

/**
 * Join and full-state exchange: `members` is the sender's whole state, and so is the reply's.
 * Anti-entropy: the request carries `digest` (see digest.ts) and no members; the reply carries
 * the indices of the buckets that differ (`differing`) and the replier's records in them.
 */
export interface PushPullMsg {
  join: boolean;
  members: MemberRecord[];
  /** Request: bucket hashes of the sender's state (a power of two of them). */
  digest?: number[];
  /** Reply to a digest: the buckets whose hashes differ. */
  differing?: number[];
}

export interface GossipMsg {
  updates: MemberRecord[];
}

export type MessageKind = 'Ping' | 'PingReq' | 'PushPull' | 'Gossip';

/**
 * Outbound calls to the member at `address` ("host:port"), named `recipient` (a ping's recipient is
 * its target; a push-pull to a seed whose name is unknown passes ''). Each promise settles within
 * about `timeoutMs` (rejecting on timeout, refusal or an unauthenticated reply).
 */
export interface Transport {
  ping(address: string, msg: PingMsg, timeoutMs: number): Promise<AckMsg>;
  pingReq(address: string, msg: PingReqMsg, timeoutMs: number, recipient: string): Promise<AckMsg>;
  pushPull(address: string, msg: PushPullMsg, timeoutMs: number, recipient?: string): Promise<PushPullMsg>;
  gossip(address: string, msg: GossipMsg, timeoutMs: number, recipient: string): Promise<AckMsg>;
  /**
   * Optional: connect now to a member newly learned or just back (restarted), so its next probe is
   * slowed neither by the connection nor by a reconnect backoff left from its downtime.
   */
  warm?(address: string): void;
}

/** Inbound calls, answered by the state machine. `sender` is the authenticated envelope's sender. */
export interface GossipHandler {
  onPing(sender: string, msg: PingMsg): AckMsg | undefined;
  onPingReq(sender: string, msg: PingReqMsg): Promise<AckMsg>;
  onPushPull(sender: string, msg: PushPullMsg): PushPullMsg;
  onGossip(sender: string, msg: GossipMsg): AckMsg;
}
