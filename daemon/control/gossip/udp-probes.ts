// Probes over UDP, as memberlist sends them: a Ping and its Ack in one datagram each, on the UDP port
// of the gossip port's number, authenticated as every envelope (auth.ts) under their own kinds
// (KINDS), so a datagram cannot be replayed as a gRPC message or as another type of datagram.
// An idle member's CPU is its probes, and a datagram costs about half of an HTTP/2 message through
// grpc-js (bench/README.md, "Idle, 2026-12-06 05:45").
//
// Towards a member, UDP is used only once that member answered one (confirmed). Until then, and
// again after a UDP probe to it went unanswered, probes go over gRPC as before and a UDP check rides
// along at most every CHECK_INTERVAL_MS: members without UDP probes (weftd before them, a firewall
// dropping UDP) keep being probed over gRPC. GrpcTransport sends a UDP probe still unanswered after
// half its timeout again over gRPC, so a lost datagram costs no failed probe. PingReq, PushPull and
// Gossip stay on gRPC.
//
// Datagram: UDP_MAGIC, its type (DatagramType), u16 big-endian header length, the Envelope header
// (codec.encodeHeader), body (a Ping or an Ack). A check is a Ping answered by the transport with an
// empty Ack, so that the state machine's piggybacked updates never ride on it. Nothing is answered
// before its header and body authenticate; what fails is counted by reason (GossipStats.rejected)
// and dropped.
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import { LogEvent } from '../../observability/log-events.js';
import { parseIpv4 } from '../../net/ipv4.js';
import { isIpv6 } from '../../net/ipv6.js';
import type { Authenticator, Envelope, EnvelopeHeader, RejectReason } from './auth.js';
import { realClock, type TimerHandle } from './clock.js';
import { codec, decodeHeader, encodeHeader, envelopeSize, MalformedMessage } from './codec.js';
import type { AckMsg, PingMsg } from './messages.js';
import type { GossipStats } from './stats.js';

/** First two bytes of every datagram: 'W', format 1. */
export const UDP_MAGIC = Buffer.from([0x57, 0x01]);
export enum DatagramType {
  Ping = 0,
  Ack = 1,
  Check = 2,
  CheckAck = 3,
}
/** The kind each type is sealed as (the MAC covers it). */
export const KINDS: Readonly<Record<DatagramType, string>> = ['Ping.udp', 'Ping.udp.reply', 'Check.udp', 'Check.udp.reply'];
/** The type that answers each request type. */
const REPLY = { [DatagramType.Ping]: DatagramType.Ack, [DatagramType.Check]: DatagramType.CheckAck } as const;
const TYPE_OFFSET = UDP_MAGIC.length;
const PREFIX_SIZE = TYPE_OFFSET + 3;
/**
 * Largest datagram sent: below any underlay MTU weft runs on (1280 for IPv6, less IP and UDP
 * headers), so a probe is never fragmented. A Ping that does not fit goes over gRPC; an Ack that
 * does not fit carries fewer of its piggybacked updates (they are retransmitted, see BroadcastQueue).
 */
export const MAX_DATAGRAM = 1_200;
/** How often a UDP check rides along a gRPC probe to a member not (or no longer) confirmed. */
export const CHECK_INTERVAL_MS = 10_000;
/** A check unanswered for this long failed. */
export const CHECK_TIMEOUT_MS = 1_000;
/** Members whose UDP state is remembered; beyond it the map starts again (every member unconfirmed). */
const MAX_PEERS = 4_096;

export interface UdpProbeHost {
  /** This member's name. */
  readonly sender: string;
  readonly auth: Authenticator;
  readonly stats: GossipStats;
  /** The state machine's answer to an authenticated Ping; undefined when it is not ours to answer. */
  answer(sender: string, ping: PingMsg): AckMsg | undefined;
  /** Counts (and logs once per peer) a dropped datagram. */
  reject(reason: RejectReason, kind: string, peer: string, detail?: string): void;
}

interface Peer {
  /** "host:port" as the state machine names it. */
  address: string;
  /** What the socket sends to (IPv4 mapped into IPv6 on an IPv6 socket). */
  host: string;
  port: number;
  confirmed: boolean;
  /** realClock time before which no UDP check is sent. */
  nextCheckAt: number;
  /** Its not answering UDP was logged (once, until it answers again). */
  reported: boolean;
}

interface Pending {
  peer: Peer;
  type: DatagramType.Ping | DatagramType.Check;
  nonce: Buffer;
  /** Probes only; a check's ack only confirms the member. */
  resolve?: (ack: AckMsg) => void;
  reject?: (err: Error) => void;
  timer: TimerHandle;
}

export class UdpProbes {
  private readonly peers = new Map<string, Peer>();
  /** In-flight pings and checks by nonce (hex). */
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly host: UdpProbeHost,
    private readonly logger: Logger,
  ) {
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
  }

  /** Binds UDP `host`:`port`; undefined (logged) when that fails: probes then stay on gRPC. */
  static async bind(host: string, port: number, h: UdpProbeHost, logger: Logger): Promise<UdpProbes | undefined> {
    const socket = dgram.createSocket({ type: isIpv6(host) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      const why = (err as Error).message;
      logger.warn({ host, port, err: why }, `gossip: cannot bind UDP ${host}:${port} for probes (${why}); probes use gRPC. Free the UDP port to probe over UDP.`);
      return undefined;
    }
    // A send to an unreachable member can surface here; its timeout settles the probe.
    socket.on('error', () => undefined);
    return new UdpProbes(socket, h, logger);
  }

  /** Sends a UDP check alongside a gRPC probe to `address` when one is due; its ack confirms the member. */
  checkAlong(address: string, target: string): void {
    const p = this.peer(address);
    const now = realClock.now();
    if (!p || p.confirmed || now < p.nextCheckAt) return;
    p.nextCheckAt = now + CHECK_INTERVAL_MS;
    this.host.stats.udp.checks++;
    this.request(p, DatagramType.Check, { target, seq: 0, updates: [] }, CHECK_TIMEOUT_MS);
  }

  /**
   * A probe over UDP to `address` ("host:port", IPv6 in brackets) once that member is confirmed;
   * rejects after `timeoutMs` without an authenticated Ack, which unconfirms the member. Undefined
   * (nothing sent) when the member is not confirmed or the Ping does not fit in a datagram.
   */
  ping(address: string, msg: PingMsg, timeoutMs: number): Promise<AckMsg> | undefined {
    const p = this.peer(address);
    if (!p?.confirmed) return undefined;
    let sent = false;
    const acked = new Promise<AckMsg>((resolve, reject) => {
      sent = this.request(p, DatagramType.Ping, msg, timeoutMs, resolve, reject);
    });
    return sent ? acked : undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject?.(new Error('gossip transport closed'));
    }
    this.pending.clear();
    this.socket.close();
  }

  /** Seals and sends a Ping or a check; false (nothing sent) when it does not fit in MAX_DATAGRAM. */
  private request(p: Peer, type: Pending['type'], msg: PingMsg, timeoutMs: number, resolve?: (a: AckMsg) => void, reject?: (e: Error) => void): boolean {
    const env = this.host.auth.seal(KINDS[type], this.host.sender, msg.target, codec.encodePing(msg));
    const datagram = frame(type, env);
    if (datagram === undefined) {
      this.host.stats.udp.oversize++;
      return false;
    }
    const id = env.nonce.toString('hex');
    const pending: Pending = { peer: p, type, nonce: env.nonce, resolve, reject, timer: { cancel: () => undefined } };
    pending.timer = realClock.setTimer('gossip-udp-probe-timeout', timeoutMs, () => {
      if (this.pending.get(id) !== pending) return;
      this.pending.delete(id);
      this.host.stats.udp.timeouts++;
      if (type === DatagramType.Ping) {
        p.confirmed = false;
        p.nextCheckAt = 0;
      } else if (!p.confirmed && !p.reported) {
        p.reported = true;
        this.logger.warn(
          { event: LogEvent.gossipUdp, address: p.address, udp: false },
          `gossip: the member at ${p.address} does not answer probes over UDP (a weftd from before UDP probes, or ${p.port}/udp filtered between the nodes); probing it over gRPC and checking UDP every ${CHECK_INTERVAL_MS / 1000} s`,
        );
      }
      reject?.(new Error(`gossip Ping over UDP to ${p.address}: no ack within ${timeoutMs} ms`));
    });
    this.pending.set(id, pending);
    this.host.stats.udp.sent++;
    this.host.stats.bytesSent += envelopeSize(env);
    this.socket.send(datagram, p.port, p.host);
    return true;
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const peer = `${rinfo.address}:${rinfo.port}`;
    const d = parse(msg);
    if (typeof d === 'string') return this.host.reject('malformed', 'udp', peer, d);
    this.host.stats.bytesReceived += msg.length;
    if (isRequest(d)) this.answer(d, rinfo, peer);
    else this.acked(d, peer);
  }

  private answer(d: Datagram & { type: Pending['type'] }, rinfo: dgram.RemoteInfo, peer: string): void {
    const kind = KINDS[d.type];
    const opened = this.host.auth.openHeader(kind, d.header, { self: this.host.sender });
    if (!opened.ok) return this.host.reject(opened.reason, kind, peer);
    const ping = this.decode(d, peer, codec.decodePing);
    if (!ping) return;
    let ack: AckMsg | undefined;
    if (d.type === DatagramType.Check) {
      ack = ping.target === this.host.sender ? { seq: ping.seq, ok: true, updates: [] } : undefined;
    } else {
      this.host.stats.received.Ping++;
      ack = this.host.answer(opened.sender, ping);
    }
    if (!ack) return this.host.reject('unknown', kind, peer, 'probe addressed to another member');
    const replyType = REPLY[d.type];
    for (let updates = ack.updates; ; updates = updates.slice(0, updates.length >> 1)) {
      const env = this.host.auth.seal(KINDS[replyType], this.host.sender, opened.sender, codec.encodeAck({ ...ack, updates }), opened.nonce);
      const datagram = frame(replyType, env);
      if (datagram !== undefined) {
        this.host.stats.bytesSent += envelopeSize(env);
        this.socket.send(datagram, rinfo.port, rinfo.address);
        return;
      }
      if (updates.length === 0) return;
    }
  }

  private acked(d: Datagram, peer: string): void {
    const id = d.header.inReplyTo.toString('hex');
    const p = this.pending.get(id);
    if (!p || d.type !== REPLY[p.type]) {
      // Late (its ping timed out) or forged: nothing waits for it, so it is not opened.
      this.host.stats.udp.unmatched++;
      return;
    }
    const kind = KINDS[d.type];
    const opened = this.host.auth.openHeader(kind, d.header, { self: this.host.sender, replyTo: p.nonce });
    if (!opened.ok) return this.host.reject(opened.reason, kind, peer);
    const ack = this.decode(d, peer, codec.decodeAck);
    if (!ack) return;
    this.pending.delete(id);
    p.timer.cancel();
    p.peer.confirmed = true;
    if (p.peer.reported) {
      p.peer.reported = false;
      this.logger.info({ event: LogEvent.gossipUdp, address: p.peer.address, udp: true }, `gossip: the member at ${p.peer.address} answers probes over UDP again`);
    }
    this.host.stats.udp.acked++;
    p.resolve?.(ack);
  }

  /** The body of a datagram whose header was accepted, checked against its digest and decoded; undefined (counted) when either fails. */
  private decode<T>(d: Datagram, peer: string, decode: (b: Buffer) => T): T | undefined {
    const kind = KINDS[d.type];
    if (!this.host.auth.matchBody(d.header, d.body)) {
      this.host.reject('bad_hmac', kind, peer, 'body does not match its digest');
      return undefined;
    }
    try {
      return decode(d.body);
    } catch (err) {
      if (!(err instanceof MalformedMessage)) throw err;
      this.host.reject('malformed', kind, peer, err.message);
      return undefined;
    }
  }

  private peer(address: string): Peer | undefined {
    const known = this.peers.get(address);
    if (known) return known;
    const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
    if (!m) return undefined;
    const [v4, v6] = [parseIpv4(m[1]) !== null, isIpv6(m[1])];
    const v6Socket = this.socket.address().family === 'IPv6';
    if (!(v4 || v6) || (v6 && !v6Socket)) return undefined;
    if (this.peers.size >= MAX_PEERS) this.peers.clear();
    const p: Peer = { address, host: v6Socket && v4 ? `::ffff:${m[1]}` : m[1], port: Number(m[2]), confirmed: false, nextCheckAt: 0, reported: false };
    this.peers.set(address, p);
    return p;
  }
}

interface Datagram {
  type: DatagramType;
  header: EnvelopeHeader;
  body: Buffer;
}

const isRequest = (d: Datagram): d is Datagram & { type: Pending['type'] } => d.type === DatagramType.Ping || d.type === DatagramType.Check;

/** The datagram for an envelope, or undefined when it exceeds MAX_DATAGRAM. */
function frame(type: DatagramType, env: Envelope): Buffer | undefined {
  const header = encodeHeader(env);
  const body = env.body;
  const size = PREFIX_SIZE + header.length + body.length;
  if (size > MAX_DATAGRAM) return undefined;
  const b = Buffer.allocUnsafe(size);
  UDP_MAGIC.copy(b, 0);
  b[TYPE_OFFSET] = type;
  b.writeUInt16BE(header.length, TYPE_OFFSET + 1);
  header.copy(b, PREFIX_SIZE);
  body.copy(b, PREFIX_SIZE + header.length);
  return b;
}

/** A datagram's type, header and body, or what is wrong with it. */
export function parse(msg: Buffer): Datagram | string {
  if (msg.length < PREFIX_SIZE || msg[0] !== UDP_MAGIC[0] || msg[1] !== UDP_MAGIC[1]) return 'not a weft gossip datagram (format 1)';
  const type = msg[TYPE_OFFSET];
  if (!(type in KINDS)) return `unknown datagram type ${type}`;
  const headerLength = msg.readUInt16BE(TYPE_OFFSET + 1);
  if (PREFIX_SIZE + headerLength > msg.length) return `header of ${headerLength} bytes in a datagram of ${msg.length}`;
  try {
    const header = decodeHeader(msg.subarray(PREFIX_SIZE, PREFIX_SIZE + headerLength));
    return { type, header, body: msg.subarray(PREFIX_SIZE + headerLength) };
  } catch (err) {
    if (err instanceof MalformedMessage) return err.message;
    throw err;
  }
}
