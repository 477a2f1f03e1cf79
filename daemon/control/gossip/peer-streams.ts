// The client side of gossip streams (proto/gossip.proto, Stream): one long-lived call per peer
// address and recipient name, opened by the first request to it, carries this member's requests
// and their responses. A unary call sets up an HTTP/2 stream, headers, metadata, trailers and a
// deadline per message; on a stream a message is one DATA frame each way, which halves what an
// idle member spends on its probes.
//
// What a caller sees does not change: each request settles within its timeout, rejecting on
// timeout, refusal or an unauthenticated response. A request whose stream ends before its
// response arrived (the peer restarted, the connection reached its maximum age) is sent again as
// a unary call within what is left of its timeout. A peer that answers UNIMPLEMENTED (v3) gets
// unary calls for UNSUPPORTED_RETRY_MS; one whose stream failed before carrying any response
// (refused, unreachable) for FAILED_RETRY_MS, so a dead peer is not dialled twice per probe.
//
// Contracts: owned by one GrpcTransport (streams carry its sender's identity, so unlike clients
// they are never shared between transports); single-threaded.
import * as grpc from '@grpc/grpc-js';
import type { Envelope as WireEnvelope, Envelope__Output } from '../../../proto/generated/weft/gossip/v1/Envelope.js';
import type { GossipClient } from '../../../proto/generated/weft/gossip/v1/Gossip.js';
import type { Authenticator, RejectReason } from './auth.js';
import { realClock, type TimerHandle } from './clock.js';
import { encodeHeader, envelopeSize } from './codec.js';
import type { MessageKind } from './messages.js';
import type { GossipStats } from './stats.js';

export const UNSUPPORTED_RETRY_MS = 5 * 60_000;
export const FAILED_RETRY_MS = 10_000;
/** A stream without requests for this long is closed, so its connection can idle out. */
export const STREAM_IDLE_MS = 60_000;
/** Longest reason read from an error response. */
const MAX_REASON_BYTES = 200;

/** What the streams need of their transport. */
export interface StreamHost {
  readonly sender: string;
  readonly auth: Authenticator;
  readonly stats: GossipStats;
  /** Request metadata key of the envelope header. */
  readonly metadataKey: string;
  /** The pooled client for `address` (touching it keeps it from idling out). */
  client(address: string): GossipClient;
  /** The same request as a unary call; resolves with the authenticated response body. */
  unary(kind: MessageKind, address: string, recipient: string, body: Buffer, timeoutMs: number): Promise<Buffer>;
  /** Counts and logs a rejected envelope; the error to reject the request with. */
  reject(reason: RejectReason, kind: string, peer: string, detail?: string): Error;
}

interface Pending {
  readonly kind: MessageKind;
  readonly nonce: Buffer;
  readonly body: Buffer;
  readonly deadline: number;
  readonly resolve: (body: Buffer) => void;
  readonly reject: (err: Error) => void;
  timer: TimerHandle | undefined;
}

interface PeerStream {
  readonly key: string;
  readonly address: string;
  readonly recipient: string;
  readonly client: GossipClient;
  readonly call: grpc.ClientDuplexStream<WireEnvelope, Envelope__Output>;
  /** Request nonce (hex) → the request. */
  readonly pending: Map<string, Pending>;
  responses: number;
  lastUsed: number;
  ended: boolean;
}

export class PeerStreams {
  private readonly streams = new Map<string, PeerStream>();
  /** Stream key → wall-clock ms before which requests go unary. */
  private readonly unaryUntil = new Map<string, number>();
  private sweep: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly host: StreamHost) {}

  /** Sends `body` as a `kind` request to `recipient` at `address`; resolves with the response body. */
  request(kind: MessageKind, address: string, recipient: string, body: Buffer, timeoutMs: number): Promise<Buffer> {
    const key = `${recipient}@${address}`;
    const now = Date.now();
    if (this.closed) return Promise.reject(new Error('gossip transport closed'));
    if ((this.unaryUntil.get(key) ?? 0) > now) return this.host.unary(kind, address, recipient, body, timeoutMs);
    const s = this.streamTo(key, address, recipient);
    s.lastUsed = now;
    const env = this.host.auth.seal(kind, this.host.sender, recipient, body);
    const wire: WireEnvelope = { ...env, kind };
    this.host.stats.bytesSent += envelopeSize(env);
    return new Promise<Buffer>((resolve, reject) => {
      const p: Pending = { kind, nonce: env.nonce, body, deadline: now + timeoutMs, resolve, reject, timer: undefined };
      const id = env.nonce.toString('hex');
      p.timer = realClock.setTimer('gossip-request-timeout', timeoutMs, () => {
        s.pending.delete(id);
        this.fail(p, new Error(`gossip ${kind} to ${address}: no response within ${timeoutMs} ms`));
      });
      s.pending.set(id, p);
      s.call.write(wire);
    });
  }

  /** Ends every stream; pending requests reject. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.sweep) clearInterval(this.sweep);
    for (const s of [...this.streams.values()]) this.end(s, new Error('gossip transport closed'));
  }

  private streamTo(key: string, address: string, recipient: string): PeerStream {
    const client = this.host.client(address);
    const s = this.streams.get(key);
    if (s && s.client === client) return s;
    // The pool dialled the peer afresh (its old channel was failing): this stream goes with it.
    if (s) this.end(s);
    const header = this.host.auth.seal('Stream', this.host.sender, recipient, Buffer.alloc(0));
    const metadata = new grpc.Metadata();
    metadata.set(this.host.metadataKey, encodeHeader(header));
    const call = client.Stream(metadata);
    const created: PeerStream = { key, address, recipient, client, call, pending: new Map(), responses: 0, lastUsed: Date.now(), ended: false };
    this.streams.set(key, created);
    this.host.stats.streams.opened++;
    call.on('data', (env: Envelope__Output) => this.onResponse(created, env));
    call.on('error', (err: grpc.ServiceError) => this.onEnd(created, err.code));
    call.on('status', (st: grpc.StatusObject) => this.onEnd(created, st.code));
    if (!this.sweep) {
      this.sweep = setInterval(() => this.closeIdle(), STREAM_IDLE_MS / 2);
      this.sweep.unref();
    }
    return created;
  }

  private onResponse(s: PeerStream, env: Envelope__Output): void {
    this.host.stats.bytesReceived += envelopeSize(env);
    const id = env.inReplyTo.toString('hex');
    const p = s.pending.get(id);
    // A response after its request timed out is dropped, as grpc-js drops a late unary response.
    if (!p) return;
    s.pending.delete(id);
    s.responses++;
    const replyKind = `${p.kind}.reply`;
    if (env.kind !== replyKind && env.kind !== `${p.kind}.error`) return this.fail(p, this.host.reject('malformed', replyKind, s.address, `response of kind ${JSON.stringify(env.kind)}`));
    const opened = this.host.auth.open(env.kind, env, { self: this.host.sender, replyTo: p.nonce });
    if (!opened.ok) return this.fail(p, this.host.reject(opened.reason, env.kind, s.address));
    if (env.kind !== replyKind) return this.fail(p, new Error(`gossip ${p.kind} refused by ${s.address}: ${opened.body.toString('utf8', 0, MAX_REASON_BYTES)}`));
    p.timer?.cancel();
    p.resolve(opened.body);
  }

  /** The stream ended (`code` OK when the peer closed it): pending requests go unary. */
  private onEnd(s: PeerStream, code: grpc.status): void {
    if (s.ended) return;
    if (code === grpc.status.UNIMPLEMENTED) this.unaryUntil.set(s.key, Date.now() + UNSUPPORTED_RETRY_MS);
    else if (s.responses === 0) this.unaryUntil.set(s.key, Date.now() + FAILED_RETRY_MS);
    this.end(s);
  }

  /** Forgets `s`; its pending requests reject with `err`, or without one are sent again as unary calls. */
  private end(s: PeerStream, err?: Error): void {
    s.ended = true;
    if (this.streams.get(s.key) === s) this.streams.delete(s.key);
    s.call.cancel();
    const now = Date.now();
    for (const p of s.pending.values()) {
      p.timer?.cancel();
      const left = p.deadline - now;
      if (err || left <= 0 || this.closed) {
        this.fail(p, err ?? new Error(`gossip ${p.kind} to ${s.address}: stream ended`));
        continue;
      }
      this.host.stats.streams.fallbacks++;
      this.host.unary(p.kind, s.address, s.recipient, p.body, left).then(p.resolve, p.reject);
    }
    s.pending.clear();
  }

  private fail(p: Pending, err: Error): void {
    p.timer?.cancel();
    this.host.stats.callFailures++;
    p.reject(err);
  }

  private closeIdle(): void {
    const cutoff = Date.now() - STREAM_IDLE_MS;
    for (const s of [...this.streams.values()]) if (s.lastUsed < cutoff && s.pending.size === 0) this.end(s);
    for (const [key, until] of this.unaryUntil) if (until < Date.now()) this.unaryUntil.delete(key);
    if (this.streams.size === 0 && this.sweep) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
  }
}
