// Gossip at scale: n in-process members on loopback (real gRPC + HMAC, default SWIM timers).
// For each n: cluster formation time, join time of one more member, failure-detection time of a
// crashed member (first suspicion and dead on all), and steady-state gossip traffic per member.
//   npm run bench:gossip                     (n = 8, 32, 128)
//   GOSSIP_BENCH_SIZES=8,32 GOSSIP_BENCH_STEADY_MS=3000 npm run bench:gossip
// Prints a table and writes bench/results/gossip-<time>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { GossipNode } from '../../daemon/control/gossip/node.js';
import { DEFAULT_SWIM_CONFIG } from '../../daemon/control/gossip/swim-config.js';
import { clusterKey, converged, seedOf, startMember, viewsOf, waitFor } from '../../test/integration/gossip-cluster.js';

interface Row {
  members: number;
  /** null: did not happen within the bench's limit (see note). */
  formMs: number | null;
  joinMs: number | null;
  firstSuspectMs: number | null;
  deadOnAllMs: number | null;
  bytesPerSecPerMember: number;
  messagesPerSecPerMember: number;
  falseSuspicions: number;
  /** Event-loop delay p99 of the bench process during the run: members share one thread. */
  loopLagP99Ms: number;
  /** CPU time the bench process used per wall second. */
  cpuPerSec: number;
}

/** Time `cond` took to hold, or null after `limitMs`. */
async function timed(cond: () => boolean, limitMs: number, stepMs = 5): Promise<number | null> {
  try {
    return await waitFor('', cond, limitMs, stepMs);
  } catch {
    return null;
  }
}

const sizes = (process.env.GOSSIP_BENCH_SIZES ?? '8,32,128').split(',').map(Number);
const steadyMs = Number(process.env.GOSSIP_BENCH_STEADY_MS ?? 5_000);
const limitMs = Number(process.env.GOSSIP_BENCH_LIMIT_MS ?? 20_000);

const sum = (nodes: GossipNode[], f: (n: GossipNode) => number): number => nodes.reduce((a, n) => a + f(n), 0);
const messages = (n: GossipNode): number => Object.values(n.stats.sent).reduce((a, b) => a + b, 0);

async function measure(n: number): Promise<Row> {
  const key = clusterKey();
  const nodes: GossipNode[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  try {
    const t0 = performance.now();
    nodes.push(await startMember(0, key, []));
    nodes.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, i) => startMember(i + 1, key, [seedOf(nodes[0])])))));
    const formed = await timed(() => converged(nodes), limitMs, 20);
    const formMs = formed === null ? null : performance.now() - t0;

    const bytes0 = sum(nodes, (x) => x.stats.bytesSent);
    const msgs0 = sum(nodes, messages);
    const suspicions0 = sum(nodes, (x) => x.counters.suspicions);
    await new Promise((r) => setTimeout(r, steadyMs));
    const bytesPerSecPerMember = ((sum(nodes, (x) => x.stats.bytesSent) - bytes0) / n) * (1_000 / steadyMs);
    const messagesPerSecPerMember = ((sum(nodes, messages) - msgs0) / n) * (1_000 / steadyMs);
    const falseSuspicions = sum(nodes, (x) => x.counters.suspicions) - suspicions0;

    const j0 = performance.now();
    const newcomer = await startMember(n, key, [seedOf(nodes[Math.floor(n / 2)])]);
    nodes.push(newcomer);
    const joined = await timed(() => viewsOf(nodes, newcomer.name).every((s) => s === 'alive'), limitMs);
    const joinMs = joined === null ? null : performance.now() - j0;

    const victim = nodes[n - 1];
    const rest = nodes.filter((x) => x !== victim);
    const k0 = performance.now();
    await victim.destroy();
    const suspected = await timed(() => viewsOf(rest, victim.name).some((s) => s === 'suspect' || s === 'dead'), limitMs);
    const firstSuspectMs = suspected === null ? null : performance.now() - k0;
    const dead = await timed(() => viewsOf(rest, victim.name).every((s) => s === 'dead'), limitMs);
    const deadOnAllMs = dead === null ? null : performance.now() - k0;
    const cpu = process.cpuUsage(cpu0);
    const cpuPerSec = (cpu.user + cpu.system) / 1_000 / (performance.now() - wall0);
    return { members: n, formMs, joinMs, firstSuspectMs, deadOnAllMs, bytesPerSecPerMember, messagesPerSecPerMember, falseSuspicions, loopLagP99Ms: lag.percentile(99) / 1e6, cpuPerSec };
  } finally {
    lag.disable();
    await Promise.all(nodes.map((x) => x.destroy()));
  }
}

const rows: Row[] = [];
for (const n of sizes) {
  rows.push(await measure(n));
  await new Promise((r) => setTimeout(r, 500));
}

const fmt = (v: number | null, d = 0): string => (v === null ? `>${limitMs}` : v.toFixed(d));
const header = ['members', 'form (ms)', 'join (ms)', 'first suspect (ms)', 'dead on all (ms)', 'bytes/s/member', 'msgs/s/member', 'false suspicions', 'loop lag p99 (ms)', 'cpu s/s'];
const lines = rows.map((r) => [
  String(r.members),
  fmt(r.formMs),
  fmt(r.joinMs),
  fmt(r.firstSuspectMs),
  fmt(r.deadOnAllMs),
  fmt(r.bytesPerSecPerMember),
  fmt(r.messagesPerSecPerMember, 1),
  String(r.falseSuspicions),
  fmt(r.loopLagP99Ms),
  fmt(r.cpuPerSec, 2),
]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const show = (cells: string[]): string => '| ' + cells.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
console.log(show(header));
console.log('|' + widths.map((w) => '-'.repeat(w + 1) + ':').join('|') + '|');
for (const l of lines) console.log(show(l));

const dir = join(process.cwd(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `gossip-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg(), steadyMs, limitMs, swim: DEFAULT_SWIM_CONFIG, rows }, null, 2) + '\n');
console.log(`wrote ${file}`);
