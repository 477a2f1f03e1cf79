// The server side of gossip streams (proto/gossip.proto, Stream). The call's header was
// authenticated from its metadata before this runs (GrpcTransport's interceptor, as for a unary
// request); every message is then authenticated on its own (MAC of its kind, window, nonce,
// recipient) and must come from the stream's sender. A message that fails any of these ends the
// stream with the error status a unary request would get, counted by reason. Requests are answered
// on the stream in the order they complete, each by "<kind>.reply" or "<kind>.error".
//
// Contracts: one StreamService per GrpcTransport; single-threaded.
import * as grpc from '@grpc/grpc-js';
import type { Envelope as WireEnvelope, Envelope__Output } from '../../../proto/generated/weft/gossip/v1/Envelope.js';
import type { Authenticator, EnvelopeHeader, RejectReason } from './auth.js';
import { envelopeSize } from './codec.js';
import type { MessageKind } from './messages.js';
import type { GossipStats } from './stats.js';

/** Requests of one stream being answered at once; a peer sending more has its stream ended. */
export const MAX_STREAM_INFLIGHT = 64;
const REQUEST_KINDS: ReadonlySet<string> = new Set<MessageKind>(['Ping', 'PingReq', 'PushPull', 'Gossip']);

/** A request's answer: the response body, or the status a unary call would end with. */
export type Answer = { ok: true; body: Buffer } | { ok: false; error: grpc.ServiceError };

export interface StreamServiceHost {
  readonly self: string;
  readonly auth: Authenticator;
  readonly stats: GossipStats;
  /** The stream's header, authenticated by the interceptor; undefined if it was not. */
  verified(metadata: grpc.Metadata): EnvelopeHeader | undefined;
  answer(kind: MessageKind, sender: string, body: Buffer, peer: string): Promise<Answer>;
  reject(reason: RejectReason, kind: string, peer: string, detail?: string): grpc.ServiceError;
}

type StreamCall = grpc.ServerDuplexStream<Envelope__Output, WireEnvelope>;

export class StreamService {
  /** Open streams → how to end one. */
  private readonly calls = new Map<StreamCall, (err?: grpc.ServiceError) => void>();

  constructor(private readonly host: StreamServiceHost) {}

  readonly handle: grpc.handleBidiStreamingCall<Envelope__Output, WireEnvelope> = (call) => {
    const host = this.host;
    const peer = call.getPeer();
    const header = host.verified(call.metadata);
    if (!header) return void call.emit('error', host.reject('unknown', 'Stream', peer, 'stream header not authenticated'));
    host.stats.streams.accepted++;
    let inflight = 0;
    let halfClosed = false;
    let ended = false;
    const finish = (err?: grpc.ServiceError): void => {
      if (ended) return;
      ended = true;
      this.calls.delete(call);
      if (err) call.emit('error', err);
      else call.end();
    };
    this.calls.set(call, finish);
    call.on('cancelled', () => {
      ended = true;
      this.calls.delete(call);
    });
    call.on('end', () => {
      halfClosed = true;
      if (inflight === 0) finish();
    });
    call.on('data', (env: Envelope__Output) => {
      if (ended) return;
      host.stats.bytesReceived += envelopeSize(env);
      const kind = env.kind;
      if (!REQUEST_KINDS.has(kind)) return finish(host.reject('malformed', 'Stream', peer, `message of kind ${JSON.stringify(kind)}`));
      if (env.sender !== header.sender) return finish(host.reject('malformed', kind, peer, `message from ${JSON.stringify(env.sender)} on ${header.sender}'s stream`));
      const opened = host.auth.open(kind, env, { self: host.self });
      if (!opened.ok) return finish(host.reject(opened.reason, kind, peer));
      if (inflight >= MAX_STREAM_INFLIGHT) return finish(status(grpc.status.RESOURCE_EXHAUSTED, `more than ${MAX_STREAM_INFLIGHT} requests in flight`));
      inflight++;
      void host.answer(kind as MessageKind, header.sender, opened.body, peer).then((a) => {
        inflight--;
        if (ended) return;
        const replyKind = a.ok ? `${kind}.reply` : `${kind}.error`;
        const reply = host.auth.seal(replyKind, host.self, header.sender, a.ok ? a.body : Buffer.from(a.error.details ?? ''), env.nonce);
        const wire: WireEnvelope = { ...reply, kind: replyKind };
        host.stats.bytesSent += envelopeSize(reply);
        call.write(wire);
        if (halfClosed && inflight === 0) finish();
      });
    });
  };

  /** Ends every stream (UNAVAILABLE): their peers' pending requests go to unary calls. */
  close(): void {
    for (const finish of [...this.calls.values()]) finish(status(grpc.status.UNAVAILABLE, 'gossip is shutting down'));
  }
}

/** A gRPC error status, as a handler or a stream ends with it. */
export function status(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}
