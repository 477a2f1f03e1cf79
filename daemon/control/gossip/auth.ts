// Envelope authentication with the cluster key (see proto/gossip.proto for the MAC layout).
// The MAC covers the body through its SHA-256 digest, so a request is checked in two steps:
// openHeader() before the body is read (shape → malformed, MAC → bad_hmac, recipient →
// misdirected, timestamp window, in_reply_to and nonce cache → replay), then matchBody() once it
// arrived (digest → bad_hmac). open() does both for an envelope received whole (a response).
// Bodies are only decoded after both accepted. Several keys can be held during a key rotation:
// the first signs, any of them verifies.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';
import { NonceSource } from './nonces.js';

export const NONCE_SIZE = 16;
export const MAC_SIZE = 32;
export const DIGEST_SIZE = 32;
export const MAX_SENDER_LENGTH = 253;
const MAC_LABEL = Buffer.from('weft-gossip-v2');

export type RejectReason = 'bad_hmac' | 'replay' | 'misdirected' | 'malformed' | 'unknown';
export const REJECT_REASONS: readonly RejectReason[] = ['bad_hmac', 'replay', 'misdirected', 'malformed', 'unknown'];

/** An envelope's authenticated fields, without its body. */
export interface EnvelopeHeader {
  sender: string;
  /** The receiver's node name; '' only for a PushPull to a seed whose name is unknown. */
  recipient: string;
  timestampMs: number;
  nonce: Buffer;
  inReplyTo: Buffer;
  bodySha256: Buffer;
  mac: Buffer;
}

export interface Envelope extends EnvelopeHeader {
  body: Buffer;
}

export type Rejection = { ok: false; reason: RejectReason };
export type HeaderResult = { ok: true; sender: string; nonce: Buffer } | Rejection;
export type OpenResult = { ok: true; body: Buffer; sender: string; nonce: Buffer } | Rejection;

/** What the receiver expects of an envelope. */
export interface Expectation {
  /** This member's name: the envelope's recipient must be it. */
  self: string;
  /** Responses: the nonce of our request. */
  replyTo?: Buffer;
  /** Accept an empty recipient (PushPull requests only: a join through a seed). */
  allowUnnamed?: boolean;
}

export interface AuthOptions {
  /** Accepted clock difference between sender and receiver, ms (default 30 s). */
  windowMs?: number;
  /** Nonces remembered at most (default 100 000); the oldest go first. */
  maxNonces?: number;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
}

export class Authenticator {
  private readonly keys: readonly Buffer[];
  private readonly nonces = new NonceSource(NONCE_SIZE);
  private readonly windowMs: number;
  private readonly maxNonces: number;
  private readonly now: () => number;
  /** nonce (hex) → wall-clock ms after which it can no longer pass the window check. */
  private readonly seen = new Map<string, number>();
  nonceEvictions = 0;

  /** `key`: the cluster key, or the keys of a rotation (the first signs, all verify). */
  constructor(key: Buffer | readonly Buffer[], opts: AuthOptions = {}) {
    const keys = Buffer.isBuffer(key) ? [key] : key;
    if (keys.length === 0) throw new Error('Authenticator: no cluster key');
    this.keys = keys.map((k) => Buffer.from(k));
    this.windowMs = opts.windowMs ?? 30_000;
    this.maxNonces = opts.maxNonces ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** A signed envelope for `body` to `recipient`; `inReplyTo` is the request's nonce when answering one. */
  seal(kind: string, sender: string, recipient: string, body: Buffer, inReplyTo: Buffer = EMPTY): Envelope {
    const env: Envelope = { sender, recipient, timestampMs: this.now(), nonce: this.nonces.take(), inReplyTo, body, bodySha256: sha256(body), mac: EMPTY };
    env.mac = hmacSha256(this.keys[0], macInput(kind, env));
    return env;
  }

  /** Checks everything but the body; a header accepted here has used up its nonce. */
  openHeader(kind: string, h: EnvelopeHeader, expect: Expectation): HeaderResult {
    if (
      typeof h.sender !== 'string' || h.sender.length === 0 || h.sender.length > MAX_SENDER_LENGTH ||
      typeof h.recipient !== 'string' || h.recipient.length > MAX_SENDER_LENGTH ||
      !Number.isSafeInteger(h.timestampMs) || h.nonce?.length !== NONCE_SIZE || h.mac?.length !== MAC_SIZE ||
      h.bodySha256?.length !== DIGEST_SIZE || !Buffer.isBuffer(h.inReplyTo)
    ) {
      return { ok: false, reason: 'malformed' };
    }
    const input = macInput(kind, h);
    if (!this.keys.some((k) => timingSafeEqual(hmacSha256(k, input), h.mac))) return { ok: false, reason: 'bad_hmac' };
    if (h.recipient !== expect.self && !(h.recipient === '' && expect.allowUnnamed)) return { ok: false, reason: 'misdirected' };
    const now = this.now();
    if (Math.abs(now - h.timestampMs) > this.windowMs) return { ok: false, reason: 'replay' };
    if (expect.replyTo !== undefined ? !h.inReplyTo.equals(expect.replyTo) : h.inReplyTo.length !== 0) return { ok: false, reason: 'replay' };
    const id = h.nonce.toString('hex');
    this.prune(now);
    if (this.seen.has(id)) return { ok: false, reason: 'replay' };
    if (this.seen.size >= this.maxNonces) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
      this.nonceEvictions++;
    }
    this.seen.set(id, h.timestampMs + this.windowMs);
    return { ok: true, sender: h.sender, nonce: h.nonce };
  }

  /** True when `body` is the one an accepted header announced. */
  matchBody(h: Pick<EnvelopeHeader, 'bodySha256'>, body: Buffer): boolean {
    return Buffer.isBuffer(body) && timingSafeEqual(sha256(body), h.bodySha256);
  }

  /** openHeader() and matchBody() for an envelope received whole. */
  open(kind: string, env: Envelope, expect: Expectation): OpenResult {
    const h = this.openHeader(kind, env, expect);
    if (!h.ok) return h;
    if (!this.matchBody(env, env.body)) return { ok: false, reason: 'bad_hmac' };
    return { ok: true, body: env.body, sender: h.sender, nonce: h.nonce };
  }

  private prune(now: number): void {
    for (const [id, expiry] of this.seen) {
      if (expiry >= now) break;
      this.seen.delete(id);
    }
  }
}

function hmacSha256(key: Buffer, message: Buffer): Buffer {
  return createHmac('sha256', key).update(message).digest();
}

function sha256(data: Buffer): Buffer {
  return hash('sha256', data, 'buffer');
}

/**
 * The MAC's message (proto/gossip.proto: label, kind, sender, recipient, timestamp, nonce,
 * in_reply_to, body digest, each after its u32 big-endian length), in one buffer.
 */
function macInput(kind: string, h: Omit<EnvelopeHeader, 'mac'>): Buffer {
  const texts = [kind, h.sender, h.recipient];
  let size = 8 * 4 + MAC_LABEL.length + 8 + h.nonce.length + h.inReplyTo.length + h.bodySha256.length;
  for (const t of texts) size += Buffer.byteLength(t);
  const b = Buffer.allocUnsafe(size);
  let o = 0;
  const bytes = (part: Buffer): void => {
    o = b.writeUInt32BE(part.length, o);
    o += part.copy(b, o);
  };
  bytes(MAC_LABEL);
  for (const t of texts) {
    const n = b.write(t, o + 4);
    o = b.writeUInt32BE(n, o) + n;
  }
  o = b.writeUInt32BE(8, o);
  o = b.writeBigUInt64BE(BigInt(Math.max(0, h.timestampMs)), o);
  bytes(h.nonce);
  bytes(h.inReplyTo);
  bytes(h.bodySha256);
  return b;
}

const EMPTY = Buffer.alloc(0);
