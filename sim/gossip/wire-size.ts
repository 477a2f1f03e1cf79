// Bytes of gossip messages as the real transport serializes them, computed from the decoded
// message shapes with protobuf's encoding rules (proto/gossip.proto), so the simulator need not
// encode every message: the body is the exact size codec.ts would produce, the envelope the exact
// size of the Envelope that carries it (HTTP/2, TCP and IP framing excluded, as in bench:gossip's
// bytesSent). codec.ts and the Envelope sealer set every field, and protobufjs writes every field
// that is set, zero or empty included, so no field is ever omitted here.
// test/unit/sim/wire-size.test.ts checks both against the real encoders.
import type { AckMsg, GossipMsg, PingMsg, PingReqMsg, PushPullMsg } from '../../daemon/control/gossip/messages.js';
import type { MemberRecord } from '../../daemon/control/gossip/types.js';

/** Bytes of a protobuf varint. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Strings here are DNS names, addresses and MACs: ASCII, so UTF-16 length = UTF-8 bytes. */
function strField(s: string): number {
  const len = s.length;
  return 1 + (len < 128 ? 1 : varintSize(len)) + len;
}

function uintField(v: number): number {
  return 1 + (v < 128 ? 1 : varintSize(v));
}

/** Length-delimited embedded message: tag + length + body. */
function embedded(len: number): number {
  return 1 + varintSize(len) + len;
}

/** Serialized size of one Member (weft.gossip.v1.Member). */
export function memberSize(r: MemberRecord): number {
  return (
    strField(r.name) +
    strField(r.publicIp) +
    uintField(r.gossipPort) +
    strField(r.subnet) +
    strField(r.vtepMac) +
    uintField(r.vni) +
    uintField(r.incarnation) +
    2 + // state: tag + a one-byte enum
    strField(r.accuser ?? '')
  );
}

function membersSize(list: readonly MemberRecord[]): number {
  let n = 0;
  for (const r of list) n += embedded(memberSize(r));
  return n;
}

/** A packed repeated scalar: nothing when empty (protobufjs omits it), else tag + length + elements. */
function packedSize(list: readonly number[] | undefined, size: (v: number) => number): number {
  if (!list || list.length === 0) return 0;
  let n = 0;
  for (const v of list) n += size(v);
  return embedded(n);
}

export const bodySize = {
  ping: (m: PingMsg): number => strField(m.target) + uintField(m.seq) + membersSize(m.updates),
  ack: (m: AckMsg): number => uintField(m.seq) + 2 + membersSize(m.updates),
  pingReq: (m: PingReqMsg): number => embedded(memberSize(m.target)) + uintField(m.seq) + membersSize(m.updates),
  pushPull: (m: PushPullMsg): number => 2 + membersSize(m.members) + packedSize(m.digest, () => 4) + packedSize(m.differing, varintSize),
  gossip: (m: GossipMsg): number => membersSize(m.updates),
};

/** A millisecond Unix timestamp of today needs a 6-byte varint. */
const TIMESTAMP_FIELD = 1 + 6;
const NONCE_FIELD = 1 + 1 + 16;
const MAC_FIELD = 1 + 1 + 32;
const BODY_SHA256_FIELD = 1 + 1 + 32;

/**
 * Serialized Envelope carrying `body` bytes from `sender` to `recipient`; a request's in_reply_to
 * is empty, a reply's is the request's nonce.
 */
export function envelopeSize(sender: string, recipient: string, body: number, reply: boolean): number {
  return strField(sender) + strField(recipient) + TIMESTAMP_FIELD + NONCE_FIELD + (reply ? NONCE_FIELD : 2) + embedded(body) + MAC_FIELD + BODY_SHA256_FIELD;
}
