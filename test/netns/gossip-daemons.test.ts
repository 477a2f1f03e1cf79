// Gossip between real weftd daemons (default timers), each in its own lab node namespace: the
// cluster converges, a joining node is routed by all others within 1 s of its gossip start, a
// SIGKILLed node is declared dead and withdrawn within 5 s (pods get ICMP net unreachable) and
// re-added within 1 s of its restart, a SIGTERMed node is seen leaving at once, a firewall dropping
// a node's UDP gossip (probes) costs no suspicion, etcd can stop
// (failure detection goes on, a killed node restarts from its state cache and rejoins), and
// gossip without the cluster key, or claiming another node's leased subnet, changes no route.
// weft ↔ Flannel-style kernel VXLAN nodes are covered by lab-weft.test.ts. Log records are found by
// their event field; "nothing more happens" is checked after the probe rounds or refusals (on
// /metrics) that would have shown it, not after a sleep.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCD_START_GRACE_MS } from '../../daemon/control/lease/start-source.js';
import { LogEvent, type LogEventName } from '../../daemon/observability/log-events.js';
import { sleep, waitFor } from '../../lab/exec.js';
import { createUnderLease } from '../../lab/etcd.js';
import { leaseKey, vxlanLeaseValue } from '../../lab/flannel-format.js';
import { Lab } from '../../lab/lab.js';
import { DIST } from '../../lab/paths.js';
import { ping, waitReachable } from '../../lab/probe.js';
import type { PodRecord } from '../../lab/state.js';
import { healthz, readSubnetEnv } from '../../lab/weft-node.js';
import { metricValue, waitForMetric, type Scrape } from '../helpers/metrics.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const GOSSIP_PORT = 8473;
const POLL_MS = 50;
const MEMBER_FIXTURE = join(DIST, 'test', 'fixtures', 'gossip', 'member.js');

interface StatusPeer {
  name: string | null;
  subnet: string;
  publicIP: string;
  state: 'alive' | 'suspect' | 'dead' | 'lease-only';
}
interface Status {
  node: { name: string; subnet: string | null; etcdUp: boolean; ready: boolean; leaseExpiry: string | null };
  peers: StatusPeer[];
}

/** Figures measured by this file, printed at the end (for the README / report). */
const figures: string[] = [];

describe('gossip between weftd daemons in a lab (default timers)', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}g-` });
    for (let i = 0; i < 4; i++) await lab.addNode('weft');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    if (figures.length) process.stdout.write(`gossip-daemons figures:\n  ${figures.join('\n  ')}\n`);
  });

  async function status(node: string): Promise<Status | undefined> {
    const body = await healthz(lab.node(node).ns, '/status');
    return body === undefined ? undefined : (JSON.parse(body) as Status);
  }

  const weftNames = (): string[] => lab.nodes.map((n) => n.name);
  const peerNamed = (s: Status | undefined, name: string): StatusPeer | undefined => s?.peers.find((p) => p.name === name);

  /**
   * Polls each observer's /status every POLL_MS until `holds` is true for it; resolves with the
   * wall-clock time each observer first satisfied it. Starts polling at once, so it can run
   * concurrently with the event being measured.
   */
  async function firstTimes(observers: readonly string[], holds: (s: Status | undefined) => boolean, timeoutMs: number): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      observers.map(async (o) => {
        let last: Status | undefined;
        while (Date.now() < deadline) {
          last = await status(o);
          if (holds(last)) return void seen.set(o, Date.now());
          await sleep(POLL_MS);
        }
        throw new Error(`${o} never saw the expected state within ${timeoutMs} ms; its last /status peers: ${JSON.stringify(last?.peers.map((p) => `${p.name} ${p.subnet} ${p.state}`))}`);
      }),
    );
    return seen;
  }

  function logSize(node: string): number {
    try {
      return statSync(join(lab.node(node).dir, 'weftd.log')).size;
    } catch {
      return 0;
    }
  }

  /** A log record carrying `event` and these field values. */
  type Match = { readonly event: LogEventName } & Readonly<Record<string, unknown>>;

  /** Time (ms) of the first log record of `node`'s weftd after byte `from` that matches. */
  function logTime(node: string, from: number, match: Match): number | undefined {
    const text = readFileSync(join(lab.node(node).dir, 'weftd.log')).subarray(from).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (Object.entries(match).every(([k, v]) => rec[k] === v) && typeof rec.time === 'string') return Date.parse(rec.time);
    }
    return undefined;
  }

  async function waitLog(node: string, from: number, match: Match, timeoutMs = 10_000): Promise<number> {
    return waitFor(async () => logTime(node, from, match), timeoutMs, () => new Error(`${node} never logged ${JSON.stringify(match)} (log from byte ${from})`), POLL_MS);
  }

  const scrape = (node: string): Scrape => async () => (await healthz(lab.node(node).ns, '/metrics')) ?? '';

  /** Waits until each of `nodes` has sent `more` gossip messages of `type` beyond those counted now. */
  async function moreSent(nodes: readonly string[], type: string, more: number): Promise<void> {
    const labels = { type, direction: 'out' };
    const now = await Promise.all(nodes.map(async (n) => metricValue(await scrape(n)(), 'weft_gossip_messages_total', labels) ?? 0));
    await Promise.all(nodes.map((n, i) => waitForMetric(scrape(n), 'weft_gossip_messages_total', labels, (v) => (v ?? 0) >= now[i] + more, 15_000, POLL_MS)));
  }

  /** Waits until each of `nodes` has counted at least `n` gossip rejections for `reason`. */
  async function rejections(nodes: readonly string[], reason: string, n: number): Promise<void> {
    await Promise.all(nodes.map((o) => waitForMetric(scrape(o), 'weft_gossip_rejected_total', { reason }, (v) => (v ?? 0) >= n, 10_000, 200)));
  }

  /** Any record saying the node's lease was lost or its subnet changed, after byte `from`. */
  const leaseTrouble = (node: string, from: number): (number | undefined)[] =>
    [LogEvent.leaseLost, LogEvent.subnetChanged, LogEvent.overlayMoved].map((event) => logTime(node, from, { event })).filter((t) => t !== undefined);

  /** Each observer's delay from `t0`, as "node: N ms", and the largest. */
  function delays(seen: Map<string, number>, t0: number): { max: number; text: string } {
    const each = [...seen].sort(([a], [b]) => a.localeCompare(b)).map(([o, t]) => [o, t - t0] as const);
    return { max: Math.max(...each.map(([, d]) => d)), text: each.map(([o, d]) => `${o} ${d} ms`).join(', ') };
  }

  const reachable = (from: PodRecord, to: PodRecord): Promise<void> => waitReachable(from.ns, to.ip);

  /** The routes a node's /status implies: suspect members stay routed, dead ones are withdrawn. */
  const routes = (s: Status): string => JSON.stringify(s.peers.map((p) => [p.name, p.subnet, p.publicIP, p.state === 'dead' ? 'withdrawn' : 'routed']));

  const aliveOthers = (self: string) => (s: Status | undefined) =>
    s !== undefined && weftNames().filter((n) => n !== self).every((n) => peerNamed(s, n)?.state === 'alive');

  it('4 weft nodes converge: each lists every other alive and routed, and pods reach each other', async () => {
    for (const n of weftNames()) await firstTimes([n], aliveOthers(n), 10_000);
    for (const n of weftNames()) {
      const s = (await status(n))!;
      expect(s.peers.map((p) => `${p.name} ${p.state}`).sort()).toEqual(weftNames().filter((x) => x !== n).map((x) => `${x} alive`));
      for (const p of s.peers) expect(p.subnet).toBe(lab.node(p.name!).subnet);
    }
    // Probes travel on long-lived streams (proto/gossip.proto, Stream), both ways: within a few
    // probe rounds every node has opened some and accepted some.
    for (const n of weftNames()) {
      for (const event of ['opened', 'accepted']) await waitForMetric(scrape(n), 'weft_gossip_streams_total', { event }, (v) => (v ?? 0) >= 1, 5_000, POLL_MS);
    }
    // Probes themselves go over UDP once a member answered a check (udp-probes.ts).
    for (const n of weftNames()) await waitForMetric(scrape(n), 'weft_gossip_udp_probes_total', { event: 'acked' }, (v) => (v ?? 0) >= 5, 5_000, POLL_MS);
    await reachable(pod1, pod2);
    await reachable(pod2, pod1);
  });

  it('UDP to and from a node\'s gossip port dropped (a firewall): its probes fall back to gRPC, no node ever suspects it, and it says so; allowed again, it probes over UDP again', async () => {
    const others = weftNames().filter((n) => n !== 'node1');
    const udp = async (n: string, event: string): Promise<number> => metricValue(await scrape(n)(), 'weft_gossip_udp_probes_total', { event }) ?? 0;
    const fallbacks0 = await Promise.all(weftNames().map((n) => udp(n, 'fallback')));
    const rule = ['INPUT', '-p', 'udp', '--dport', String(GOSSIP_PORT), '-j', 'DROP'];
    const logFrom = logSize('node1');
    await lab.exec(lab.node('node1').ns, 'iptables', ['-w', '-I', ...rule]);
    let dropping = true;
    try {
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        for (const o of others) expect(peerNamed(await status(o), 'node1')?.state).toBe('alive');
        expect((await status('node1'))!.peers.map((p) => p.state)).toEqual(others.map(() => 'alive'));
        await sleep(POLL_MS);
      }
      const fallbacks = await Promise.all(weftNames().map((n) => udp(n, 'fallback')));
      figures.push(`UDP dropped at node1 for 5 s: probes sent again over gRPC ${weftNames().map((n, i) => `${n} ${fallbacks[i] - fallbacks0[i]}`).join(', ')}`);
      // node1's probes of the others, and theirs of it, were rescued over gRPC.
      const more = weftNames().map((n, i) => [n, fallbacks[i] - fallbacks0[i]] as const);
      expect(more.find(([n]) => n === 'node1')![1]).toBeGreaterThan(0);
      expect(more.filter(([n]) => n !== 'node1').reduce((sum, [, d]) => sum + d, 0)).toBeGreaterThan(0);
      // node1 says so once its checks go unanswered too, and again once UDP gets through.
      await waitLog('node1', logFrom, { event: LogEvent.gossipUdp, udp: false }, 5_000);
      await lab.exec(lab.node('node1').ns, 'iptables', ['-w', '-D', ...rule]);
      dropping = false;
      const allowedAt = Date.now();
      const back = await waitLog('node1', logFrom, { event: LogEvent.gossipUdp, udp: true }, 20_000);
      figures.push(`UDP allowed again at node1: answered over UDP again ${back - allowedAt} ms later (checks every 10 s)`);
    } finally {
      if (dropping) await lab.exec(lab.node('node1').ns, 'iptables', ['-w', '-D', ...rule]);
    }
  });

  it('a new node is routed (alive) by all others within 1 s of its gossip start', async () => {
    const others = weftNames();
    const watching = firstTimes(others, (s) => peerNamed(s, 'node5')?.state === 'alive', 30_000);
    await lab.addNode('weft', 5);
    const seen = await watching;
    const listening = logTime('node5', 0, { event: LogEvent.gossipListening })!;
    const ready = logTime('node5', 0, { event: LogEvent.ready })!;
    const joins = others.map((o) => logTime(o, 0, { event: LogEvent.memberChanged, member: 'node5', from: 'unknown', to: 'alive' })! - listening);
    const d = delays(seen, listening);
    figures.push(`join: gossip start → alive in each /status (50 ms polls): ${d.text}; from their logs: ${joins.join(', ')} ms; node5 ready ${ready - listening} ms after gossip start`);
    expect(d.max).toBeLessThan(1_000);
    for (const o of others) expect(peerNamed(await status(o), 'node5')?.subnet).toBe(lab.node('node5').subnet);
  });

  it('SIGKILL: all others mark the node dead and withdraw it within 5 s; its pods get ICMP net unreachable; restarted, it is re-added within 1 s', async () => {
    const others = weftNames().filter((n) => n !== 'node2');
    const offsets = new Map(others.map((o) => [o, logSize(o)]));
    const t0 = Date.now();
    await lab.killWeftd('node2');
    const dead = await firstTimes(others, (s) => peerNamed(s, 'node2')?.state === 'dead', 15_000);
    const d = delays(dead, t0);
    const withdrawn = await Promise.all(others.map(async (o) => (await waitLog(o, offsets.get(o)!, { event: LogEvent.routeWithdrawn, node: 'node2', reason: 'dead' })) - t0));
    figures.push(`SIGKILL → dead in each /status: ${d.text}; route withdrawn (their logs): ${withdrawn.join(', ')} ms`);
    expect(d.max).toBeLessThan(5_000);
    expect(Math.max(...withdrawn)).toBeLessThan(5_000);
    const r = await ping(pod1.ns, pod2.ip, { count: 1, deadlineS: 2 });
    expect(r.received).toBe(0);
    expect(r.output).toContain('Destination Net Unreachable');

    const from = logSize('node2');
    const rejoinOffsets = new Map(others.map((o) => [o, logSize(o)]));
    const back = firstTimes(others, (s) => peerNamed(s, 'node2')?.state === 'alive', 30_000);
    await lab.startWeftd('node2');
    const seen = await back;
    const listening = await waitLog('node2', from, { event: LogEvent.gossipListening });
    const b = delays(seen, listening);
    figures.push(`restart after SIGKILL: gossip start → alive again in each /status: ${b.text}`);
    expect(b.max).toBeLessThan(1_000);
    await reachable(pod1, pod2);
    // Back for good: no false suspicion from a connection still in reconnect backoff, over a full
    // probe cycle of each (one ping per other member, node2 included).
    await moreSent(others, 'ping', others.length);
    for (const o of others) expect(logTime(o, rejoinOffsets.get(o)!, { event: LogEvent.memberChanged, member: 'node2', from: 'alive', to: 'suspect' })).toBeUndefined();
  });

  it('SIGTERM: the node leaves at once; all others withdraw it well under 1 s', async () => {
    const others = weftNames().filter((n) => n !== 'node3');
    const offsets = new Map(others.map((o) => [o, logSize(o)]));
    const left = firstTimes(others, (s) => peerNamed(s, 'node3')?.state === 'dead', 10_000);
    const t0 = Date.now();
    await lab.stopWeftd('node3');
    const d = delays(await left, t0);
    const withdrawn = await Promise.all(others.map(async (o) => (await waitLog(o, offsets.get(o)!, { event: LogEvent.routeWithdrawn, node: 'node3', reason: 'left' })) - t0));
    figures.push(`SIGTERM → dead (left) in each /status: ${d.text}; route withdrawn (their logs): ${withdrawn.join(', ')} ms`);
    expect(d.max).toBeLessThan(1_000);
    expect(Math.max(...withdrawn)).toBeLessThan(1_000);
  });

  it('a process without the cluster key is rejected (bad_hmac) and changes no route', async () => {
    const before = new Map<string, string>();
    const leased = new Set<string>();
    for (const n of ['node2', 'node4']) {
      const s = (await status(n))!;
      before.set(n, routes(s));
      for (const p of s.peers) leased.add(p.subnet);
    }
    // A subnet no node holds (the lab leases them at random, as Flannel does).
    const claimed = [...Array(256).keys()].map((k) => `10.244.${k}.0/24`).find((c) => !leased.has(c))!;
    const seeds = ['node2', 'node4'].map((n) => `${lab.node(n).underlayIp}:${GOSSIP_PORT}`).join(',');
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const intruder = lab.startProcess(lab.node('node1').ns, 'intruder', process.execPath, [MEMBER_FIXTURE, 'intruder', claimed, wrongKey, seeds]);
    try {
      // its first join round and its retry (a second later) both refused by both
      await rejections(['node2', 'node4'], 'bad_hmac', 2);
      for (const n of ['node2', 'node4']) {
        const s = (await status(n))!;
        expect(routes(s)).toBe(before.get(n));
        expect(s.peers.some((p) => p.name === 'intruder' || p.subnet === claimed)).toBe(false);
      }
      figures.push(`intruder without the key: bad_hmac rejections node2 ${await rejected('node2', 'bad_hmac')}, node4 ${await rejected('node4', 'bad_hmac')}`);
    } finally {
      await lab.stopProcess(intruder);
    }
  });

  it('a member with the key claiming another node\'s leased subnet is refused; the route stays with the lease holder', async () => {
    const victim = lab.node('node4');
    const key = (await lab.etcdctl('get', '--print-value-only', `${lab.state.etcdPrefix}/gossip-key`)).trim();
    const seeds = ['node1', 'node2'].map((n) => `${lab.node(n).underlayIp}:${GOSSIP_PORT}`).join(',');
    const forger = lab.startProcess(lab.node('node1').ns, 'forger', process.execPath, [MEMBER_FIXTURE, 'forger', victim.subnet!, key, seeds]);
    try {
      // every observer has merged the forged record and refused to route it
      await rejections(['node1', 'node2', 'node5'], 'route_lease_conflict', 1);
      for (const n of ['node1', 'node2', 'node5']) {
        const p = peerNamed(await status(n), 'node4');
        expect(p).toMatchObject({ subnet: victim.subnet, publicIP: victim.underlayIp, state: 'alive' });
      }
      await reachable(pod2, pod1);
    } finally {
      await lab.stopProcess(forger);
    }
  });

  it('etcd stopped: a SIGKILLed node is still withdrawn, restarts from its state cache, rejoins and carries pod traffic; etcd back, nothing breaks', async () => {
    const others = weftNames().filter((n) => n !== 'node2' && n !== 'node3');
    await lab.stopEtcd();
    const t0 = Date.now();
    await lab.killWeftd('node2');
    const dead = delays(await firstTimes(others, (s) => peerNamed(s, 'node2')?.state === 'dead', 15_000), t0);
    figures.push(`etcd down, SIGKILL → dead in each /status: ${dead.text}`);
    expect(dead.max).toBeLessThan(5_000);
    expect((await ping(pod1.ns, pod2.ip, { count: 1, deadlineS: 2 })).output).toContain('Destination Net Unreachable');

    const from = logSize('node2');
    const back = firstTimes(others, (s) => peerNamed(s, 'node2')?.state === 'alive', 30_000);
    const started = Date.now();
    await lab.startWeftd('node2');
    const readyAt = Date.now();
    const seen = await back;
    const listening = await waitLog('node2', from, { event: LogEvent.gossipListening });
    expect(logTime('node2', from, { event: LogEvent.stateCacheStart })).toBeDefined();
    expect(logTime('node2', from, { event: LogEvent.ready, startedFrom: 'state-cache' })).toBeDefined();
    const b = delays(seen, listening);
    figures.push(`etcd down, restart from the state cache: ready ${readyAt - started} ms after spawn (2.5 s etcd grace); gossip start → alive again in each /status: ${b.text}`);
    expect(b.max).toBeLessThan(1_000);
    const s2 = (await status('node2'))!;
    expect(s2.node).toMatchObject({ subnet: lab.node('node2').subnet, etcdUp: false, ready: true });
    expect(s2.peers.filter((p) => p.state === 'alive').map((p) => p.name)).toEqual(expect.arrayContaining(others));
    await reachable(pod1, pod2);
    await reachable(pod2, pod1);

    await lab.startEtcd();
    await waitLog('node2', from, { event: LogEvent.leaseRenewed }, 15_000);
    await firstTimes(['node2', ...others], (s) => s?.node.etcdUp === true, 15_000);
    expect(leaseTrouble('node2', from)).toEqual([]);
    expect((await status('node2'))!.node.subnet).toBe(lab.node('node2').subnet);
    expect((await ping(pod1.ns, pod2.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
    for (const o of others) expect(peerNamed(await status(o), 'node2')?.state).toBe('alive');
  });

  it('restarted from the state cache, a node whose lease was taken meanwhile moves to a new subnet once etcd answers', async () => {
    const node2 = lab.node('node2');
    const oldSubnet = node2.subnet!;
    await lab.killWeftd('node2');
    // Someone else holds node2's subnet now (its etcd lease expired while it was away, say).
    await lab.etcdctl('del', leaseKey(lab.state.etcdPrefix, oldSubnet));
    expect(await createUnderLease(lab.state.etcdNs, leaseKey(lab.state.etcdPrefix, oldSubnet), vxlanLeaseValue('198.18.0.99', 1, '0a:00:00:00:00:99'), 3600)).toBe(true);
    await lab.stopEtcd();
    const from = logSize('node2');
    await lab.startWeftd('node2');
    expect(logTime('node2', from, { event: LogEvent.ready, startedFrom: 'state-cache' })).toBeDefined();
    await lab.startEtcd();
    await waitLog('node2', from, { event: LogEvent.overlayMoved }, 20_000);
    const moved = await waitFor(
      async () => {
        const s = await status('node2');
        return s?.node.ready && s.node.subnet && s.node.subnet !== oldSubnet ? s.node.subnet : undefined;
      },
      20_000,
      () => new Error(`node2 never reported a new subnet\n${readFileSync(join(node2.dir, 'weftd.log')).subarray(from).toString().split('\n').map((l) => l.slice(0, 300)).join('\n')}`),
    );
    expect(readSubnetEnv(node2.subnetFile)?.subnet).toBe(moved);
    const changed = logTime('node2', from, { event: LogEvent.overlayMoved })!;
    const busy = logTime('node2', from, { event: LogEvent.tunBusy });
    figures.push(`lease taken while away: overlay moved to ${moved}; TUN EBUSY on reopen: ${busy === undefined ? 'no' : `yes, ${busy - changed} ms after the move began`}`);
    const others = ['node1', 'node4'];
    await firstTimes(others, (s) => peerNamed(s, 'node2')?.subnet === moved && peerNamed(s, 'node2')?.state === 'alive', 10_000);
    for (const o of others) expect((await status(o))!.peers.find((p) => p.subnet === oldSubnet)).toMatchObject({ publicIP: '198.18.0.99', state: 'lease-only' });
  });

  it('--gossip-probe-interval sets how often a node probes: about once a second at 1, twice at the default 0.5', async () => {
    const pings = async (node: string): Promise<number> => metricValue(await scrape(node)(), 'weft_gossip_messages_total', { type: 'ping', direction: 'out' }) ?? 0;
    await lab.stopWeftd('node5');
    await lab.startWeftd('node5', ['--gossip-probe-interval', '1']);
    try {
      await moreSent(['node5'], 'ping', 1);
      const [slow0, fast0] = [await pings('node5'), await pings('node1')];
      await new Promise((r) => setTimeout(r, 6_000));
      const [slow, fast] = [(await pings('node5')) - slow0, (await pings('node1')) - fast0];
      figures.push(`probes in 6 s: ${slow} at --gossip-probe-interval 1, ${fast} at the default`);
      expect(slow).toBeGreaterThanOrEqual(3);
      expect(slow).toBeLessThanOrEqual(8);
      expect(fast).toBeGreaterThanOrEqual(slow + 3);
    } finally {
      await lab.stopWeftd('node5');
      await lab.startWeftd('node5');
    }
  });

  it('etcd blackholed (requests hang, no refusal): a restarted node is ready from its state cache soon after the 2.5 s grace, and renews once etcd answers', async () => {
    const rule = ['INPUT', '!', '-i', 'lo', '-p', 'tcp', '--dport', '2379', '-j', 'DROP'];
    await lab.stopWeftd('node4');
    await lab.exec(lab.state.etcdNs, 'iptables', ['-w', '-A', ...rule]);
    const from = logSize('node4');
    try {
      const t0 = Date.now();
      const back = firstTimes(['node1', 'node5'], (s) => peerNamed(s, 'node4')?.state === 'alive', 30_000);
      await lab.startWeftd('node4');
      const readyMs = Date.now() - t0;
      await back;
      const spawned = logTime('node4', from, { event: LogEvent.starting })!;
      const ready = logTime('node4', from, { event: LogEvent.ready, startedFrom: 'state-cache' })!;
      // Soon after the grace, not after the hung first call's deadline (ETCD_CALL_TIMEOUT_MS, when
      // weftd finds etcd unreachable): judged by the order of weftd's own records, not by a wall-clock
      // budget that a loaded machine stretches (4 s was exceeded by 63 ms on two busy cores).
      const unreachable = await waitLog('node4', from, { event: LogEvent.etcdUnreachable }, 10_000);
      figures.push(`etcd blackholed: ready from the state cache ${ready - spawned} ms after "weftd starting" (${readyMs} ms after spawn), etcd found unreachable ${unreachable - spawned} ms after`);
      expect(ready - spawned).toBeGreaterThanOrEqual(ETCD_START_GRACE_MS);
      expect(ready).toBeLessThan(unreachable);
      // SIGTERM while etcd still hangs: weftd exits by itself (lab.stopWeftd SIGKILLs after 3 s).
      const t1 = Date.now();
      await lab.stopWeftd('node4');
      const exitMs = Date.now() - t1;
      figures.push(`etcd blackholed: SIGTERM → exit in ${exitMs} ms`);
      expect(exitMs).toBeLessThan(2_500);
      await lab.startWeftd('node4');
    } finally {
      await lab.exec(lab.state.etcdNs, 'iptables', ['-w', '-D', ...rule]);
    }
    await waitLog('node4', from, { event: LogEvent.leaseRenewed }, 20_000);
    expect(leaseTrouble('node4', from)).toEqual([]);
    // The renewed lease is what the state cache holds now.
    await waitFor(
      async () => {
        const expiry = (await status('node4'))?.node.leaseExpiry;
        const cached = JSON.parse(readFileSync(join(lab.node('node4').dir, 'weft-state.json'), 'utf8')) as { lease: { expiresAt: number } };
        return expiry && new Date(cached.lease.expiresAt).toISOString() === expiry ? true : undefined;
      },
      5_000,
      () => new Error('weft-state.json does not hold the renewed lease'),
    );
  });

  async function rejected(node: string, reason: string): Promise<number> {
    return metricValue(await scrape(node)(), 'weft_gossip_rejected_total', { reason }) ?? 0;
  }
});
