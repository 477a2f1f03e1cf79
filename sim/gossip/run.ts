// npm run sim:gossip -- [--members 100,1000] [--loss 0.01] [--json] [options]
// The discrete-event gossip simulator (see sim/gossip/cluster.ts): runs the production SWIM
// membership for each cluster size and prints one row per scenario; with --json, one JSON object
// per scenario on stdout and the table on stderr.
import { swimConfig, type SwimConfig } from '../../daemon/control/gossip/swim-config.js';
import { DEFAULT_NETWORK, type NetworkOptions } from './network.js';
import { SCENARIOS, simulate, type ScenarioName, type ScenarioResult } from './scenarios.js';
import { formatTable } from './table.js';

const USAGE = `usage: npm run sim:gossip -- [options]
  --members N[,N…]          cluster sizes (default 100)
  --loss P                  packet loss probability, per request and per reply (default 0)
  --latency-ms MS           mean one-way link latency (default ${DEFAULT_NETWORK.latencyMs})
  --jitter-ms MS            per-packet extra delay, uniform in [0, MS) (default ${DEFAULT_NETWORK.jitterMs})
  --slow-fraction F         slow members in the "slow" scenario (default 0.05)
  --slow-lag-ms MS          a slow member's timers and messages run late by up to MS (default ${DEFAULT_NETWORK.slowLagMs})
  --partition-fraction F    members cut off in the "partition" scenario (default 0.1)
  --partition-ms MS         how long the partition lasts (default 15000)
  --steady-ms MS            steady-state traffic window (default 10000)
  --limit-ms MS             longest wait for one event before reporting it as null (default 30000)
  --scenarios a,b           subset of ${SCENARIOS.join(',')} (default all)
  --swim key=value[,…]      SwimConfig overrides, e.g. pushPullIntervalMs=30000
  --seed N                  random seed (default 1)
  --json                    JSON lines on stdout, table on stderr`;

function fail(msg: string): never {
  process.stderr.write(`sim:gossip: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function parse(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) fail(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (key === 'json' || key === 'help') out.set(key, 'true');
    else if (eq > 0) out.set(key, a.slice(eq + 1));
    else if (i + 1 < argv.length) out.set(key, argv[++i]);
    else fail(`--${key} needs a value`);
  }
  return out;
}

const KNOWN = ['members', 'loss', 'latency-ms', 'jitter-ms', 'slow-fraction', 'slow-lag-ms', 'partition-fraction', 'partition-ms', 'steady-ms', 'limit-ms', 'scenarios', 'swim', 'seed', 'json', 'help'];

const args = parse(process.argv.slice(2));
if (args.has('help')) {
  console.log(USAGE);
  process.exit(0);
}
for (const k of args.keys()) if (!KNOWN.includes(k)) fail(`unknown flag --${k}`);

function num(key: string, def: number, max = Infinity): number {
  const v = args.get(key);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > max) fail(`--${key} must be a number in [0, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

const sizes = (args.get('members') ?? '100').split(',').map((s) => {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 2 || n > 60_000) fail(`--members takes integers in [2, 60000], got ${JSON.stringify(s)}`);
  return n;
});
const scenarios = (args.get('scenarios') ?? SCENARIOS.join(',')).split(',').map((s) => {
  if (!(SCENARIOS as readonly string[]).includes(s)) fail(`--scenarios: unknown scenario ${JSON.stringify(s)} (known: ${SCENARIOS.join(', ')})`);
  return s as ScenarioName;
});
const overrides: Partial<SwimConfig> = {};
for (const kv of (args.get('swim') ?? '').split(',').filter(Boolean)) {
  const [k, v] = kv.split('=');
  if (v === undefined || !Number.isFinite(Number(v))) fail(`--swim: expected key=number, got ${JSON.stringify(kv)}`);
  (overrides as Record<string, number>)[k] = Number(v);
}
let swim: Readonly<SwimConfig>;
try {
  swim = swimConfig(overrides);
  for (const k of Object.keys(overrides)) if (!(k in swim)) throw new Error(`unknown SwimConfig field ${k}`);
} catch (err) {
  fail(`--swim: ${(err as Error).message}`);
}
const net: NetworkOptions = {
  ...DEFAULT_NETWORK,
  latencyMs: num('latency-ms', DEFAULT_NETWORK.latencyMs),
  jitterMs: num('jitter-ms', DEFAULT_NETWORK.jitterMs),
  loss: num('loss', 0, 0.99),
  slowLagMs: num('slow-lag-ms', DEFAULT_NETWORK.slowLagMs),
  seed: num('seed', 1),
};
const json = args.has('json');

const results: ScenarioResult[] = [];
const wall0 = performance.now();
for (const members of sizes) {
  await simulate({
    members,
    swim,
    net,
    scenarios,
    slowFraction: num('slow-fraction', 0.05, 1),
    partitionFraction: num('partition-fraction', 0.1, 0.5),
    partitionMs: num('partition-ms', 15_000),
    steadyMs: num('steady-ms', 10_000),
    limitMs: num('limit-ms', 30_000),
    onProgress: (line) => process.stderr.write(`sim:gossip: ${line} (${((performance.now() - wall0) / 1_000).toFixed(1)} s)\n`),
    onResult: (r) => {
      results.push(r);
      if (json) process.stdout.write(JSON.stringify(r) + '\n');
    },
  });
}
(json ? process.stderr : process.stdout).write(formatTable(results) + '\n');
