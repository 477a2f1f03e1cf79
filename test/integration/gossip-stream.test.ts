// Gossip streams (proto/gossip.proto, Stream) between real gRPC transports on loopback: requests to
// a named member share one long-lived stream, v3 peers (no Stream method) still get every request
// answered, a stream cut mid-request loses nothing, and a stream is held to the same guarantees as
// a unary request: its header is authenticated before any message is read, and each message is
// authenticated on its own (forged, replayed, re-signed by another sender, unknown kind), any
// failure ending the stream and being counted.
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProtoGrpcType } from '../../proto/generated/gossip.js';
import type { Envelope, Envelope__Output } from '../../proto/generated/weft/gossip/v1/Envelope.js';
import type { GossipClient } from '../../proto/generated/weft/gossip/v1/Gossip.js';
import { Authenticator } from '../../daemon/control/gossip/auth.js';
import { codec, encodeHeader, gossipProtoPath, PROTO_OPTIONS } from '../../daemon/control/gossip/codec.js';
import { AUTH_METADATA, GrpcTransport, type TransportLimits } from '../../daemon/control/gossip/grpc-transport.js';
import type { GossipHandler, PingReqMsg } from '../../daemon/control/gossip/messages.js';
import { newGossipStats } from '../../daemon/control/gossip/stats.js';
import { MAX_STREAM_INFLIGHT } from '../../daemon/control/gossip/stream-service.js';
import { clusterKey, quiet } from '../../lab/gossip-members.js';
import { waitFor } from '../fixtures/gossip/cluster.js';

const proto = grpc.loadPackageDefinition(loadSync(gossipProtoPath(), PROTO_OPTIONS)) as unknown as ProtoGrpcType;
const TIMEOUT_MS = 1_000;
const C = { name: 'c', publicIp: '127.0.0.1', gossipPort: 1, subnet: '10.244.3.0/24', vtepMac: '02:00:00:00:00:03', vni: 1, incarnation: 0, state: 'alive' as const };

let transports: GrpcTransport[] = [];
let clients: GossipClient[] = [];
afterEach(async () => {
  for (const c of clients) c.close();
  await Promise.all(transports.map((t) => t.close(0)));
  transports = [];
  clients = [];
});

/** Answers every request; PingReq waits for `pingReqGate` when one is set, or `pingReqDelayMs`. */
function handlerFor(name: string, pingReqGate?: Promise<void>, pingReqDelayMs = 0): GossipHandler {
  return {
    onPing: (_s, m) => (m.target === name ? { seq: m.seq, ok: true, updates: [] } : undefined),
    onPingReq: async (_s: string, m: PingReqMsg) => {
      await pingReqGate;
      if (pingReqDelayMs > 0) await new Promise((r) => setTimeout(r, pingReqDelayMs));
      return { seq: m.seq, ok: true, updates: [] };
    },
    onPushPull: () => ({ join: false, members: [] }),
    onGossip: () => ({ seq: 0, ok: true, updates: [] }),
  };
}

async function member(name: string, key: Buffer, opts: { streams?: boolean; limits?: Partial<TransportLimits>; pingReqGate?: Promise<void>; pingReqDelayMs?: number } = {}): Promise<GrpcTransport> {
  const t = await GrpcTransport.listen({ host: '127.0.0.1', port: 0, key, sender: name, stats: newGossipStats(), logger: quiet, streams: opts.streams, limits: opts.limits });
  t.setHandler(handlerFor(name, opts.pingReqGate, opts.pingReqDelayMs));
  transports.push(t);
  return t;
}

const addr = (t: GrpcTransport): string => `127.0.0.1:${t.port}`;
const statsOf = (t: GrpcTransport): ReturnType<typeof newGossipStats> => (t as unknown as { opts: { stats: ReturnType<typeof newGossipStats> } }).opts.stats;

/** A raw Stream call to `t`, opened with a header sealed by `auth` as `sender`. */
function rawStream(t: GrpcTransport, auth: Authenticator, sender: string, recipient: string) {
  const client = new proto.weft.gossip.v1.Gossip(addr(t), grpc.credentials.createInsecure());
  clients.push(client);
  const md = new grpc.Metadata();
  md.set(AUTH_METADATA, encodeHeader(auth.seal('Stream', sender, recipient, Buffer.alloc(0))));
  const call = client.Stream(md);
  const replies: Envelope__Output[] = [];
  call.on('data', (e: Envelope__Output) => replies.push(e));
  const status = new Promise<grpc.status>((resolve) => {
    call.on('error', (e: grpc.ServiceError) => resolve(e.code));
    call.on('status', (s: grpc.StatusObject) => resolve(s.code));
  });
  const send = (kind: string, env: ReturnType<Authenticator['seal']>): void => void call.write({ ...env, kind } satisfies Envelope);
  return { call, replies, status, send };
}

describe('gossip streams', () => {
  it('requests to a named member share one stream; a push-pull to an unnamed seed is a unary call', async () => {
    const key = clusterKey();
    const [a, b] = [await member('a', key), await member('b', key)];
    const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => a.ping(addr(b), { target: 'b', seq: i, updates: [] }, TIMEOUT_MS)));
    expect(acks.map((x) => x.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await a.gossip(addr(b), { updates: [] }, TIMEOUT_MS, 'b');
    await a.pingReq(addr(b), { target: C, seq: 7, updates: [] }, TIMEOUT_MS, 'b');
    await a.pushPull(addr(b), { join: false, members: [] }, TIMEOUT_MS, 'b');
    await a.pushPull(addr(b), { join: true, members: [] }, TIMEOUT_MS);
    const [sa, sb] = [statsOf(a), statsOf(b)];
    expect(sa.streams).toEqual({ opened: 1, accepted: 0, fallbacks: 0 });
    expect(sb.streams.accepted).toBe(1);
    expect(sb.received).toEqual({ Ping: 20, PingReq: 1, PushPull: 2, Gossip: 1 });
    expect(sa.callFailures).toBe(0);
    expect(Object.values(sb.rejected).every((n) => n === 0)).toBe(true);
  });

  it('a probe naming another member is refused, as over a unary call', async () => {
    const key = clusterKey();
    const [a, b] = [await member('a', key), await member('b', key)];
    await a.ping(addr(b), { target: 'b', seq: 1, updates: [] }, TIMEOUT_MS);
    await expect(a.ping(addr(b), { target: 'c', seq: 2, updates: [] }, TIMEOUT_MS)).rejects.toThrow();
    expect(statsOf(b).rejected.misdirected).toBeGreaterThanOrEqual(1);
    // The stream to b itself is unharmed.
    await a.ping(addr(b), { target: 'b', seq: 3, updates: [] }, TIMEOUT_MS);
    expect(statsOf(b).streams.accepted).toBe(1);
  });

  it('a v3 peer (no Stream method) gets every request as a unary call, and a v3 caller is served', async () => {
    const key = clusterKey();
    const [a, v3] = [await member('a', key), await member('old', key, { streams: false })];
    for (let i = 0; i < 5; i++) expect((await a.ping(addr(v3), { target: 'old', seq: i, updates: [] }, TIMEOUT_MS)).seq).toBe(i);
    const sa = statsOf(a);
    expect(sa.streams.opened).toBe(1);
    expect(sa.streams.fallbacks).toBe(1);
    expect(sa.callFailures).toBe(0);
    expect(statsOf(v3).received.Ping).toBe(5);
    expect((await v3.ping(addr(a), { target: 'a', seq: 9, updates: [] }, TIMEOUT_MS)).seq).toBe(9);
    expect(statsOf(a).streams.accepted).toBe(0);
  });

  it('streams cut by the peer (connection maximum age) lose no request: pending ones go unary', async () => {
    const key = clusterKey();
    const a = await member('a', key);
    // Each answer takes 50 ms, so about five requests are pending whenever a connection is cut.
    const b = await member('b', key, { limits: { maxAgeMs: 300, ageGraceMs: 50 }, pingReqDelayMs: 50 });
    const started = Date.now();
    let seq = 0;
    const inFlight: Promise<unknown>[] = [];
    while (Date.now() - started < 2_000) {
      inFlight.push(a.pingReq(addr(b), { target: C, seq: seq++, updates: [] }, TIMEOUT_MS, 'b'));
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(inFlight);
    const sa = statsOf(a);
    expect(sa.callFailures).toBe(0);
    expect(sa.streams.opened).toBeGreaterThanOrEqual(3);
    expect(sa.streams.fallbacks).toBeGreaterThan(0);
  });

  it('a stream whose header does not authenticate is refused before its messages are read, and its connection closed', async () => {
    const key = clusterKey();
    const b = await member('b', key);
    const outsider = new Authenticator(clusterKey());
    const s = rawStream(b, outsider, 'a', 'b');
    s.send('Ping', outsider.seal('Ping', 'a', 'b', codec.encodePing({ target: 'b', seq: 1, updates: [] })));
    expect(await s.status).toBe(grpc.status.UNAUTHENTICATED);
    const sb = statsOf(b);
    expect(sb.rejected.bad_hmac).toBe(1);
    expect(sb.received.Ping).toBe(0);
    expect(sb.streams.accepted).toBe(0);
    await waitFor('the connection to be closed as unauthenticated', () => sb.connections.unauthenticated === 1, 2_000);
  });

  it('each message is authenticated on its own: a replayed, forged, re-signed or unknown one ends the stream and is counted', async () => {
    const key = clusterKey();
    const b = await member('b', key);
    const sb = statsOf(b);
    const peer = new Authenticator(key);
    const ping = (seq: number): Buffer => codec.encodePing({ target: 'b', seq, updates: [] });

    // Answered, then the same envelope again: a replay.
    const replay = rawStream(b, peer, 'a', 'b');
    const first = peer.seal('Ping', 'a', 'b', ping(1));
    replay.send('Ping', first);
    await waitFor('the first ping to be answered', () => replay.replies.length === 1, 2_000);
    expect(replay.replies[0].kind).toBe('Ping.reply');
    expect(peer.open('Ping.reply', replay.replies[0], { self: 'a', replyTo: first.nonce }).ok).toBe(true);
    replay.send('Ping', first);
    expect(await replay.status).toBe(grpc.status.UNAUTHENTICATED);
    expect(sb.rejected.replay).toBe(1);

    // A MAC made with another key.
    const forged = rawStream(b, peer, 'a', 'b');
    forged.send('Ping', new Authenticator(clusterKey()).seal('Ping', 'a', 'b', ping(2)));
    expect(await forged.status).toBe(grpc.status.UNAUTHENTICATED);
    expect(sb.rejected.bad_hmac).toBe(1);

    // A Gossip envelope relabelled as a Ping: its MAC covers its real kind.
    const relabelled = rawStream(b, peer, 'a', 'b');
    relabelled.send('Ping', peer.seal('Gossip', 'a', 'b', codec.encodeGossip({ updates: [] })));
    expect(await relabelled.status).toBe(grpc.status.UNAUTHENTICATED);
    expect(sb.rejected.bad_hmac).toBe(2);

    // Validly signed by another sender than the stream's.
    const resigned = rawStream(b, peer, 'a', 'b');
    resigned.send('Ping', peer.seal('Ping', 'mallory', 'b', ping(3)));
    expect(await resigned.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(sb.rejected.malformed).toBe(1);

    // A kind that is no request.
    const unknown = rawStream(b, peer, 'a', 'b');
    unknown.send('Ping.reply', peer.seal('Ping.reply', 'a', 'b', ping(4)));
    expect(await unknown.status).toBe(grpc.status.INVALID_ARGUMENT);
    expect(sb.rejected.malformed).toBe(2);
    expect(sb.received.Ping).toBe(1);
  });

  it(`a stream with more than ${MAX_STREAM_INFLIGHT} requests in flight is ended`, async () => {
    const key = clusterKey();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const b = await member('b', key, { pingReqGate: gate });
    const peer = new Authenticator(key);
    const s = rawStream(b, peer, 'a', 'b');
    for (let i = 0; i <= MAX_STREAM_INFLIGHT; i++) s.send('PingReq', peer.seal('PingReq', 'a', 'b', codec.encodePingReq({ target: C, seq: i, updates: [] })));
    expect(await s.status).toBe(grpc.status.RESOURCE_EXHAUSTED);
    open();
    expect(statsOf(b).received.PingReq).toBe(MAX_STREAM_INFLIGHT);
  });
});
