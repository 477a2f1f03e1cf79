// weft in production, on a 3-node weft lab with --ip-masq: health and readiness through a node's
// life, metrics that move with traffic and garbage (promtool-clean, and every name the shipped
// dashboard and alert rules use), `weftd status`, masquerade to an "outside"
// namespace on the underlay switch, a 30 s TCP transfer each way that survives a SIGTERM + start of
// both daemons, and a SIGKILLed daemon whose tampered TUN is reconciled at the next start.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipJson, runs, sleep, waitFor } from '../../lab/exec.js';
import { Lab, NETWORK } from '../../lab/lab.js';
import { REPO_ROOT } from '../../lab/paths.js';
import { ping } from '../../lab/probe.js';
import type { PodRecord, ProcessRecord } from '../../lab/state.js';
import { attach } from '../../lab/underlay.js';
import { HEALTHZ_PORT, weftdArgs } from '../../lab/weft-node.js';
import type { Netns } from '../../lab/netns.js';
import { createNetns, ownPrefix } from '../helpers/netns.js';
import { exportedNames, unknownNames } from '../helpers/promql.js';
import { requireRoot } from '../helpers/root.js';

const OUTSIDE_IP = '198.19.0.1';

/** Receives one connection, hashes everything, prints {"bytes","sha"} at the end of the stream. */
const RECEIVER = `
const net = require('net'), crypto = require('crypto');
const [host, port] = process.argv.slice(1);
const h = crypto.createHash('sha256'); let n = 0;
const s = net.createServer((c) => {
  c.on('data', (d) => { h.update(d); n += d.length; });
  c.on('end', () => { console.log(JSON.stringify({ bytes: n, sha: h.digest('hex') })); c.end(); s.close(); });
  c.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
});
s.listen(+port, host, () => console.log('listening'));`;

/** Streams random bytes for `secs` at `rate` bytes/s, then prints {"bytes","sha"} of what it sent. */
const SENDER = `
const net = require('net'), crypto = require('crypto');
const [host, port, secs, rate] = process.argv.slice(1);
const h = crypto.createHash('sha256'); let n = 0;
const c = net.connect(+port, host, () => {
  const end = Date.now() + secs * 1000;
  const t = setInterval(() => {
    if (Date.now() >= end) { clearInterval(t); c.end(); return; }
    if (c.writableLength > (4 << 20)) return;
    const b = crypto.randomBytes(Math.floor(rate / 20)); h.update(b); n += b.length; c.write(b);
  }, 50);
});
c.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exit(1); });
c.on('close', () => console.log(JSON.stringify({ bytes: n, sha: h.digest('hex') })));`;

/** Accepts TCP connections and prints each one's remote address. */
const ECHO_SOURCE = `
const net = require('net');
net.createServer((c) => { console.log('from ' + c.remoteAddress); c.end('hi'); }).listen(+process.argv[1], '0.0.0.0', () => console.log('listening'));`;

describe('weft in production: a 3-node lab with --ip-masq', () => {
  let lab: Lab;
  let outside: Netns;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix: `${ownPrefix()}p-`, weftdArgs: ['--ip-masq', '--metrics-per-peer'] });
    await lab.addNode('weft');
    await lab.addNode('weft');
    await lab.addNode('weft');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
    outside = await createNetns('out');
    await attach(lab.state.switchNs, 'out', outside.name, OUTSIDE_IP);
  }, 120_000);

  afterAll(async () => {
    await lab?.destroy();
    await outside?.destroy();
  });

  const ns = (node: string): string => lab.node(node).ns;

  async function httpCode(node: string, path: string): Promise<number> {
    const out = await lab
      .exec(ns(node), 'curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `http://127.0.0.1:${HEALTHZ_PORT}${path}`])
      .catch(() => '000');
    return Number(out.trim().slice(-3));
  }

  async function metrics(node: string): Promise<string> {
    return lab.exec(ns(node), 'curl', ['-sf', '--max-time', '2', `http://127.0.0.1:${HEALTHZ_PORT}/metrics`]);
  }

  /** Sum of the samples of `name` whose labels contain every `labels` pair. */
  function sample(text: string, name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }

  async function reachable(from: PodRecord, to: string, timeoutMs = 15_000): Promise<void> {
    let last = '';
    await waitFor(
      async () => {
        const r = await ping(from.ns, to, { count: 1, deadlineS: 1 });
        last = r.output;
        return r.received === 1 ? true : undefined;
      },
      timeoutMs,
      () => new Error(`${from.name} never reached ${to}:\n${last}`),
    );
  }

  function weftdProcess(node: string): ProcessRecord {
    const p = lab.state.processes.find((x) => x.ns === ns(node) && x.role.startsWith('weftd'));
    if (!p) throw new Error(`no weftd recorded for ${node}`);
    return p;
  }

  async function tunState(node: string): Promise<{ mtu: number; addrs: string[]; routes: string[] }> {
    const [link] = await ipJson<{ mtu: number; addr_info: { family: string; local: string; prefixlen: number }[] }>(ns(node), 'addr', 'show', 'dev', 'weft0');
    const routes = await ipJson<{ dst: string; metric?: number }>(ns(node), 'route', 'show', 'table', 'main', 'dev', 'weft0');
    return {
      mtu: link.mtu,
      addrs: link.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      routes: routes.map((r) => `${r.dst}${r.metric ? ` metric ${r.metric}` : ''}`),
    };
  }

  /** Output lines of a process started with lab.startProcess, once one matches. */
  async function logLine(proc: ProcessRecord, re: RegExp, timeoutMs: number): Promise<string> {
    return waitFor(
      async () => readFileSync(proc.log, 'utf8').split('\n').find((l) => re.test(l)),
      timeoutMs,
      () => new Error(`${proc.role}: no line matching ${re} within ${timeoutMs} ms; log:\n${readFileSync(proc.log, 'utf8').slice(-2000)}`),
      100,
    );
  }

  it('/healthz, /readyz and /metrics through a node\'s life: not ready before the network config and lease, ready after; --remove-tun-on-exit', async () => {
    await lab.stopWeftd('node3');
    // The same node, started against a prefix that has no network config yet.
    const node = lab.node('node3');
    const proc = lab.startProcess(node.ns, 'weftd node3 late', process.execPath, weftdArgs(node, lab.state.etcdEndpoint, '/late', ['--remove-tun-on-exit']));
    try {
      await waitFor(async () => ((await httpCode('node3', '/healthz')) === 200 ? true : undefined), 10_000, () => new Error('/healthz never answered 200'));
      expect(await httpCode('node3', '/readyz')).toBe(503);
      expect(await httpCode('node3', '/metrics')).toBe(200);
      await lab.etcdctl('put', '/late/config', JSON.stringify({ Network: NETWORK, Backend: { Type: 'vxlan' } }));
      await waitFor(async () => ((await httpCode('node3', '/readyz')) === 200 ? true : undefined), 15_000, () => new Error('/readyz never became 200 after the config was put'));
      expect(await httpCode('node3', '/healthz')).toBe(200);
      expect(sample(await metrics('node3'), 'weft_etcd_up')).toBe(1);
    } finally {
      await lab.stopProcess(proc);
    }
    expect(runs(proc.pid, proc.marker)).toBe(false);
    expect(await ipJson(node.ns, 'link', 'show')).not.toContainEqual(expect.objectContaining({ ifname: 'weft0' })); // --remove-tun-on-exit
    await lab.startWeftd('node3');
    expect(await httpCode('node3', '/readyz')).toBe(200);
  }, 60_000);

  it('`weftd status` inside a node shows every peer of the 3-node lab', async () => {
    const others = ['node2', 'node3'].map((n) => lab.node(n));
    let out = '';
    await waitFor(
      async () => {
        out = await lab.exec(ns('node1'), process.execPath, [join(REPO_ROOT, 'bin', 'weftd.js'), 'status']);
        return others.every((n) => out.includes(n.name) && out.includes(n.subnet as string) && out.includes(n.underlayIp)) ? true : undefined;
      },
      15_000,
      () => new Error(`weftd status never listed node2 and node3:\n${out}`),
      500,
    );
    expect(out).toContain(lab.node('node1').subnet as string);
    const json = JSON.parse(await lab.exec(ns('node1'), process.execPath, [join(REPO_ROOT, 'bin', 'weftd.js'), 'status', '--json'])) as { peers: { subnet: string }[] };
    expect(json.peers.map((p) => p.subnet).sort()).toEqual(others.map((n) => n.subnet).sort());
  }, 30_000);

  it('metrics move with traffic and with garbage datagrams', async () => {
    await reachable(pod1, pod2.ip);
    const before = await metrics('node2');
    const r = await ping(pod1.ns, pod2.ip, { count: 20, intervalS: 0.02 });
    expect(r.received).toBe(20);
    const garbage = 25;
    await outside.exec(process.execPath, [
      '-e',
      `const s = require('dgram').createSocket('udp4'); let n = 0;
       const go = () => s.send(Buffer.alloc(4), 8472, '${lab.node('node2').underlayIp}', () => (++n < ${garbage} ? go() : s.close()));
       go();`,
    ]);
    let after = '';
    await waitFor(
      async () => {
        after = await metrics('node2');
        return sample(after, 'weft_drops_total', { reason: 'truncated' }) - sample(before, 'weft_drops_total', { reason: 'truncated' }) >= garbage ? true : undefined;
      },
      5_000,
      () => new Error(`weft_drops_total{reason="truncated"} did not grow by ${garbage}:\n${after.split('\n').filter((l) => l.startsWith('weft_drops_total')).join('\n')}`),
    );
    for (const direction of ['in', 'out']) {
      expect(sample(after, 'weft_packets_total', { direction }) - sample(before, 'weft_packets_total', { direction })).toBeGreaterThanOrEqual(20);
      // --metrics-per-peer: the same traffic, by the peer's node name and public IP
      const peer = { peer: 'node1', public_ip: lab.node('node1').underlayIp, direction };
      expect(sample(after, 'weft_peer_packets_total', peer) - sample(before, 'weft_peer_packets_total', peer)).toBeGreaterThanOrEqual(20);
    }
    expect(sample(after, 'weft_bytes_total', { direction: 'in' })).toBeGreaterThan(sample(before, 'weft_bytes_total', { direction: 'in' }));
  }, 30_000);

  it('a busy node\'s /metrics: `promtool check metrics` prints nothing; the dashboard and alert rules use only names it exports', async () => {
    await reachable(pod1, pod2.ip);
    expect((await ping(pod1.ns, pod2.ip, { count: 10, intervalS: 0.02 })).received).toBe(10);
    const text = await metrics('node2');
    expect(sample(text, 'weft_packets_total', { direction: 'in' })).toBeGreaterThan(0);
    expect(sample(text, 'weft_peer_packets_total', { peer: 'node1', direction: 'in' })).toBeGreaterThan(0);
    expect(sample(text, 'weft_dataplane_thread_up')).toBe(1);
    expect(sample(text, 'weft_ready')).toBe(1);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error).toBeUndefined();
    expect([lint.status, lint.stdout + lint.stderr]).toEqual([0, '']);
    expect(unknownNames(exportedNames(text))).toEqual([]);
  }, 30_000);

  it('--ip-masq: a pod reaches the outside with its node\'s address as source; the rules are gone after SIGTERM, the TUN is not', async () => {
    const gw = lab.node('node1').subnet!.replace(/0\/\d+$/, '1');
    await lab.exec(pod1.ns, 'ip', ['route', 'replace', `${OUTSIDE_IP}/32`, 'via', gw]);
    const server = outside.spawn(process.execPath, ['-e', ECHO_SOURCE, '7070']);
    try {
      await waitFor(async () => (server.output().includes('listening') ? true : undefined), 5_000, () => new Error(`echo server did not start: ${server.output()}`));
      const reply = await lab.exec(pod1.ns, 'curl', ['-s', '--max-time', '3', '--http0.9', `http://${OUTSIDE_IP}:7070/`]).catch((e: Error) => e.message);
      expect(reply).toContain('hi');
      await waitFor(async () => (server.output().includes('from ') ? true : undefined), 2_000, () => new Error('no connection logged'));
      expect(server.output()).toContain(`from ${lab.node('node1').underlayIp}`);
      expect(server.output()).not.toContain(`from ${pod1.ip}`);
    } finally {
      await server.stop();
    }
    expect(await lab.exec(ns('node1'), 'iptables-save', [])).toContain('WEFT-');
    const before = await tunState('node1');
    await lab.stopWeftd('node1');
    try {
      expect(await lab.exec(ns('node1'), 'iptables-save', [])).not.toContain('WEFT-');
      // Persistent: the TUN keeps its address, MTU and route while no weftd runs.
      expect(await tunState('node1')).toEqual(before);
      expect(before.addrs).toEqual([`${lab.node('node1').subnet!.split('/')[0]}/32`]);
    } finally {
      await lab.startWeftd('node1');
    }
    expect(await lab.exec(ns('node1'), 'iptables-save', [])).toContain('WEFT-');
  }, 60_000);

  it('a 30 s TCP transfer each way between pods on two nodes survives a SIGTERM + start of either daemon', async () => {
    await reachable(pod1, pod2.ip);
    await reachable(pod2, pod1.ip);
    const rate = 2 << 20;
    const rx2 = lab.startProcess(pod2.ns, 'recv pod2', process.execPath, ['-e', RECEIVER, pod2.ip, '5601']);
    const rx1 = lab.startProcess(pod1.ns, 'recv pod1', process.execPath, ['-e', RECEIVER, pod1.ip, '5602']);
    await logLine(rx2, /listening/, 5_000);
    await logLine(rx1, /listening/, 5_000);
    const started = Date.now();
    const tx1 = lab.startProcess(pod1.ns, 'send pod1', process.execPath, ['-e', SENDER, pod2.ip, '5601', '30', String(rate)]);
    const tx2 = lab.startProcess(pod2.ns, 'send pod2', process.execPath, ['-e', SENDER, pod1.ip, '5602', '30', String(rate)]);
    const restarts: string[] = [];
    for (const [node, at] of [['node2', 6_000], ['node1', 16_000]] as const) {
      await sleep(Math.max(0, started + at - Date.now()));
      const t0 = Date.now();
      await lab.stopWeftd(node);
      // While no weftd runs, pod traffic still goes to the TUN (and waits for it), not elsewhere.
      const peerPod = node === 'node1' ? pod2 : pod1;
      expect(await lab.exec(ns(node), 'ip', ['route', 'get', peerPod.ip])).toMatch(/ dev weft0 /);
      await lab.startWeftd(node);
      restarts.push(`${node} restarted in ${Date.now() - t0} ms`);
    }
    const results = await Promise.all([rx2, tx1, rx1, tx2].map(async (p) => JSON.parse(await logLine(p, /^\{/, 60_000)) as { bytes: number; sha: string; error?: string }));
    const [r2, s1, r1, s2] = results;
    console.log(`transfer: ${(Date.now() - started) / 1000} s, ${restarts.join(', ')}, ${s1.bytes} + ${s2.bytes} bytes`);
    expect(s1.error).toBeUndefined();
    expect(s2.error).toBeUndefined();
    expect(s1.bytes).toBeGreaterThan(20 * rate);
    expect(r2).toEqual({ bytes: s1.bytes, sha: s1.sha });
    expect(r1).toEqual({ bytes: s2.bytes, sha: s2.sha });
  }, 120_000);

  it('a SIGKILLed daemon leaves its TUN; tampered state is reconciled at the next start', async () => {
    const node = lab.node('node2');
    const want = { mtu: node.mtu, addrs: [`${node.subnet!.split('/')[0]}/32`], routes: [NETWORK] };
    expect(await tunState('node2')).toEqual(want);
    const proc = weftdProcess('node2');
    process.kill(proc.pid, 'SIGKILL');
    await waitFor(async () => (runs(proc.pid, proc.marker) ? undefined : true), 5_000, () => new Error('weftd survived SIGKILL'));
    await lab.stopWeftd('node2'); // forgets the dead process
    expect(await tunState('node2')).toEqual(want);
    // What a crash of an older weftd on another subnet, or an operator, could leave behind.
    await lab.exec(node.ns, 'ip', ['addr', 'add', '10.244.99.0/32', 'dev', 'weft0']);
    await lab.exec(node.ns, 'ip', ['link', 'set', 'dev', 'weft0', 'mtu', '1300']);
    await lab.exec(node.ns, 'ip', ['route', 'del', NETWORK, 'dev', 'weft0']);
    await lab.exec(node.ns, 'ip', ['route', 'add', NETWORK, 'dev', 'weft0', 'metric', '50']);
    await lab.exec(node.ns, 'ip', ['route', 'add', '10.245.0.0/16', 'dev', 'weft0']);
    expect(await tunState('node2')).not.toEqual(want);
    await lab.startWeftd('node2');
    expect(await tunState('node2')).toEqual(want);
    await reachable(pod1, pod2.ip);
    await reachable(pod2, pod1.ip);
    expect((await ping(pod2.ns, pod1.ip, { count: 5, intervalS: 0.05 })).received).toBe(5);
    const log = readFileSync(weftdProcess('node2').log, 'utf8');
    expect(log).toContain('reconciling: stale address 10.244.99.0/32');
  }, 60_000);
});
