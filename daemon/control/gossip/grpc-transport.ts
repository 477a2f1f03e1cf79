// The gRPC side of gossip: a server that authenticates, decodes and hands requests to the state
// machine, and outbound calls to peers. Every envelope in either
// direction goes through Authenticator; rejections are counted by reason and logged once per peer.
// Outbound clients come from the process-wide client pool.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { ProtoGrpcType } from '../../../proto/generated/gossip.js';
import type { Envelope__Output } from '../../../proto/generated/weft/gossip/v1/Envelope.js';
import { WeftError } from '../../errors.js';
import { Authenticator, type AuthOptions, type Envelope, type RejectReason } from './auth.js';
import { gossipClient, redial, releaseClients } from './client-pool.js';
import { codec, gossipProtoPath, MalformedMessage, PROTO_OPTIONS } from './codec.js';
import type { AckMsg, GossipHandler, GossipMsg, MessageKind, PingMsg, PingReqMsg, PushPullMsg, Transport } from './messages.js';
import type { GossipStats } from './stats.js';

const proto = grpc.loadPackageDefinition(loadSync(gossipProtoPath(), PROTO_OPTIONS)) as unknown as ProtoGrpcType;
const GossipService = proto.weft.gossip.v1.Gossip;

const MAX_LOGGED_REJECTIONS = 1_000;
/** Approximate protobuf framing of an envelope beyond its byte fields. */
const ENVELOPE_OVERHEAD = 24;

export interface GrpcTransportOptions {
  /** Interface to bind ("0.0.0.0", "127.0.0.1", "::") and port (0 = any free port). */
  host: string;
  port: number;
  key: Buffer;
  /** This member's name, sent as the envelope sender. */
  sender: string;
  stats: GossipStats;
  logger: Logger;
  auth?: AuthOptions;
}

export class GrpcTransport implements Transport {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 8 << 20 });
  private readonly auth: Authenticator;
  private readonly loggedRejections = new Set<string>();
  private handler: GossipHandler | undefined;
  private closed = false;
  port = 0;

  private constructor(private readonly opts: GrpcTransportOptions) {
    this.auth = new Authenticator(opts.key, opts.auth);
  }

  /** Binds the server; requests are refused until setHandler() is called. */
  static async listen(opts: GrpcTransportOptions): Promise<GrpcTransport> {
    const t = new GrpcTransport(opts);
    t.server.addService(GossipService.service, {
      Ping: t.serve('Ping', codec.decodePing, (h, s, m) => h.onPing(s, m), codec.encodeAck),
      PingReq: t.serve('PingReq', codec.decodePingReq, (h, s, m) => h.onPingReq(s, m), codec.encodeAck),
      PushPull: t.serve('PushPull', codec.decodePushPull, (h, s, m) => h.onPushPull(s, m), codec.encodePushPull),
      Gossip: t.serve('Gossip', codec.decodeGossip, (h, s, m) => h.onGossip(s, m), codec.encodeAck),
    });
    const host = opts.host.includes(':') && !opts.host.startsWith('[') ? `[${opts.host}]` : opts.host;
    t.port = await new Promise<number>((resolve, reject) => {
      t.server.bindAsync(`${host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) {
          reject(new WeftError('WEFT_ERR_GOSSIP', `gossip: cannot listen on ${host}:${opts.port}: ${err.message}. Free the port or choose another with --gossip-port.`, { cause: err }));
        } else resolve(port);
      });
    });
    return t;
  }

  setHandler(h: GossipHandler): void {
    this.handler = h;
  }

  ping(address: string, msg: PingMsg, timeoutMs: number): Promise<AckMsg> {
    return this.call('Ping', address, codec.encodePing(msg), timeoutMs, codec.decodeAck);
  }

  pingReq(address: string, msg: PingReqMsg, timeoutMs: number): Promise<AckMsg> {
    return this.call('PingReq', address, codec.encodePingReq(msg), timeoutMs, codec.decodeAck);
  }

  pushPull(address: string, msg: PushPullMsg, timeoutMs: number): Promise<PushPullMsg> {
    return this.call('PushPull', address, codec.encodePushPull(msg), timeoutMs, codec.decodePushPull);
  }

  gossip(address: string, msg: GossipMsg, timeoutMs: number): Promise<AckMsg> {
    return this.call('Gossip', address, codec.encodeGossip(msg), timeoutMs, codec.decodeAck);
  }

  warm(address: string): void {
    if (this.closed) return;
    gossipClient(GossipService, address, this);
    redial(address);
  }

  /** Stops serving (in-flight calls get `graceMs`) and closes every client. Idempotent. */
  async close(graceMs = 200): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    releaseClients(this);
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      force.unref();
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private serve<Req, Res>(
    kind: MessageKind,
    decode: (b: Buffer) => Req,
    handle: (h: GossipHandler, sender: string, m: Req) => Res | undefined | Promise<Res>,
    encode: (m: Res) => Buffer,
  ): grpc.handleUnaryCall<Envelope__Output, Envelope> {
    return (call, callback) => {
      const env = call.request;
      this.opts.stats.bytesReceived += envelopeSize(env);
      const peer = call.getPeer();
      const opened = this.auth.open(kind, env);
      if (!opened.ok) return callback(this.reject(opened.reason, kind, peer));
      const h = this.handler;
      if (!h) return callback({ code: grpc.status.UNAVAILABLE, details: 'gossip is shutting down' });
      this.opts.stats.received[kind]++;
      let msg: Req;
      try {
        msg = decode(opened.body);
      } catch (err) {
        if (err instanceof MalformedMessage) return callback(this.reject('malformed', kind, peer, err.message));
        throw err;
      }
      Promise.resolve(handle(h, opened.sender, msg)).then(
        (res) => {
          if (res === undefined) return callback(this.reject('unknown', kind, peer, 'probe addressed to another member'));
          const reply = this.auth.seal(`${kind}.reply`, this.opts.sender, encode(res), opened.nonce);
          this.opts.stats.bytesSent += envelopeSize(reply);
          callback(null, reply);
        },
        (err: unknown) => callback({ code: grpc.status.INTERNAL, details: String(err) }),
      );
    };
  }

  private call<Res>(kind: MessageKind, address: string, body: Buffer, timeoutMs: number, decode: (b: Buffer) => Res): Promise<Res> {
    if (this.closed) return Promise.reject(new Error('gossip transport closed'));
    const env = this.auth.seal(kind, this.opts.sender, body);
    const client = gossipClient(GossipService, address, this);
    this.opts.stats.sent[kind]++;
    this.opts.stats.bytesSent += envelopeSize(env);
    return new Promise<Res>((resolve, reject) => {
      const fail = (err: Error): void => {
        this.opts.stats.callFailures++;
        reject(err);
      };
      client[kind](env, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err || !res) return fail(err ?? new Error('empty reply'));
        this.opts.stats.bytesReceived += envelopeSize(res);
        const opened = this.auth.open(`${kind}.reply`, res, env.nonce);
        if (!opened.ok) return fail(this.reject(opened.reason, `${kind}.reply`, address));
        try {
          resolve(decode(opened.body));
        } catch (e) {
          if (e instanceof MalformedMessage) return fail(this.reject('malformed', `${kind}.reply`, address, e.message));
          fail(e as Error);
        }
      });
    });
  }

  private reject(reason: RejectReason, kind: string, peer: string, detail?: string): grpc.ServiceError {
    this.opts.stats.rejected[reason]++;
    const key = `${reason} ${peer.replace(/:\d+$/, '')}`;
    const fields = { reason, kind, peer, detail };
    if (!this.loggedRejections.has(key) && this.loggedRejections.size < MAX_LOGGED_REJECTIONS) {
      this.loggedRejections.add(key);
      this.opts.logger.warn(fields, `gossip: rejected ${kind} from ${peer}: ${reason} (further rejections from it are counted, not logged)`);
    } else {
      this.opts.logger.debug(fields, 'gossip: rejected message');
    }
    const err = new Error(`gossip message rejected: ${reason}`) as grpc.ServiceError;
    err.code = reason === 'unknown' ? grpc.status.NOT_FOUND : reason === 'malformed' ? grpc.status.INVALID_ARGUMENT : grpc.status.UNAUTHENTICATED;
    err.details = `rejected: ${reason}`;
    err.metadata = new grpc.Metadata();
    return err;
  }
}

function envelopeSize(e: Envelope | Envelope__Output): number {
  return e.body.length + e.nonce.length + e.mac.length + e.inReplyTo.length + Buffer.byteLength(e.sender) + ENVELOPE_OVERHEAD;
}
