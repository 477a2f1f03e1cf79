// Probes over UDP (daemon/control/gossip/udp-probes.ts) between real transports on loopback: a member
// that answers a UDP check is probed over UDP from then on, with the ack's piggybacked updates
// delivered; a member without UDP probes (weftd before them) is probed over gRPC with a check at most
// every CHECK_INTERVAL_MS; a UDP probe unanswered after half its timeout is sent again over gRPC, and
// the member is probed over gRPC from then on; a Ping too
// large for a datagram goes over gRPC, and an Ack too large carries fewer updates. Every datagram that
// does not authenticate (garbage, another key, replayed, misdirected, a Ping re-typed as a check, an
// ack of nothing) is dropped, counted, and never answered.
import dgram from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Authenticator } from '../../daemon/control/gossip/auth.js';
import { codec, encodeHeader } from '../../daemon/control/gossip/codec.js';
import { GrpcTransport } from '../../daemon/control/gossip/grpc-transport.js';
import type { GossipHandler } from '../../daemon/control/gossip/messages.js';
import { newGossipStats, type GossipStats } from '../../daemon/control/gossip/stats.js';
import type { MemberRecord } from '../../daemon/control/gossip/types.js';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { CHECK_INTERVAL_MS, CHECK_TIMEOUT_MS, DatagramType, KINDS, MAX_DATAGRAM, parse, UDP_MAGIC } from '../../daemon/control/gossip/udp-probes.js';
import { clusterKey, quiet } from '../../lab/gossip-members.js';
import { waitFor } from '../fixtures/gossip/cluster.js';

const TIMEOUT_MS = 1_000;

let transports: GrpcTransport[] = [];
let sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets) s.close();
  await Promise.all(transports.map((t) => t.close(0)));
  transports = [];
  sockets = [];
});

const record = (i: number, nameLength = 8): MemberRecord => ({
  name: `m${String(i).padStart(nameLength - 1, '0')}`, publicIp: '198.18.0.1', gossipPort: 7946, subnet: `10.244.${i}.0/24`, vtepMac: '02:00:00:00:00:01', vni: 1, incarnation: i, state: 'alive',
});

/** Answers Pings to `name` with `ackUpdates` piggybacked, and records the updates Pings carried. */
function handlerFor(name: string, ackUpdates: MemberRecord[] = [], heard: MemberRecord[][] = []): GossipHandler {
  return {
    onPing: (_s, m) => {
      if (m.target !== name) return undefined;
      heard.push(m.updates);
      return { seq: m.seq, ok: true, updates: ackUpdates };
    },
    onPingReq: async (_s, m) => ({ seq: m.seq, ok: true, updates: [] }),
    onPushPull: () => ({ join: false, members: [] }),
    onGossip: () => ({ seq: 0, ok: true, updates: [] }),
  };
}

async function member(name: string, key: Buffer, opts: { udpProbes?: boolean; ackUpdates?: MemberRecord[]; heard?: MemberRecord[][]; log?: Record<string, unknown>[] } = {}): Promise<GrpcTransport> {
  const log = opts.log;
  const logger = log ? pino({ level: 'info' }, { write: (line: string) => void log.push(JSON.parse(line) as Record<string, unknown>) }) : quiet;
  const t = await GrpcTransport.listen({ host: '127.0.0.1', port: 0, key, sender: name, stats: newGossipStats(), logger, udpProbes: opts.udpProbes ?? true });
  t.setHandler(handlerFor(name, opts.ackUpdates, opts.heard));
  transports.push(t);
  return t;
}

const addr = (t: GrpcTransport): string => `127.0.0.1:${t.port}`;
const statsOf = (t: GrpcTransport): GossipStats => (t as unknown as { opts: { stats: GossipStats } }).opts.stats;

/** A datagram as udp-probes.ts frames it. */
function datagram(type: number, env: ReturnType<Authenticator['seal']>): Buffer {
  const header = encodeHeader(env);
  const prefix = Buffer.alloc(UDP_MAGIC.length + 3);
  UDP_MAGIC.copy(prefix);
  prefix[UDP_MAGIC.length] = type;
  prefix.writeUInt16BE(header.length, UDP_MAGIC.length + 1);
  return Buffer.concat([prefix, header, env.body]);
}

/** A UDP socket of the test's own, recording what comes back to it. */
async function outsider(): Promise<{ send: (b: Buffer, port: number) => void; replies: Buffer[] }> {
  const s = dgram.createSocket('udp4');
  sockets.push(s);
  const replies: Buffer[] = [];
  s.on('message', (m) => replies.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { send: (b, port) => s.send(b, port, '127.0.0.1'), replies };
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

describe('gossip probes over UDP', () => {
  it('a member that answers a check is probed over UDP from then on; the ack carries its piggybacked updates', async () => {
    const key = clusterKey();
    const gossiped = [record(1), record(2)];
    const heard: MemberRecord[][] = [];
    const [a, b] = [await member('a', key), await member('b', key, { ackUpdates: gossiped, heard })];
    const first = await a.ping(addr(b), { target: 'b', seq: 0, updates: [record(3)] }, TIMEOUT_MS);
    expect(first.updates).toEqual(gossiped);
    const [sa, sb] = [statsOf(a), statsOf(b)];
    await waitFor('the check to be answered', () => sa.udp.acked === 1, TIMEOUT_MS);
    expect(sa.udp.checks).toBe(1);
    expect(sa.streams.opened).toBe(1);

    for (let seq = 1; seq <= 10; seq++) {
      const ack = await a.ping(addr(b), { target: 'b', seq, updates: [record(seq + 3)] }, TIMEOUT_MS);
      expect(ack).toEqual({ seq, ok: true, updates: gossiped });
    }
    expect(sa.udp).toMatchObject({ sent: 11, acked: 11, timeouts: 0, checks: 1, oversize: 0, unmatched: 0 });
    expect(sa.sent.Ping).toBe(11);
    // The check is answered by the transport: only the 11 probes reached the state machine, each with its updates.
    expect(sb.received.Ping).toBe(11);
    expect(heard).toEqual(Array.from({ length: 11 }, (_, i) => [record(i + 3)]));
    expect(Object.values(sb.rejected).every((n) => n === 0)).toBe(true);
  });

  it('a member without UDP probes is probed over gRPC, with one check per CHECK_INTERVAL_MS, and logged once', async () => {
    const key = clusterKey();
    const log: Record<string, unknown>[] = [];
    const [a, old] = [await member('a', key, { log }), await member('old', key, { udpProbes: false })];
    for (let seq = 0; seq < 20; seq++) expect((await a.ping(addr(old), { target: 'old', seq, updates: [] }, TIMEOUT_MS)).seq).toBe(seq);
    const sa = statsOf(a);
    expect(CHECK_INTERVAL_MS).toBeGreaterThan(1_000);
    expect(sa.udp).toMatchObject({ sent: 1, acked: 0, checks: 1 });
    expect(sa.callFailures).toBe(0);
    expect(statsOf(old).received.Ping).toBe(20);
    // And the old member's probes of us are answered as always.
    expect((await old.ping(addr(a), { target: 'a', seq: 7, updates: [] }, TIMEOUT_MS)).seq).toBe(7);
    await waitFor('the check to time out', () => sa.udp.timeouts === 1, CHECK_TIMEOUT_MS + TIMEOUT_MS);
    for (let seq = 20; seq < 25; seq++) await a.ping(addr(old), { target: 'old', seq, updates: [] }, TIMEOUT_MS);
    const records = log.filter((r) => r.event === LogEvent.gossipUdp);
    expect(records).toMatchObject([{ address: addr(old), udp: false, level: 40 }]);
    expect(String(records[0].msg)).toMatch(/does not answer probes over UDP .*probing it over gRPC/);
  });

  it('a UDP probe unanswered after half its timeout is sent again over gRPC; the member is probed over gRPC from then on', async () => {
    const key = clusterKey();
    const [a, b] = [await member('a', key), await member('b', key)];
    await a.ping(addr(b), { target: 'b', seq: 0, updates: [] }, TIMEOUT_MS);
    const [sa, sb] = [statsOf(a), statsOf(b)];
    await waitFor('b to be confirmed', () => sa.udp.acked === 1, TIMEOUT_MS);
    // b stops answering UDP (a firewall that starts dropping it): its UDP socket goes away.
    (b as unknown as { udp: { close(): void } }).udp.close();
    const started = performance.now();
    expect((await a.ping(addr(b), { target: 'b', seq: 1, updates: [] }, 200)).seq).toBe(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(sa.udp.fallbacks).toBe(1);
    await waitFor('the UDP probe to time out', () => sa.udp.timeouts === 1, TIMEOUT_MS);
    const [udpSent, received] = [sa.udp.sent, sb.received.Ping];
    expect((await a.ping(addr(b), { target: 'b', seq: 2, updates: [] }, TIMEOUT_MS)).seq).toBe(2);
    expect(sb.received.Ping).toBe(received + 1);
    // Only a check went over UDP, alongside the gRPC probe.
    expect(sa.udp.sent).toBe(udpSent + 1);
    expect(sa.udp.checks).toBe(2);
  });

  it('a UDP probe of a member gone altogether fails within its timeout', async () => {
    const key = clusterKey();
    const [a, b] = [await member('a', key), await member('b', key)];
    await a.ping(addr(b), { target: 'b', seq: 0, updates: [] }, TIMEOUT_MS);
    await waitFor('b to be confirmed', () => statsOf(a).udp.acked === 1, TIMEOUT_MS);
    await b.close(0);
    const started = performance.now();
    await expect(a.ping(addr(b), { target: 'b', seq: 1, updates: [] }, 200)).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(600);
    expect(statsOf(a).udp.fallbacks).toBe(1);
  });

  it('a Ping too large for a datagram goes over gRPC; an Ack too large carries fewer updates', async () => {
    const key = clusterKey();
    const many = Array.from({ length: 16 }, (_, i) => record(i, 60));
    const [a, b] = [await member('a', key), await member('b', key, { ackUpdates: many })];
    await a.ping(addr(b), { target: 'b', seq: 0, updates: [] }, TIMEOUT_MS);
    const sa = statsOf(a);
    await waitFor('b to be confirmed', () => sa.udp.acked === 1, TIMEOUT_MS);
    expect(codec.encodePing({ target: 'b', seq: 1, updates: many }).length).toBeGreaterThan(MAX_DATAGRAM);
    const big = await a.ping(addr(b), { target: 'b', seq: 1, updates: many }, TIMEOUT_MS);
    expect(sa.udp.oversize).toBe(1);
    expect(big.updates).toEqual(many);
    const small = await a.ping(addr(b), { target: 'b', seq: 2, updates: [] }, TIMEOUT_MS);
    expect(sa.udp.acked).toBe(2);
    expect(small.updates.length).toBeGreaterThan(0);
    expect(small.updates.length).toBeLessThan(many.length);
    expect(small.updates).toEqual(many.slice(0, small.updates.length));
  });

  it('garbage, another key, replays, misdirection, a re-typed Ping and an ack of nothing are dropped, counted, never answered', async () => {
    const key = clusterKey();
    const b = await member('b', key);
    const sb = statsOf(b);
    const o = await outsider();
    const peer = new Authenticator(key);
    const ping = (to: string, seq: number): Buffer => codec.encodePing({ target: to, seq, updates: [] });

    // A genuine ping is answered once; the same datagram again is a replay.
    const genuine = datagram(DatagramType.Ping, peer.seal(KINDS[DatagramType.Ping], 'a', 'b', ping('b', 1)));
    o.send(genuine, b.port);
    await waitFor('the genuine ping to be answered', () => o.replies.length === 1, TIMEOUT_MS);
    const reply = parse(o.replies[0]);
    expect(typeof reply === 'string' ? reply : reply.type).toBe(DatagramType.Ack);
    o.send(genuine, b.port);
    await settle();
    expect(sb.rejected.replay).toBe(1);

    for (const junk of [Buffer.alloc(0), Buffer.from('hello'), Buffer.from([0x57, 0x01, 9, 0, 0]), Buffer.from([0x57, 0x01, 0, 0xff, 0xff, 1]), Buffer.concat([UDP_MAGIC, Buffer.from([0, 0, 3, 1, 2, 3])])]) {
      o.send(junk, b.port);
    }
    // Sealed with another key; sealed for another recipient; a Ping re-typed as a check (its MAC names its kind).
    o.send(datagram(DatagramType.Ping, new Authenticator(clusterKey()).seal(KINDS[DatagramType.Ping], 'a', 'b', ping('b', 2))), b.port);
    o.send(datagram(DatagramType.Ping, peer.seal(KINDS[DatagramType.Ping], 'a', 'c', ping('c', 3))), b.port);
    o.send(datagram(DatagramType.Check, peer.seal(KINDS[DatagramType.Ping], 'a', 'b', ping('b', 4))), b.port);
    // A body swapped under a genuine header.
    const swapped = peer.seal(KINDS[DatagramType.Ping], 'a', 'b', ping('b', 5));
    o.send(datagram(DatagramType.Ping, { ...swapped, body: ping('b', 6) }), b.port);
    // An ack nobody asked for.
    o.send(datagram(DatagramType.Ack, peer.seal(KINDS[DatagramType.Ack], 'a', 'b', codec.encodeAck({ seq: 1, ok: true, updates: [] }), Buffer.alloc(16, 1))), b.port);
    await settle();

    expect(o.replies.length).toBe(1);
    expect(sb.rejected.malformed).toBe(5);
    expect(sb.rejected.bad_hmac).toBe(3);
    expect(sb.rejected.misdirected).toBe(1);
    expect(sb.udp.unmatched).toBe(1);
    expect(sb.received.Ping).toBe(1);
    // b still answers its members.
    const a = await member('a', key);
    expect((await a.ping(addr(b), { target: 'b', seq: 9, updates: [] }, TIMEOUT_MS)).seq).toBe(9);
  });

  it('parse() names what is wrong with any byte string and never throws', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const base = datagram(DatagramType.Ping, new Authenticator(clusterKey()).seal(KINDS[DatagramType.Ping], 'a', 'b', codec.encodePing({ target: 'b', seq: 1, updates: [record(1)] })));
    for (let i = 0; i < 20_000; i++) {
      const b = Buffer.from(base.subarray(0, Math.floor(rnd() * (base.length + 1))));
      for (let flips = Math.floor(rnd() * 4); flips > 0; flips--) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
      const r = parse(b);
      if (typeof r === 'string') expect(r.length).toBeGreaterThan(0);
      else expect(r.header.sender.length).toBeGreaterThanOrEqual(0);
    }
  });
});
