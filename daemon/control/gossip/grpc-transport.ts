// The gRPC side of gossip: a server that authenticates, decodes and hands requests to the state
// machine, and outbound calls to peers. Every envelope in either direction goes through
// Authenticator; rejections are counted by reason and logged once per peer. Outbound clients come
// from the process-wide client pool.
//
// What a peer without the cluster key can hold is bounded: the TCP listener is a ConnectionGuard
// (connections in all and per source; none stays open without an authenticated request), a
// request's header is authenticated from its metadata by an interceptor before its body is read
// (the body of a refused request is never buffered, and a connection whose first request fails
// the MAC is closed), messages are at most MAX_MESSAGE_SIZE, streams per connection and session
// memory are limited, and grpc-js closes idle, silent (keepalive) and old connections.
// Requests to a named recipient travel on a long-lived stream per peer (peer-streams.ts,
// stream-service.ts), whose header is authenticated the same way before any message is read;
// each of its messages is authenticated on its own. With `udpProbes`, Pings to members that answer
// them over UDP go there instead (udp-probes.ts), on the UDP port of the same number.
import type net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import type { ProtoGrpcType } from '../../../proto/generated/gossip.js';
import type { Envelope__Output } from '../../../proto/generated/weft/gossip/v1/Envelope.js';
import { WeftError } from '../../errors.js';
import { Authenticator, type AuthOptions, type Envelope, type EnvelopeHeader, type RejectReason } from './auth.js';
import { gossipClient, redial, releaseClients } from './client-pool.js';
import { realClock } from './clock.js';
import { codec, decodeHeader, encodeHeader, ENVELOPE_OVERHEAD, envelopeSize, gossipProtoPath, MalformedMessage, MAX_MESSAGE_SIZE, PROTO_OPTIONS } from './codec.js';
import { ConnectionGuard, type ConnectionLimits } from './connection-guard.js';
import type { AckMsg, GossipHandler, GossipMsg, MessageKind, PingMsg, PingReqMsg, PushPullMsg, Transport } from './messages.js';
import { PeerStreams } from './peer-streams.js';
import type { GossipStats } from './stats.js';
import { status, StreamService, type Answer } from './stream-service.js';
import { UdpProbes } from './udp-probes.js';

const proto = grpc.loadPackageDefinition(loadSync(gossipProtoPath(), PROTO_OPTIONS)) as unknown as ProtoGrpcType;
const GossipService = proto.weft.gossip.v1.Gossip;

const MAX_LOGGED_REJECTIONS = 1_000;
/** Request metadata carrying the envelope header (see proto/gossip.proto). */
export const AUTH_METADATA = 'weft-auth-bin';

export interface TransportLimits extends ConnectionLimits {
  /** An authenticated connection without calls for this long is closed (GOAWAY). */
  readonly idleMs: number;
  /** Connections are closed after this long (±10 %), in-flight calls getting ageGraceMs more. */
  readonly maxAgeMs: number;
  readonly ageGraceMs: number;
  /** Ping a connection silent for keepaliveMs; close it if the ping is not answered in keepaliveTimeoutMs. */
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Concurrent calls on one connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxStreams: number;
  /** Node's maxSessionMemory per connection, MB: beyond it, new streams are refused. */
  readonly sessionMemoryMb: number;
}

/**
 * A peer holds one connection to us per process (legitimately a few more while one drains), so 32
 * per source address is generous; 4 096 in all covers a cluster of thousands of nodes.
 */
export const DEFAULT_LIMITS: TransportLimits = Object.freeze({
  maxConnections: 4_096,
  perSource: 32,
  authTimeoutMs: 10_000,
  idleMs: 60_000,
  maxAgeMs: 30 * 60_000,
  ageGraceMs: 30_000,
  keepaliveMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  maxStreams: 32,
  sessionMemoryMb: 32,
});

export interface GrpcTransportOptions {
  /** Interface to bind ("0.0.0.0", "127.0.0.1", "::") and port (0 = any free port). */
  host: string;
  port: number;
  /** The cluster key, or the keys of a rotation (the first signs, all verify). */
  key: Buffer | readonly Buffer[];
  /** This member's name, sent as the envelope sender. */
  sender: string;
  stats: GossipStats;
  logger: Logger;
  auth?: AuthOptions;
  /** Defaults: DEFAULT_LIMITS. */
  limits?: Partial<TransportLimits>;
  /**
   * Serve and use the Stream method (default true). False behaves as a v3 member: no Stream
   * method (peers get UNIMPLEMENTED) and unary calls only.
   */
  streams?: boolean;
  /** Answer Pings over UDP and send them there to members that do (udp-probes.ts); default false. */
  udpProbes?: boolean;
}

/** Decodes a request body, hands it to the state machine and encodes its response (undefined: refused). */
type Serve = (h: GossipHandler, sender: string, body: Buffer) => Promise<Buffer | undefined>;

function served<Req, Res>(decode: (b: Buffer) => Req, handle: (h: GossipHandler, s: string, m: Req) => Res | undefined | Promise<Res>, encode: (m: Res) => Buffer): Serve {
  return async (h, sender, body) => {
    const res = await handle(h, sender, decode(body));
    return res === undefined ? undefined : encode(res);
  };
}

const SERVED: Record<MessageKind, Serve> = {
  Ping: served(codec.decodePing, (h, s, m) => h.onPing(s, m), codec.encodeAck),
  PingReq: served(codec.decodePingReq, (h, s, m) => h.onPingReq(s, m), codec.encodeAck),
  PushPull: served(codec.decodePushPull, (h, s, m) => h.onPushPull(s, m), codec.encodePushPull),
  Gossip: served(codec.decodeGossip, (h, s, m) => h.onGossip(s, m), codec.encodeAck),
};

export class GrpcTransport implements Transport {
  private readonly server: grpc.Server;
  private readonly guard: ConnectionGuard;
  private readonly injector: grpc.ConnectionInjector;
  private readonly auth: Authenticator;
  private readonly loggedRejections = new Set<string>();
  /** Request metadata → its header, once the interceptor authenticated it. */
  private readonly verified = new WeakMap<grpc.Metadata, EnvelopeHeader>();
  private handler: GossipHandler | undefined;
  private readonly streamService: StreamService;
  private readonly streams: PeerStreams | undefined;
  private udp: UdpProbes | undefined;
  private closed = false;
  port = 0;

  private constructor(private readonly opts: GrpcTransportOptions) {
    this.auth = new Authenticator(opts.key, opts.auth);
    const l: TransportLimits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_send_message_length': MAX_MESSAGE_SIZE,
      'grpc.max_concurrent_streams': l.maxStreams,
      'grpc-node.max_session_memory': l.sessionMemoryMb,
      'grpc.max_connection_idle_ms': l.idleMs,
      'grpc.max_connection_age_ms': l.maxAgeMs,
      'grpc.max_connection_age_grace_ms': l.ageGraceMs,
      'grpc.keepalive_time_ms': l.keepaliveMs,
      'grpc.keepalive_timeout_ms': l.keepaliveTimeoutMs,
      'grpc.enable_channelz': 0,
      interceptors: [(method, call) => this.authenticateHeader(method.path, call)],
    });
    this.injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.guard = new ConnectionGuard(l, (socket: net.Socket) => this.injector.injectConnection(socket));
    opts.stats.connections = this.guard.counters;
    this.streamService = new StreamService({
      self: opts.sender,
      auth: this.auth,
      stats: opts.stats,
      verified: (md) => this.verified.get(md),
      answer: (kind, sender, body, peer) => this.answer(kind, sender, body, peer),
      reject: (reason, kind, peer, detail) => this.reject(reason, kind, peer, detail),
    });
    if (opts.streams !== false) {
      this.streams = new PeerStreams({
        sender: opts.sender,
        auth: this.auth,
        stats: opts.stats,
        metadataKey: AUTH_METADATA,
        client: (address) => gossipClient(GossipService, address, this),
        unary: (kind, address, recipient, body, timeoutMs) => this.unary(kind, address, recipient, body, timeoutMs),
        reject: (reason, kind, peer, detail) => this.reject(reason, kind, peer, detail),
      });
    }
  }

  /** Binds the server; requests are refused until setHandler() is called. */
  static async listen(opts: GrpcTransportOptions): Promise<GrpcTransport> {
    const t = new GrpcTransport(opts);
    const unary = { Ping: t.serve('Ping'), PingReq: t.serve('PingReq'), PushPull: t.serve('PushPull'), Gossip: t.serve('Gossip') };
    if (opts.streams === false) {
      const { Stream: _, ...v3 } = GossipService.service;
      t.server.addService(v3, unary);
    } else {
      t.server.addService(GossipService.service, { ...unary, Stream: t.streamService.handle });
    }
    const host = opts.host.replace(/^\[(.*)\]$/, '$1');
    try {
      t.port = await t.guard.listen(host, opts.port);
    } catch (err) {
      t.injector.destroy();
      throw new WeftError('WEFT_ERR_GOSSIP', `gossip: cannot listen on ${host}:${opts.port}: ${(err as Error).message}. Free the port or choose another with --gossip-port.`, { cause: err });
    }
    if (opts.udpProbes) {
      t.udp = await UdpProbes.bind(host, t.port, {
        sender: opts.sender,
        auth: t.auth,
        stats: opts.stats,
        answer: (sender, ping) => t.handler?.onPing(sender, ping),
        reject: (reason, kind, peer, detail) => void t.reject(reason, kind, peer, detail),
      }, opts.logger);
    }
    return t;
  }

  setHandler(h: GossipHandler): void {
    this.handler = h;
  }

  ping(address: string, msg: PingMsg, timeoutMs: number): Promise<AckMsg> {
    if (this.udp && !this.closed) {
      const overUdp = this.udp.ping(address, msg, timeoutMs);
      if (overUdp) {
        this.opts.stats.sent.Ping++;
        return this.withFallback(overUdp, address, msg, timeoutMs);
      }
      this.udp.checkAlong(address, msg.target);
    }
    return this.call('Ping', address, msg.target, codec.encodePing(msg), timeoutMs, codec.decodeAck);
  }

  pingReq(address: string, msg: PingReqMsg, timeoutMs: number, recipient: string): Promise<AckMsg> {
    return this.call('PingReq', address, recipient, codec.encodePingReq(msg), timeoutMs, codec.decodeAck);
  }

  pushPull(address: string, msg: PushPullMsg, timeoutMs: number, recipient = ''): Promise<PushPullMsg> {
    return this.call('PushPull', address, recipient, codec.encodePushPull(msg), timeoutMs, codec.decodePushPull);
  }

  gossip(address: string, msg: GossipMsg, timeoutMs: number, recipient: string): Promise<AckMsg> {
    return this.call('Gossip', address, recipient, codec.encodeGossip(msg), timeoutMs, codec.decodeAck);
  }

  /**
   * A UDP probe whose ack has not come within half its timeout is sent again over gRPC for the rest
   * of it (memberlist's TCP fallback ping): a lost datagram, or a firewall that starts dropping UDP,
   * costs no false suspicion. Settles with the first ack; rejects once every attempt failed.
   */
  private withFallback(overUdp: Promise<AckMsg>, address: string, msg: PingMsg, timeoutMs: number): Promise<AckMsg> {
    return new Promise<AckMsg>((resolve, reject) => {
      let attempts = 1;
      let failed = 0;
      let settled = false;
      const win = (ack: AckMsg): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve(ack);
      };
      const lose = (err: unknown): void => {
        if (settled || ++failed < attempts) return;
        settled = true;
        timer.cancel();
        reject(err);
      };
      const half = timeoutMs / 2;
      const timer = realClock.setTimer('gossip-udp-fallback', half, () => {
        if (settled || this.closed) return;
        attempts++;
        this.opts.stats.udp.fallbacks++;
        this.call('Ping', address, msg.target, codec.encodePing(msg), timeoutMs - half, codec.decodeAck).then(win, lose);
      });
      overUdp.then(win, lose);
    });
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
    this.streams?.close();
    this.streamService.close();
    this.udp?.close();
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
    this.injector.destroy();
    await this.guard.close();
  }

  /**
   * Runs on a request's metadata, before its body is read: a request whose header does not
   * authenticate is answered at once and its body discarded unread.
   */
  private authenticateHeader(path: string, call: grpc.ServerInterceptingCallInterface): grpc.ServerInterceptingCall {
    const kind = path.slice(path.lastIndexOf('/') + 1);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const peer = call.getPeer();
        const raw = metadata.get(AUTH_METADATA)[0];
        let header: EnvelopeHeader;
        try {
          if (!Buffer.isBuffer(raw)) throw new MalformedMessage(`no ${AUTH_METADATA} metadata`);
          header = decodeHeader(raw);
        } catch (err) {
          if (!(err instanceof MalformedMessage)) throw err;
          call.sendStatus(this.reject('malformed', kind, peer, err.message));
          return this.guard.refused(peer);
        }
        const opened = this.auth.openHeader(kind, header, { self: this.opts.sender, allowUnnamed: kind === 'PushPull' });
        if (!opened.ok) {
          call.sendStatus(this.reject(opened.reason, kind, peer));
          // Only a peer without the key fails the MAC; a stale retry or a probe of a renamed member
          // (replay, misdirected) comes from a key holder whose other calls share the connection.
          if (opened.reason === 'bad_hmac' || opened.reason === 'malformed') this.guard.refused(peer);
          return;
        }
        this.guard.authenticated(peer);
        this.verified.set(metadata, header);
        next(metadata);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
  }

  private serve(kind: MessageKind): grpc.handleUnaryCall<Envelope__Output, Envelope> {
    return (call, callback) => {
      const header = this.verified.get(call.metadata);
      const body = call.request.body;
      this.opts.stats.bytesReceived += body.length + ENVELOPE_OVERHEAD;
      const peer = call.getPeer();
      if (!header) return callback(this.reject('unknown', kind, peer, 'request header not authenticated'));
      if (!this.auth.matchBody(header, body)) return callback(this.reject('bad_hmac', kind, peer, 'body does not match its digest'));
      void this.answer(kind, header.sender, body, peer).then((a) => {
        if (!a.ok) return callback(a.error);
        const reply = this.auth.seal(`${kind}.reply`, this.opts.sender, header.sender, a.body, header.nonce);
        this.opts.stats.bytesSent += envelopeSize(reply);
        callback(null, reply);
      });
    };
  }

  /** An authenticated request's answer, from either a unary call or a stream. Never rejects. */
  private async answer(kind: MessageKind, sender: string, body: Buffer, peer: string): Promise<Answer> {
    const h = this.handler;
    if (!h) return { ok: false, error: status(grpc.status.UNAVAILABLE, 'gossip is shutting down') };
    this.opts.stats.received[kind]++;
    try {
      const res = await SERVED[kind](h, sender, body);
      if (res === undefined) return { ok: false, error: this.reject('unknown', kind, peer, 'probe addressed to another member') };
      return { ok: true, body: res };
    } catch (err) {
      if (err instanceof MalformedMessage) return { ok: false, error: this.reject('malformed', kind, peer, err.message) };
      return { ok: false, error: status(grpc.status.INTERNAL, String(err)) };
    }
  }

  /** A request to `recipient` at `address`: on its stream when the recipient is named, else unary. */
  private async call<Res>(kind: MessageKind, address: string, recipient: string, body: Buffer, timeoutMs: number, decode: (b: Buffer) => Res): Promise<Res> {
    if (this.closed) throw new Error('gossip transport closed');
    this.opts.stats.sent[kind]++;
    const reply = this.streams && recipient !== '' ? await this.streams.request(kind, address, recipient, body, timeoutMs) : await this.unary(kind, address, recipient, body, timeoutMs);
    try {
      return decode(reply);
    } catch (e) {
      this.opts.stats.callFailures++;
      if (e instanceof MalformedMessage) throw this.reject('malformed', `${kind}.reply`, address, e.message);
      throw e;
    }
  }

  /** One unary call; resolves with the authenticated response body. */
  private unary(kind: MessageKind, address: string, recipient: string, body: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('gossip transport closed'));
    const env = this.auth.seal(kind, this.opts.sender, recipient, body);
    const metadata = new grpc.Metadata();
    metadata.set(AUTH_METADATA, encodeHeader(env));
    const client = gossipClient(GossipService, address, this);
    this.opts.stats.bytesSent += envelopeSize(env);
    return new Promise<Buffer>((resolve, reject) => {
      const fail = (err: Error): void => {
        this.opts.stats.callFailures++;
        reject(err);
      };
      client[kind]({ body }, metadata, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err || !res) return fail(err ?? new Error('empty reply'));
        this.opts.stats.bytesReceived += envelopeSize(res);
        const opened = this.auth.open(`${kind}.reply`, res, { self: this.opts.sender, replyTo: env.nonce });
        if (!opened.ok) return fail(this.reject(opened.reason, `${kind}.reply`, address));
        resolve(opened.body);
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
