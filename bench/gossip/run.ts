// Gossip at scale: n members on loopback (real gRPC + HMAC, default SWIM timers), hosted by
// ⌈n / GOSSIP_BENCH_PER_PROCESS⌉ forked bench processes (default 32 members each; all members of
// a process share its event loop). For each n: formation time (members started in waves of 16
// every 250 ms → every member sees every other alive), join time of one more member, failure detection of a crashed
// member (first suspicion, dead on all), and steady-state gossip traffic per member.
//   npm run bench:gossip                                 (n = 8, 32, 128)
//   GOSSIP_BENCH_SIZES=8,32 GOSSIP_BENCH_STEADY_MS=3000 GOSSIP_BENCH_PER_PROCESS=128 npm run bench:gossip
// Prints a Markdown table and writes bench/results/gossip-<time>.json, with a bar chart of the
// timings beside it (gossip-<time>.svg).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SWIM_CONFIG } from '../../daemon/control/gossip/swim-config.js';
import type { MemberState } from '../../daemon/control/gossip/types.js';
import { writeBarChartSvg } from '../chart-svg.js';
import { now, type WorkerReply, type WorkerRequest } from './protocol.js';

interface Row {
  members: number;
  processes: number;
  /** null: did not happen within GOSSIP_BENCH_LIMIT_MS. */
  formMs: number | null;
  joinMs: number | null;
  firstSuspectMs: number | null;
  deadOnAllMs: number | null;
  bytesPerSecPerMember: number;
  messagesPerSecPerMember: number;
  /** Suspicions heard (summed over members) during the steady window (after settleMs): false positives. */
  falseSuspicions: number;
  /** Worst event-loop delay p99 among the bench processes. */
  loopLagP99Ms: number;
  /** CPU seconds per wall second, all bench processes together. */
  cpuPerSec: number;
}

const sizes = (process.env.GOSSIP_BENCH_SIZES ?? '8,32,128').split(',').map(Number);
const steadyMs = Number(process.env.GOSSIP_BENCH_STEADY_MS ?? 5_000);
const limitMs = Number(process.env.GOSSIP_BENCH_LIMIT_MS ?? 20_000);
/** Members are started in waves of `waveSize`, `waveMs` apart (a rollout, not one instant). */
const waveSize = Number(process.env.GOSSIP_BENCH_WAVE_SIZE ?? 16);
const waveMs = Number(process.env.GOSSIP_BENCH_WAVE_MS ?? 250);
/** Pause between formation and the steady-state window. */
const settleMs = Number(process.env.GOSSIP_BENCH_SETTLE_MS ?? 8_000);
const perProcess = Number(process.env.GOSSIP_BENCH_PER_PROCESS ?? 32);
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

class Worker {
  readonly proc: ChildProcess = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  private readonly waiting: ((r: WorkerReply) => boolean)[] = [];

  constructor() {
    this.proc.on('message', (r: WorkerReply) => {
      const i = this.waiting.findIndex((w) => w(r));
      if (i >= 0) this.waiting.splice(i, 1);
    });
  }

  request<T extends WorkerReply>(msg: WorkerRequest, match: (r: WorkerReply) => r is T, timeoutMs = limitMs): Promise<T | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(accept);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(null);
      }, timeoutMs);
      const accept = (r: WorkerReply): boolean => {
        if (!match(r)) return false;
        clearTimeout(timer);
        resolve(r);
        return true;
      };
      this.waiting.push(accept);
      this.proc.send(msg);
    });
  }
}

let reqSeq = 0;
/** When `names` were in `states` on every (mode all) or some (mode any) member of all workers. */
async function when(workers: Worker[], names: string[], states: MemberState[], mode: 'all' | 'any'): Promise<number | null> {
  const req = ++reqSeq;
  const watches = workers.map((w) =>
    w.request({ op: 'watch', req, names, states, mode, limitMs }, (r): r is Extract<WorkerReply, { op: 'held' }> => r.op === 'held' && r.req === req).then((t) => t?.at ?? null),
  );
  if (mode === 'any') {
    // The first worker where it held; null once all have given up.
    return new Promise((resolve) => {
      let pending = watches.length;
      for (const w of watches) void w.then((at) => (at !== null ? resolve(at) : --pending === 0 && resolve(null)));
    });
  }
  const times = await Promise.all(watches);
  return times.some((t) => t === null) ? null : Math.max(...(times as number[]));
}

async function sample(workers: Worker[]): Promise<{ bytesSent: number; messages: number; suspicions: number; lagP99Ms: number; cpuMs: number }> {
  const s = await Promise.all(workers.map((w) => w.request({ op: 'sample' }, (r): r is Extract<WorkerReply, { op: 'sample' }> => r.op === 'sample')));
  const ok = s.filter((x) => x !== null).map((x) => x!);
  return {
    bytesSent: ok.reduce((a, x) => a + x.bytesSent, 0),
    messages: ok.reduce((a, x) => a + x.messages, 0),
    suspicions: ok.reduce((a, x) => a + x.suspicions, 0),
    lagP99Ms: Math.max(...ok.map((x) => x.lagP99Ms)),
    cpuMs: ok.reduce((a, x) => a + x.cpuMs, 0),
  };
}

async function measure(n: number): Promise<Row> {
  const processes = Math.max(1, Math.ceil(n / perProcess));
  const workers = Array.from({ length: processes }, () => new Worker());
  const key = randomBytes(32).toString('base64');
  const names = Array.from({ length: n }, (_, i) => `n${i}`);
  const started = (r: WorkerReply): r is Extract<WorkerReply, { op: 'started' }> => r.op === 'started';
  try {
    const wall0 = now();
    const first = await workers[0].request({ op: 'start', ids: [0], seeds: [], key }, started);
    const seed = `127.0.0.1:${first!.ports.n0}`;
    const t0 = now();
    for (let from = 1; from < n; from += waveSize) {
      const wave = names.map((_, i) => i).filter((i) => i >= from && i < from + waveSize);
      await Promise.all(workers.map((w, p) => w.request({ op: 'start', ids: wave.filter((i) => i % processes === p), seeds: [seed], key }, started)));
      if (from + waveSize < n) await new Promise((r) => setTimeout(r, waveMs));
    }
    const formed = await when(workers, names, ['alive'], 'all');
    const formMs = formed === null ? null : formed - t0;

    await new Promise((r) => setTimeout(r, settleMs));
    const s0 = await sample(workers);
    await new Promise((r) => setTimeout(r, steadyMs));
    const s1 = await sample(workers);
    const bytesPerSecPerMember = ((s1.bytesSent - s0.bytesSent) / n) * (1_000 / steadyMs);
    const messagesPerSecPerMember = ((s1.messages - s0.messages) / n) * (1_000 / steadyMs);

    const j0 = now();
    await workers[n % processes].request({ op: 'start', ids: [n], seeds: [seed], key }, started);
    const joined = await when(workers, [`n${n}`], ['alive'], 'all');
    const joinMs = joined === null ? null : joined - j0;

    const victim = n - 1;
    const killed = await workers[victim % processes].request({ op: 'kill', name: `n${victim}` }, (r): r is Extract<WorkerReply, { op: 'killed' }> => r.op === 'killed');
    const k0 = killed!.at;
    const [suspected, dead] = await Promise.all([when(workers, [`n${victim}`], ['suspect', 'dead'], 'any'), when(workers, [`n${victim}`], ['dead'], 'all')]);
    const s2 = await sample(workers);
    return {
      members: n,
      processes,
      formMs,
      joinMs,
      firstSuspectMs: suspected === null ? null : suspected - k0,
      deadOnAllMs: dead === null ? null : dead - k0,
      bytesPerSecPerMember,
      messagesPerSecPerMember,
      falseSuspicions: s1.suspicions - s0.suspicions,
      loopLagP99Ms: s2.lagP99Ms,
      cpuPerSec: s2.cpuMs / (now() - wall0),
    };
  } finally {
    await Promise.all(
      workers.map(async (w) => {
        w.proc.send({ op: 'stop' });
        const timer = setTimeout(() => w.proc.kill('SIGKILL'), 3_000);
        if (w.proc.exitCode === null) await once(w.proc, 'exit');
        clearTimeout(timer);
      }),
    );
  }
}

const rows: Row[] = [];
for (const n of sizes) rows.push(await measure(n));

const fmt = (v: number | null, d = 0): string => (v === null ? `>${limitMs}` : v.toFixed(d));
const header = ['members', 'processes', 'form (ms)', 'join (ms)', 'first suspect (ms)', 'dead on all (ms)', 'bytes/s/member', 'msgs/s/member', 'false suspicions', 'loop lag p99 (ms)', 'cpu s/s'];
const lines = rows.map((r) => [
  String(r.members),
  String(r.processes),
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
const meta = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg(), steadyMs, limitMs, settleMs, waveSize, waveMs, perProcess, swim: DEFAULT_SWIM_CONFIG };
writeFileSync(file, JSON.stringify({ ...meta, rows }, null, 2) + '\n');
const chart = file.replace(/\.json$/, '.svg');
writeBarChartSvg(
  chart,
  `Gossip: formation, join and failure detection (${cpus().length} CPUs, ${perProcess} members per process)`,
  rows.map((r) => ({
    label: `${r.members} members`,
    bars: [
      { name: 'form', value: r.formMs },
      { name: 'join', value: r.joinMs },
      { name: 'first suspect', value: r.firstSuspectMs },
      { name: 'dead on all', value: r.deadOnAllMs },
    ],
  })),
  'ms',
);
console.log(`wrote ${file} and ${chart}`);
