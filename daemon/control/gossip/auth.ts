// Envelope authentication with the cluster key (see proto/gossip.proto for the MAC layout).
// open() checks, in order: shape (malformed), MAC (bad_hmac), timestamp window and nonce cache
// (replay), and for responses that in_reply_to names the request (replay). Bodies are only decoded
// after open() accepted the envelope.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const NONCE_SIZE = 16;
export const MAC_SIZE = 32;
export const MAX_SENDER_LENGTH = 253;
const MAC_LABEL = Buffer.from('weft-gossip-v1');

export type RejectReason = 'bad_hmac' | 'replay' | 'malformed' | 'unknown';
export const REJECT_REASONS: readonly RejectReason[] = ['bad_hmac', 'replay', 'malformed', 'unknown'];

export interface Envelope {
  sender: string;
  timestampMs: number;
  nonce: Buffer;
  inReplyTo: Buffer;
  body: Buffer;
  mac: Buffer;
}

export type OpenResult = { ok: true; body: Buffer; sender: string; nonce: Buffer } | { ok: false; reason: RejectReason };

export interface AuthOptions {
  /** Accepted clock difference between sender and receiver, ms (default 30 s). */
  windowMs?: number;
  /** Nonces remembered at most (default 100 000); the oldest go first. */
  maxNonces?: number;
  /** Wall clock, ms since the epoch. */
  now?: () => number;
}

export class Authenticator {
  private readonly key: Buffer;
  private readonly windowMs: number;
  private readonly maxNonces: number;
  private readonly now: () => number;
  /** nonce (hex) → wall-clock ms after which it can no longer pass the window check. */
  private readonly seen = new Map<string, number>();
  nonceEvictions = 0;

  constructor(key: Buffer, opts: AuthOptions = {}) {
    this.key = Buffer.from(key);
    this.windowMs = opts.windowMs ?? 30_000;
    this.maxNonces = opts.maxNonces ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** A signed envelope for `body`; `inReplyTo` is the request's nonce when answering one. */
  seal(kind: string, sender: string, body: Buffer, inReplyTo: Buffer = EMPTY): Envelope {
    const env: Envelope = { sender, timestampMs: this.now(), nonce: randomBytes(NONCE_SIZE), inReplyTo, body, mac: EMPTY };
    env.mac = this.mac(kind, env);
    return env;
  }

  /** Verifies `env` as a message of `kind`; `expectReplyTo` is set when `env` answers our request. */
  open(kind: string, env: Envelope, expectReplyTo?: Buffer): OpenResult {
    if (
      typeof env.sender !== 'string' || env.sender.length === 0 || env.sender.length > MAX_SENDER_LENGTH ||
      !Number.isSafeInteger(env.timestampMs) || env.nonce?.length !== NONCE_SIZE || env.mac?.length !== MAC_SIZE ||
      !Buffer.isBuffer(env.body) || !Buffer.isBuffer(env.inReplyTo)
    ) {
      return { ok: false, reason: 'malformed' };
    }
    if (!timingSafeEqual(this.mac(kind, env), env.mac)) return { ok: false, reason: 'bad_hmac' };
    const now = this.now();
    if (Math.abs(now - env.timestampMs) > this.windowMs) return { ok: false, reason: 'replay' };
    if (expectReplyTo !== undefined ? !env.inReplyTo.equals(expectReplyTo) : env.inReplyTo.length !== 0) return { ok: false, reason: 'replay' };
    const id = env.nonce.toString('hex');
    this.prune(now);
    if (this.seen.has(id)) return { ok: false, reason: 'replay' };
    if (this.seen.size >= this.maxNonces) {
      const oldest = this.seen.keys().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
      this.nonceEvictions++;
    }
    this.seen.set(id, env.timestampMs + this.windowMs);
    return { ok: true, body: env.body, sender: env.sender, nonce: env.nonce };
  }

  private mac(kind: string, env: Omit<Envelope, 'mac'>): Buffer {
    const h = createHmac('sha256', this.key);
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(Math.max(0, env.timestampMs)));
    for (const part of [MAC_LABEL, Buffer.from(kind), Buffer.from(env.sender), ts, env.nonce, env.inReplyTo, env.body]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(part.length);
      h.update(len);
      h.update(part);
    }
    return h.digest();
  }

  private prune(now: number): void {
    for (const [id, expiry] of this.seen) {
      if (expiry >= now) break;
      this.seen.delete(id);
    }
  }
}

const EMPTY = Buffer.alloc(0);
