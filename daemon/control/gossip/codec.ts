// Bodies of gossip envelopes ↔ the state machine's messages. Decoding validates every record, so
// the state machine only ever sees well-formed members; anything else throws MalformedMessage.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { parseIpv4 } from '../../net/ipv4.js';
import { parseIpv6 } from '../../net/ipv6.js';
import type { Ack__Output } from '../../../proto/generated/weft/gossip/v1/Ack.js';
import type { GossipUpdates__Output } from '../../../proto/generated/weft/gossip/v1/GossipUpdates.js';
import type { Member, Member__Output } from '../../../proto/generated/weft/gossip/v1/Member.js';
import type { MemberState as WireState } from '../../../proto/generated/weft/gossip/v1/MemberState.js';
import type { Ping__Output } from '../../../proto/generated/weft/gossip/v1/Ping.js';
import type { PingReq__Output } from '../../../proto/generated/weft/gossip/v1/PingReq.js';
import type { PushPull__Output } from '../../../proto/generated/weft/gossip/v1/PushPull.js';
import type { AckMsg, GossipMsg, PingMsg, PingReqMsg, PushPullMsg } from './messages.js';
import { MAX_SENDER_LENGTH, type Envelope, type EnvelopeHeader } from './auth.js';
import type { MemberRecord, MemberState } from './types.js';
import { LEAF_BUCKETS, validBuckets } from './digest.js';

/** Options shared with @grpc/proto-loader, so decoded objects match the generated `__Output` types. */
export const PROTO_OPTIONS = { keepCase: false, longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true } as const;

export class MalformedMessage extends Error {}

/** proto/gossip.proto, found from this module in the source tree and in dist/. */
export function gossipProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto', 'gossip.proto');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('proto/gossip.proto not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const root = protobuf.loadSync(gossipProtoPath());
const types = {
  Ping: root.lookupType('weft.gossip.v1.Ping'),
  Ack: root.lookupType('weft.gossip.v1.Ack'),
  PingReq: root.lookupType('weft.gossip.v1.PingReq'),
  PushPull: root.lookupType('weft.gossip.v1.PushPull'),
  GossipUpdates: root.lookupType('weft.gossip.v1.GossipUpdates'),
  Envelope: root.lookupType('weft.gossip.v1.Envelope'),
};

/** Enum numbers of proto/gossip.proto's MemberState: encode() writes them as they are. */
const TO_WIRE: Record<MemberState, WireState> = {
  alive: 1,
  suspect: 2,
  dead: 3,
  left: 4,
};
const FROM_WIRE: Record<string, MemberState> = {
  MEMBER_STATE_ALIVE: 'alive',
  MEMBER_STATE_SUSPECT: 'suspect',
  MEMBER_STATE_DEAD: 'dead',
  MEMBER_STATE_LEFT: 'left',
};
/**
 * The member list size limit, and so the largest full state a join reply may carry: 10,000 live
 * members (twice Kubernetes' largest supported cluster) plus the 1,024 dead and left records kept
 * (SwimConfig.maxDeadMembers), with room to spare. MAX_MESSAGE_SIZE follows from it.
 */
export const MAX_MEMBERS_PER_MESSAGE = 12_288;
/** Incarnations are uint64 on the wire; above this, JavaScript numbers lose precision. */
export const MAX_INCARNATION = Number.MAX_SAFE_INTEGER;
/** Longest text of each member field ("ffff:…:ffff" and its /128; a MAC's 17 characters). */
const MAX_IP_LENGTH = 45;
const MAX_SUBNET_LENGTH = 49;
const MAX_MAC_LENGTH = 17;

/**
 * `obj` already holds every field in its wire type (numbers, enum numbers, Buffers), so it is
 * encoded as it is, without protobufjs's fromObject() copy into a message instance.
 */
function encode(type: protobuf.Type, obj: object): Buffer {
  const b = type.encode(obj).finish();
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** uint64 fields decode as decimal strings, so values beyond 2^53 are seen rather than rounded. */
const DECODE_OPTIONS = { ...PROTO_OPTIONS, longs: String } as const;

function decode<T>(type: protobuf.Type, body: Buffer): T {
  try {
    return type.toObject(type.decode(body), DECODE_OPTIONS) as T;
  } catch (err) {
    throw new MalformedMessage(`undecodable ${type.name}: ${(err as Error).message}`);
  }
}

function toWire(r: MemberRecord): Member {
  return { name: r.name, publicIp: r.publicIp, gossipPort: r.gossipPort, subnet: r.subnet, vtepMac: r.vtepMac, vni: r.vni, incarnation: r.incarnation, state: TO_WIRE[r.state], accuser: r.accuser ?? '' };
}

function fromWire(m: Member__Output | null | undefined): MemberRecord {
  if (!m) throw new MalformedMessage('missing member');
  const state = FROM_WIRE[m.state];
  if (!state) throw new MalformedMessage(`member ${m.name}: unknown state ${m.state}`);
  if (!m.name || m.name.length > MAX_SENDER_LENGTH) throw new MalformedMessage('member without a valid name');
  // IPv4, or IPv6 for a member of an IPv6-only network (its PublicIPv6).
  if (parseIpv4(m.publicIp) === null && (!m.publicIp.includes(':') || parseIpv6(m.publicIp) === null)) throw new MalformedMessage(`member ${m.name}: invalid public IP ${JSON.stringify(m.publicIp)}`);
  if (m.gossipPort < 1 || m.gossipPort > 65_535) throw new MalformedMessage(`member ${m.name}: invalid gossip port ${m.gossipPort}`);
  if (m.publicIp.length > MAX_IP_LENGTH || m.subnet.length > MAX_SUBNET_LENGTH || m.vtepMac.length > MAX_MAC_LENGTH) throw new MalformedMessage(`member ${m.name}: oversized field`);
  if (m.accuser.length > MAX_SENDER_LENGTH) throw new MalformedMessage(`member ${m.name}: oversized accuser`);
  const incarnation = BigInt(m.incarnation);
  if (incarnation > BigInt(MAX_INCARNATION)) throw new MalformedMessage(`member ${m.name}: incarnation ${incarnation} above 2^53 - 1`);
  const r: MemberRecord = { name: m.name, publicIp: m.publicIp, gossipPort: m.gossipPort, subnet: m.subnet, vtepMac: m.vtepMac, vni: m.vni, incarnation: Number(incarnation), state };
  if (state === 'suspect' && m.accuser) r.accuser = m.accuser;
  return r;
}

function fromWireList(list: Member__Output[]): MemberRecord[] {
  if (list.length > MAX_MEMBERS_PER_MESSAGE) throw new MalformedMessage(`too many members (${list.length})`);
  return list.map(fromWire);
}

/**
 * The largest legitimate body: a PushPull of MAX_MEMBERS_PER_MESSAGE members, each with every field
 * at its longest (computed by encoding one).
 */
export const MAX_BODY_SIZE = ((): number => {
  const long = (n: number): string => 'x'.repeat(n);
  const worst: MemberRecord = {
    name: long(MAX_SENDER_LENGTH), publicIp: long(MAX_IP_LENGTH), gossipPort: 65_535, subnet: long(MAX_SUBNET_LENGTH), vtepMac: long(MAX_MAC_LENGTH),
    vni: 0xffffffff, incarnation: MAX_INCARNATION, state: 'suspect', accuser: long(MAX_SENDER_LENGTH),
  };
  const digestBytes = 2 + 3 + 4 * LEAF_BUCKETS + 2 + 3 + 2 * LEAF_BUCKETS;
  return encode(types.PushPull, { join: true, members: [toWire(worst)] }).length * MAX_MEMBERS_PER_MESSAGE + digestBytes;
})();
/** The largest envelope: the largest body plus every other field at its longest (about 600 bytes). */
export const MAX_MESSAGE_SIZE = MAX_BODY_SIZE + 1_024;

/** Approximate protobuf framing of an envelope beyond its byte fields. */
export const ENVELOPE_OVERHEAD = 24;

/** An envelope's serialized size, approximately: what the gossip byte counters add up. */
export function envelopeSize(e: Pick<Envelope, 'body' | 'nonce' | 'mac' | 'inReplyTo' | 'bodySha256' | 'sender' | 'recipient'>): number {
  return e.body.length + e.nonce.length + e.mac.length + e.inReplyTo.length + e.bodySha256.length + Buffer.byteLength(e.sender) + Buffer.byteLength(e.recipient) + ENVELOPE_OVERHEAD;
}

/** The request metadata "weft-auth-bin": an envelope without its body. */
export function encodeHeader(h: EnvelopeHeader): Buffer {
  return encode(types.Envelope, { sender: h.sender, recipient: h.recipient, timestampMs: h.timestampMs, nonce: h.nonce, inReplyTo: h.inReplyTo, bodySha256: h.bodySha256, mac: h.mac });
}

/**
 * Read from the decoded message without toObject(): its decimal-string conversion of the uint64
 * timestamp was the costliest step, and a number beyond 2^53 fails openHeader's safe-integer check
 * just as well.
 */
export function decodeHeader(b: Buffer): EnvelopeHeader {
  let m: WireEnvelope;
  try {
    m = types.Envelope.decode(b) as unknown as WireEnvelope;
  } catch (err) {
    throw new MalformedMessage(`undecodable ${types.Envelope.name}: ${(err as Error).message}`);
  }
  if (m.body.length !== 0) throw new MalformedMessage('request header carries a body');
  return { sender: m.sender, recipient: m.recipient, timestampMs: Number(m.timestampMs), nonce: bytes(m.nonce), inReplyTo: bytes(m.inReplyTo), bodySha256: bytes(m.bodySha256), mac: bytes(m.mac) };
}

/** A decoded Envelope message: unset fields read their defaults from its prototype. */
interface WireEnvelope {
  sender: string;
  recipient: string;
  timestampMs: number | protobuf.Long;
  nonce: Uint8Array | readonly number[];
  inReplyTo: Uint8Array | readonly number[];
  body: Uint8Array | readonly number[];
  bodySha256: Uint8Array | readonly number[];
  mac: Uint8Array | readonly number[];
}

/** A bytes field: a Buffer when present, the prototype's empty array when not. */
function bytes(u: Uint8Array | readonly number[]): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u);
}

export const codec = {
  encodePing: (m: PingMsg): Buffer => encode(types.Ping, { target: m.target, seq: m.seq, updates: m.updates.map(toWire) }),
  decodePing(b: Buffer): PingMsg {
    const o = decode<Ping__Output>(types.Ping, b);
    return { target: o.target, seq: o.seq, updates: fromWireList(o.updates) };
  },
  encodeAck: (m: AckMsg): Buffer => encode(types.Ack, { seq: m.seq, ok: m.ok, updates: m.updates.map(toWire) }),
  decodeAck(b: Buffer): AckMsg {
    const o = decode<Ack__Output>(types.Ack, b);
    return { seq: o.seq, ok: o.ok, updates: fromWireList(o.updates) };
  },
  encodePingReq: (m: PingReqMsg): Buffer => encode(types.PingReq, { target: toWire(m.target), seq: m.seq, updates: m.updates.map(toWire) }),
  decodePingReq(b: Buffer): PingReqMsg {
    const o = decode<PingReq__Output>(types.PingReq, b);
    return { target: fromWire(o.target), seq: o.seq, updates: fromWireList(o.updates) };
  },
  encodePushPull: (m: PushPullMsg): Buffer => encode(types.PushPull, { join: m.join, members: m.members.map(toWire), digest: m.digest ?? [], differing: m.differing ?? [] }),
  decodePushPull(b: Buffer): PushPullMsg {
    const o = decode<PushPull__Output>(types.PushPull, b);
    const msg: PushPullMsg = { join: o.join, members: fromWireList(o.members) };
    if (o.digest.length > 0) {
      if (!validBuckets(o.digest.length)) throw new MalformedMessage(`digest of ${o.digest.length} buckets (a power of two up to ${LEAF_BUCKETS} expected)`);
      msg.digest = o.digest;
    }
    if (o.differing.length > 0) {
      if (o.differing.length > LEAF_BUCKETS || o.differing.some((i) => i >= LEAF_BUCKETS)) throw new MalformedMessage(`differing buckets beyond ${LEAF_BUCKETS}`);
      msg.differing = o.differing;
    }
    return msg;
  },
  encodeGossip: (m: GossipMsg): Buffer => encode(types.GossipUpdates, { updates: m.updates.map(toWire) }),
  decodeGossip(b: Buffer): GossipMsg {
    const o = decode<GossipUpdates__Output>(types.GossipUpdates, b);
    return { updates: fromWireList(o.updates) };
  },
};
