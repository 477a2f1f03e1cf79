// Membership identity on a lab of real weftd daemons (default timers), as an operator would get it
// wrong: a node renamed in place keeps its routes everywhere; a second weftd started with another
// node's --public-ip, or with another node's --node-name, is refused while the holder lives (one
// log line naming both sides, weft_identity_conflicts_total{kind}), and the holder's route, lease
// and /status never change. Two that both run anyway (the check could not reach the holder) each
// report the other once gossip shows them refuting each other. Records are found by their event
// field; "still once" and "never withdrawn" are checked after /metrics shows the retries or
// push-pull rounds that could have changed them, not after a sleep.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { waitFor } from '../../lab/exec.js';
import { leaseKey } from '../../lab/flannel-format.js';
import { Lab } from '../../lab/lab.js';
import { ping, waitReachable } from '../../lab/probe.js';
import type { PodRecord, ProcessRecord } from '../../lab/state.js';
import { healthz, weftdArgs } from '../../lab/weft-node.js';
import { metricValue, waitForMetric, type Scrape } from '../helpers/metrics.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

const POLL_MS = 100;

interface StatusPeer {
  name: string | null;
  subnet: string;
  publicIP: string;
  state: 'alive' | 'suspect' | 'dead' | 'lease-only';
}
interface Status {
  node: { name: string; subnet: string | null; ready: boolean };
  peers: StatusPeer[];
}

const figures: string[] = [];

describe('membership identity on a weftd lab', () => {
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}i-` });
    for (let i = 0; i < 3; i++) await lab.addNode('weft');
    // A spare machine for the impostors; its own weftd is stopped (its lease stays in etcd).
    await lab.addNode('weft', 9);
    await lab.stopWeftd('node9');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    if (figures.length) process.stdout.write(`identity figures:\n  ${figures.join('\n  ')}\n`);
  });

  async function status(node: string): Promise<Status | undefined> {
    const body = await healthz(lab.node(node).ns, '/status');
    return body === undefined ? undefined : (JSON.parse(body) as Status);
  }

  const scrape = (node: string): Scrape => async () => (await healthz(lab.node(node).ns, '/metrics')) ?? '';

  async function metric(node: string, kind: string): Promise<number> {
    return metricValue(await scrape(node)(), 'weft_identity_conflicts_total', { kind }) ?? 0;
  }

  /** Waits until `node` has refused `more` lease attempts for a `kind` conflict beyond those counted now. */
  async function moreRefusals(node: string, kind: string, more: number): Promise<void> {
    const from = metricValue(await scrape(node)(), 'weft_identity_refusals_total', { kind }) ?? 0;
    await waitForMetric(scrape(node), 'weft_identity_refusals_total', { kind }, (n) => (n ?? 0) >= from + more, 20_000, POLL_MS);
  }

  /** Waits until each of `nodes` has started at least one more push-pull (a full state exchange) than now. */
  async function pushPullRound(nodes: readonly string[]): Promise<void> {
    const labels = { type: 'push_pull', direction: 'out' };
    const now = await Promise.all(nodes.map(async (n) => metricValue(await scrape(n)(), 'weft_gossip_messages_total', labels) ?? 0));
    await Promise.all(nodes.map((n, i) => waitForMetric(scrape(n), 'weft_gossip_messages_total', labels, (v) => (v ?? 0) > now[i], 20_000, POLL_MS)));
  }

  const conflicts = (file: string, kind: string, from = 0) =>
    logLines(file).filter((l) => l.event === LogEvent.identityConflict && l.kind === kind && Date.parse(l.time) >= from);
  const withdrawnSince = (node: string, subnet: string, from: number) =>
    logLines(join(lab.node(node).dir, 'weftd.log')).filter((l) => l.event === LogEvent.routeWithdrawn && l.subnet === subnet && Date.parse(l.time) >= from);

  /** Starts weftd in `host`'s namespace as the lab does, with `--flag value` pairs replaced or added. */
  function startWeftdAs(host: string, role: string, flags: Record<string, string>): ProcessRecord {
    const node = lab.node(host);
    const args = weftdArgs(node, lab.state.etcdEndpoint, lab.state.etcdPrefix, []);
    for (const [flag, value] of Object.entries(flags)) {
      const i = args.indexOf(flag);
      if (i >= 0) args[i + 1] = value;
      else args.push(flag, value);
    }
    return lab.startProcess(node.ns, `weftd ${role}`, process.execPath, args);
  }

  function logLines(file: string): { msg: string; time: string; [k: string]: unknown }[] {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  }

  async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
    return waitFor(check, timeoutMs, () => new Error(`timed out waiting for ${what}`), POLL_MS);
  }

  async function leaseValue(subnet: string): Promise<{ PublicIP: string; BackendData: { WeftNodeName?: string; VtepMAC: string } }> {
    return JSON.parse(await lab.etcdctl('get', '--print-value-only', leaseKey(lab.state.etcdPrefix, subnet)));
  }

  /** node1's view from every other running node: routed (alive) at its own subnet and address. */
  async function node1RoutedEverywhere(): Promise<void> {
    const n1 = lab.node('node1');
    for (const o of ['node2', 'node3']) {
      const p = (await status(o))!.peers.filter((x) => x.subnet === n1.subnet);
      expect(p).toEqual([expect.objectContaining({ name: 'node1', publicIP: n1.underlayIp, state: 'alive' })]);
    }
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.1 })).received).toBe(5);
  }

  it('all nodes converge and pods reach each other', async () => {
    for (const n of ['node1', 'node2', 'node3']) {
      await waitUntil(`${n} to see the others alive`, async () => {
        const s = await status(n);
        const others = ['node1', 'node2', 'node3'].filter((x) => x !== n);
        return others.every((o) => s?.peers.some((p) => p.name === o && p.state === 'alive')) ? true : undefined;
      });
    }
    await waitReachable(pod1.ns, pod2.ip);
    await waitReachable(pod2.ns, pod1.ip);
  });

  it('a node renamed in place (same IP and subnet) keeps its routes everywhere, and /status agrees', async () => {
    const node2 = lab.node('node2');
    const subnet = node2.subnet!;
    await lab.stopWeftd('node2');
    await waitUntil('node1 to withdraw node2 (left)', async () => ((await status('node1'))?.peers.find((p) => p.subnet === subnet)?.state === 'dead' ? true : undefined));

    const t0 = Date.now();
    const renamed = startWeftdAs('node2', 'node2b', { '--node-name': 'node2b' });
    await waitUntil('node2b to be ready', async () => ((await healthz(node2.ns, '/readyz')) === undefined ? undefined : true));
    expect(logLines(renamed.log).find((l) => l.event === LogEvent.leaseAcquired)).toMatchObject({ how: 'reuse-public-ip', subnet });
    expect((await leaseValue(subnet)).BackendData.WeftNodeName).toBe('node2b');

    for (const o of ['node1', 'node3']) {
      await waitUntil(`${o} to route node2b alive`, async () => {
        const p = (await status(o))?.peers.filter((x) => x.subnet === subnet);
        return p?.length === 1 && p[0].name === 'node2b' && p[0].state === 'alive' ? true : undefined;
      });
    }
    figures.push(`rename in place: restart → alive as node2b at both others in ${Date.now() - t0} ms`);
    await waitReachable(pod1.ns, pod2.ip);
    // The old name's `left` record stays known (24 h); after a push-pull round of each (the full
    // state, old record included) it has not withdrawn the new lease, and /status shows exactly what is routed.
    const routedSince = Date.now();
    await pushPullRound(['node1', 'node3']);
    for (const o of ['node1', 'node3']) {
      const p = (await status(o))!.peers.filter((x) => x.subnet === subnet);
      expect(p).toEqual([expect.objectContaining({ name: 'node2b', publicIP: node2.underlayIp, state: 'alive' })]);
      expect(withdrawnSince(o, subnet, routedSince)).toEqual([]);
    }
    expect((await ping(pod1.ns, pod2.ip, { count: 5, intervalS: 0.1 })).received).toBe(5);
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.1 })).received).toBe(5);

    // Renamed back (the same path once more), so the lab is as it was.
    await lab.stopWeftd('node2');
    await lab.startWeftd('node2');
    expect(lab.node('node2').subnet).toBe(subnet);
    await waitUntil('node1 to route node2 alive again', async () => ((await status('node1'))?.peers.find((p) => p.subnet === subnet && p.name === 'node2')?.state === 'alive' ? true : undefined));
    await waitReachable(pod1.ns, pod2.ip);
  });

  it('a second weftd with node1\'s --public-ip is refused while node1 lives: one log line, the metric, node1 untouched', async () => {
    const n1 = lab.node('node1');
    const before = await leaseValue(n1.subnet!);
    const t0 = Date.now();
    const impostor = startWeftdAs('node9', 'same-ip', { '--public-ip': n1.underlayIp, '--subnet-file': join(lab.node('node9').dir, 'same-ip.env') });
    try {
      const re = new RegExp(`^public IP ${n1.underlayIp.replace(/\./g, '\\.')} is already used by the live weftd node1 at ${n1.underlayIp.replace(/\./g, '\\.')} \\(subnet ${n1.subnet!.replace(/\./g, '\\.')}\\): this weftd \\(node9\\) will not take over its subnet`);
      const line = await waitUntil('the public_ip conflict line', async () => conflicts(impostor.log, 'public_ip')[0]);
      expect(line.msg).toMatch(re);
      figures.push(`duplicate --public-ip: refused ${Date.parse(line.time) - t0} ms after spawn`);
      expect(line).toMatchObject({ level: 50, kind: 'public_ip', self: { name: 'node9', publicIp: n1.underlayIp }, other: { name: 'node1', publicIp: n1.underlayIp, subnet: n1.subnet } });
      expect(await waitUntil('the metric', async () => ((await metric('node9', 'public_ip')) > 0 ? metric('node9', 'public_ip') : undefined))).toBe(1);
      // It keeps retrying (two more refused attempts; stays not ready) without logging again; node1 keeps its lease and routes.
      await moreRefusals('node9', 'public_ip', 2);
      expect(conflicts(impostor.log, 'public_ip')).toHaveLength(1);
      expect(await metric('node9', 'public_ip')).toBe(1);
      expect(await healthz(lab.node('node9').ns, '/readyz')).toBeUndefined();
      expect(await leaseValue(n1.subnet!)).toEqual(before);
      await node1RoutedEverywhere();
    } finally {
      await lab.stopProcess(impostor);
    }
    await node1RoutedEverywhere();
  });

  it('a second weftd named node1 is refused while node1 lives: one log line, the metric, node1 untouched', async () => {
    const n1 = lab.node('node1');
    const before = await leaseValue(n1.subnet!);
    const leasesBefore = (await lab.leases()).length;
    const t0 = Date.now();
    const twin = startWeftdAs('node9', 'same-name', { '--node-name': 'node1', '--subnet-file': join(lab.node('node9').dir, 'same-name.env') });
    try {
      const re = new RegExp(`^node name node1 is already used by the live weftd at ${n1.underlayIp.replace(/\./g, '\\.')} \\(subnet ${n1.subnet!.replace(/\./g, '\\.')}\\): this weftd at ${lab.node('node9').underlayIp.replace(/\./g, '\\.')} will not join under the same name`);
      const line = await waitUntil('the node_name conflict line', async () => conflicts(twin.log, 'node_name')[0]);
      expect(line.msg).toMatch(re);
      figures.push(`duplicate --node-name: refused ${Date.parse(line.time) - t0} ms after spawn`);
      expect(line).toMatchObject({ level: 50, kind: 'node_name', self: { name: 'node1', publicIp: lab.node('node9').underlayIp }, other: { name: 'node1', publicIp: n1.underlayIp, subnet: n1.subnet } });
      expect(await waitUntil('the metric', async () => ((await metric('node9', 'node_name')) > 0 ? metric('node9', 'node_name') : undefined))).toBe(1);
      await moreRefusals('node9', 'node_name', 2);
      expect(conflicts(twin.log, 'node_name')).toHaveLength(1);
      expect(await healthz(lab.node('node9').ns, '/readyz')).toBeUndefined();
      expect(await leaseValue(n1.subnet!)).toEqual(before);
      expect((await lab.leases()).length).toBe(leasesBefore);
      await node1RoutedEverywhere();
    } finally {
      await lab.stopProcess(twin);
    }
    await node1RoutedEverywhere();
  });

  it('two live weftd named node1 (the check could not reach node1): both log the conflict once and count it; node1 stays routed', async () => {
    const n1 = lab.node('node1');
    const n9 = lab.node('node9');
    // node1 does not answer the newcomer's probe, so the newcomer starts and gossips as node1 too.
    const rule = ['INPUT', '-p', 'tcp', '--dport', '8473', '-s', n9.underlayIp, '-j', 'DROP'];
    await lab.exec(n1.ns, 'iptables', ['-w', '-A', ...rule]);
    const from = Date.now();
    const twin = startWeftdAs('node9', 'twin', { '--node-name': 'node1', '--subnet-file': join(n9.dir, 'twin.env') });
    try {
      await waitUntil('the twin to be ready', async () => ((await healthz(n9.ns, '/readyz')) === undefined ? undefined : true));
      const re = /^node name node1 is claimed by two live weftd/;
      const n1Log = join(n1.dir, 'weftd.log');
      const fresh = (file: string) => conflicts(file, 'node_name', from);
      const [mine] = await waitUntil('node1 to report the twin', async () => (fresh(n1Log).length > 0 ? fresh(n1Log) : undefined), 45_000);
      const [theirs] = await waitUntil('the twin to report node1', async () => (fresh(twin.log).length > 0 ? fresh(twin.log) : undefined), 45_000);
      figures.push(`two live node1: reported by node1 ${Date.parse(mine.time) - from} ms, by the twin ${Date.parse(theirs.time) - from} ms after the twin's spawn`);
      expect(mine).toMatchObject({ level: 50, kind: 'node_name', self: { name: 'node1', publicIp: n1.underlayIp, subnet: n1.subnet }, other: { name: 'node1', publicIp: n9.underlayIp } });
      expect(theirs).toMatchObject({ kind: 'node_name', self: { publicIp: n9.underlayIp }, other: { publicIp: n1.underlayIp, subnet: n1.subnet } });
      expect([mine.msg, theirs.msg]).toEqual([expect.stringMatching(re), expect.stringMatching(re)]);
      // They go on refuting each other (each exchanges its full state once more); still one line each, and node1's route never goes away.
      await pushPullRound(['node1', 'node9']);
      expect(fresh(n1Log)).toHaveLength(1);
      expect(fresh(twin.log)).toHaveLength(1);
      expect(await metric('node1', 'node_name')).toBe(1);
      expect(await metric('node9', 'node_name')).toBe(1);
      for (const o of ['node2', 'node3']) {
        const routed = (await status(o))!.peers.filter((p) => p.subnet === n1.subnet);
        expect(routed).toHaveLength(1);
        expect(routed[0].state).not.toBe('dead');
        expect(withdrawnSince(o, n1.subnet!, from)).toEqual([]);
      }
      expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.1 })).received).toBe(5);
    } finally {
      await lab.stopProcess(twin);
      await lab.exec(n1.ns, 'iptables', ['-w', '-D', ...rule]);
    }
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.1 })).received).toBe(5);
  });
});
