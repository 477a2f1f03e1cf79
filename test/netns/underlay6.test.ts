// The addon's IPv6 underlay socket between two namespaces (test/fixtures/dataplane/engine6.ts: the
// engine alone, IPv4 and IPv6 sockets side by side): VXLAN-sized datagrams both ways with UDP GSO
// and GRO, TSO super-packets cut onto IPv6, the sender's peer slot reported from the source address
// (and -1 for an address no peer holds), and IPv4 entries in the same batch unaffected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vethPair, type Netns } from '../../lab/netns.js';
import type { TrackedChild } from '../../lab/processes.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';
import { UDP_FLAG_FREEBIND } from '../../daemon/dataplane/constants.js';
import type { EngineStats as Stats, Job } from '../fixtures/dataplane/engine6.js';

const FIXTURE = 'dist/test/fixtures/dataplane/engine6.js';
const PORT = 8472;
/** Payload of a VXLAN datagram whose inner packet fills an IPv6 underlay of MTU 1500 (1500 − 48). */
const V6_DATAGRAM = 1452;
/** The same over IPv4 (1500 − 28). */
const V4_DATAGRAM = 1472;
const A = { v4: '198.18.0.1', v6: 'fd00:198:18::1', tunAddr: '10.99.1.1' };
const B = { v4: '198.18.0.2', v6: 'fd00:198:18::2', tunAddr: '10.99.2.1' };
/** 198.18.0.1 as udpIn reports an IPv4 source (int32). */
const A_V4_KEY = String((198 << 24) | (18 << 16) | 1);

let a: Netns;
let b: Netns;
const engines = new Map<Netns, TrackedChild>();

async function start(ns: Netns, spec: typeof A, offloads: boolean): Promise<void> {
  await engines.get(ns)?.stop('SIGTERM');
  const child = ns.spawn(process.execPath, [FIXTURE, JSON.stringify({ tun: 'wt6e0', port: PORT, offloads, ...spec })], { stdio: ['pipe', 'pipe', 'pipe'] });
  engines.set(ns, child);
  await child.waitForOutput(/READY/);
}

/** Sends one command line and returns the reply matching `pattern`. */
async function command(ns: Netns, cmd: object, pattern: RegExp): Promise<RegExpMatchArray> {
  const child = engines.get(ns)!;
  const from = child.output().length;
  child.proc.stdin!.write(`${JSON.stringify(cmd)}\n`);
  for (;;) {
    const m = child.output().slice(from).match(pattern);
    if (m) return m;
    if (child.proc.exitCode !== null) throw new Error(`engine exited:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const stats = async (ns: Netns): Promise<Stats> => JSON.parse((await command(ns, { cmd: 'stats' }, /STATS (.*)\n/))[1]) as Stats;
const peer6 = (ns: Netns, slot: number, addr: string | null) => command(ns, { cmd: 'peer6', slot, addr }, /OK\n/);
const send = (ns: Netns, jobs: Job[]) => command(ns, { cmd: 'send', jobs }, /SENT\n/);

/** Waits (on the receiver's own counters) until `done` holds; fails with the last stats otherwise. */
async function until(ns: Netns, done: (s: Stats) => boolean): Promise<Stats> {
  let s = await stats(ns);
  for (let i = 0; i < 500 && !done(s); i++) {
    await new Promise((r) => setTimeout(r, 10));
    s = await stats(ns);
  }
  if (!done(s)) throw new Error(`condition not reached: ${JSON.stringify(s)}`);
  return s;
}

beforeAll(async () => {
  requireRoot();
  a = await enableIpv6(await createNetns('u6a'));
  b = await enableIpv6(await createNetns('u6b'));
  await vethPair(a, 'eth0', b, 'eth0');
  for (const [ns, spec] of [[a, A], [b, B]] as const) {
    await ns.ip('addr', 'add', `${spec.v4}/24`, 'dev', 'eth0');
    await ns.ip('addr', 'add', `${spec.v6}/64`, 'dev', 'eth0', 'nodad');
    await ns.ip('link', 'set', 'eth0', 'up');
  }
});

afterAll(async () => {
  await Promise.all([...engines.values()].map((c) => c.stop('SIGTERM')));
  await a?.destroy();
  await b?.destroy();
});

describe.each([true, false])('IPv6 underlay socket, offloads %s', (offloads) => {
  beforeAll(async () => {
    await start(a, A, offloads);
    await start(b, B, offloads);
  });

  it('carries VXLAN-sized datagrams both ways, each reported with its sender’s peer slot', async () => {
    await peer6(a, 3, B.v6);
    await peer6(b, 5, A.v6);
    const a0 = await stats(a);
    await send(a, [{ v6: true, dst: 3, count: 64, len: V6_DATAGRAM }]);
    await send(b, [{ v6: true, dst: 5, count: 64, len: V6_DATAGRAM }]);
    const atB = await until(b, (s) => s.seen.v6.datagrams >= 64);
    const atA = await until(a, (s) => s.seen.v6.datagrams >= 64);
    for (const s of [atA, atB]) {
      expect(s.seen.v6).toMatchObject({ datagrams: 64, bytes: 64 * V6_DATAGRAM, bad: 0, truncated: 0, ports: [PORT] });
      expect(s.seen.v4.datagrams).toBe(0);
    }
    expect(atB.seen.v6.from).toEqual({ 5: 64 });
    expect(atA.seen.v6.from).toEqual({ 3: 64 });
    expect(atA.io.udp6SendPackets - a0.io.udp6SendPackets).toBe(64);
    expect(atA.io.udpSendErrors).toBe(0);
    expect(atB.io.udp6RecvPackets).toBe(atB.seen.v6.buffers);
    // GSO sends runs as one message, and GRO hands them over as one buffer.
    expect(atA.io.udpSendGso > 0).toBe(offloads);
    expect(atB.seen.v6.groBuffers > 0).toBe(offloads);
    expect(atB.seen.v6.buffers < 64).toBe(offloads);
  });

  it('reports -1 for a source no peer holds, and the slot once set, through growth and removals', async () => {
    await command(b, { cmd: 'clear6' }, /OK\n/);
    const before = (await stats(b)).seen.v6;
    await send(a, [{ v6: true, dst: 3, count: 4, len: 200 }]);
    let s = await until(b, (x) => x.seen.v6.datagrams >= before.datagrams + 4);
    expect(s.seen.v6.from['-1']).toBe(4);
    // 200 other peers (the hash grows), A's address at slot 200, then every other one removed.
    for (let i = 0; i < 200; i++) await peer6(b, i, `fd00:198:18::${(0x1000 + i).toString(16)}`);
    await peer6(b, 200, A.v6);
    for (let i = 1; i < 200; i += 2) await peer6(b, i, null);
    await send(a, [{ v6: true, dst: 3, count: 4, len: 200 }]);
    s = await until(b, (x) => (x.seen.v6.from['200'] ?? 0) >= 4);
    expect(s.seen.v6.from['200']).toBe(4);
    // A slot moved to another address and A's slot removed: A is unknown again.
    await peer6(b, 0, `fd00:198:18::ffff`);
    await peer6(b, 200, null);
    await send(a, [{ v6: true, dst: 3, count: 2, len: 200 }]);
    s = await until(b, (x) => x.seen.v6.from['-1'] >= 6);
    expect(s.seen.v6).toMatchObject({ from: { '-1': 6, 5: 64, 200: 4 }, bad: 0 });
  });

  it('counts an entry towards a slot without an IPv6 address as a send error, and sends the rest', async () => {
    const a0 = await stats(a);
    const b0 = (await stats(b)).seen.v6.datagrams;
    await send(a, [
      { v6: true, dst: 9, count: 1, len: 100 },
      { v6: true, dst: 1 << 20, count: 1, len: 100 },
      { v6: true, dst: 3, count: 3, len: 100 },
    ]);
    await until(b, (x) => x.seen.v6.datagrams >= b0 + 3);
    const a1 = await stats(a);
    expect(a1.io.udpSendErrors - a0.io.udpSendErrors).toBe(2);
    expect(a1.io.udp6SendPackets - a0.io.udp6SendPackets).toBe(3);
  });

  it('sends IPv4 and IPv6 entries of one batch out of their own sockets, IPv4 as before', async () => {
    await peer6(b, 5, A.v6);
    const a0 = await stats(a);
    const b0 = await stats(b);
    await send(a, [
      { v6: true, dst: 3, count: 10, len: V6_DATAGRAM },
      { v6: false, dst: B.v4, count: 10, len: V4_DATAGRAM },
      { v6: true, dst: 3, count: 10, len: V6_DATAGRAM },
      { v6: false, dst: B.v4, count: 5, len: V4_DATAGRAM },
    ]);
    const s = await until(b, (x) => x.seen.v4.datagrams >= b0.seen.v4.datagrams + 15 && x.seen.v6.datagrams >= b0.seen.v6.datagrams + 20);
    expect(s.seen.v4.datagrams - b0.seen.v4.datagrams).toBe(15);
    expect(s.seen.v4.bytes - b0.seen.v4.bytes).toBe(15 * V4_DATAGRAM);
    expect(s.seen.v4.from[A_V4_KEY] - (b0.seen.v4.from[A_V4_KEY] ?? 0)).toBe(15);
    expect(s.seen.v6.datagrams - b0.seen.v6.datagrams).toBe(20);
    expect(s.seen.v6.from['5'] - b0.seen.v6.from['5']).toBe(20);
    expect(s.seen.v4.bad + s.seen.v6.bad).toBe(0);
    const a1 = await stats(a);
    expect(a1.io.udpSendPackets - a0.io.udpSendPackets).toBe(35);
    expect(a1.io.udp6SendPackets - a0.io.udp6SendPackets).toBe(20);
    // Four runs of one family each: at least one sendmmsg per run.
    expect(a1.io.udpSendCalls - a0.io.udpSendCalls).toBeGreaterThanOrEqual(4);
  });

  it('cuts TSO super-packets onto the IPv6 underlay like onto the IPv4 one', async () => {
    const b0 = await stats(b);
    const mss = V6_DATAGRAM - 62;
    await send(a, [
      { v6: true, dst: 3, tso: 20_000, mss },
      { v6: false, dst: B.v4, tso: 20_000, mss },
    ]);
    const k = Math.ceil(20_000 / mss);
    const s = await until(b, (x) => x.seen.v6.tso >= b0.seen.v6.tso + k && x.seen.v4.tso >= b0.seen.v4.tso + k);
    expect(s.seen.v6.tso - b0.seen.v6.tso).toBe(k);
    expect(s.seen.v6.bytes - b0.seen.v6.bytes).toBe(20_000 + k * 62);
    expect(s.seen.v4.tso - b0.seen.v4.tso).toBe(k);
    expect(s.seen.v6.truncated + s.seen.v4.truncated).toBe(0);
  });
});

describe('binding the IPv6 underlay socket', () => {
  /** openUdp6 in namespace `ns` → 'OK' or the error's code. */
  const bind = (ns: Netns, addr: string, flags: number): Promise<string> =>
    ns.exec(process.execPath, [
      '--input-type=module',
      '-e',
      `import { loadNative } from '${process.cwd()}/dist/daemon/dataplane/native.js';
       import { ipv6Bytes, parseIpv6 } from '${process.cwd()}/dist/daemon/net/ipv6.js';
       try { loadNative().closeFd(loadNative().openUdp6(ipv6Bytes(parseIpv6('${addr}')), 9999, 0, 0, ${flags})); console.log('OK'); }
       catch (e) { console.log(e.code); }`,
    ]);

  it('binds an address still in duplicate address detection with UDP_FLAG_FREEBIND, and not without', async () => {
    // Duplicate address detection that lasts a minute: the address stays tentative through the test.
    await b.exec('sysctl', ['-qw', 'net.ipv6.neigh.eth0.retrans_time_ms=60000']);
    await b.ip('addr', 'add', 'fd00:198:18::77/64', 'dev', 'eth0');
    expect(await b.ip('-6', 'addr', 'show', 'dev', 'eth0')).toMatch(/fd00:198:18::77\/64 scope global tentative/);
    expect((await bind(b, 'fd00:198:18::77', 0)).trim()).toBe('EADDRNOTAVAIL');
    expect((await bind(b, 'fd00:198:18::77', UDP_FLAG_FREEBIND)).trim()).toBe('OK');
    expect((await bind(b, '::', 0)).trim()).toBe('OK');
  });
});
