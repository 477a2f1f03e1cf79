// npm run bench:e2e: the 2-node lab once per plane (kernel VXLAN configured as Flannel's flannel.1,
// weft, and optionally the unencapsulated underlay), measured interleaved: in each round every test
// runs on every plane before the next test starts, so slow drift of this shared 2-core machine hits
// all planes alike, and the planes' order rotates from round to round (roundOrder). Prints the
// table (median (min–max) over rounds, ratio to kernel VXLAN in the same round) and writes JSON to
// bench/results/e2e-<timestamp>.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../lab/paths.js';
import { writeBarChartSvg } from '../chart-svg.js';
import { IPV6_TESTS, measure, metricsOf, roundOrder, type MetricId } from './measure.js';
import { parseOptions, UsageError, USAGE, type BenchOptions } from './options.js';
import { buildPlane, type PlaneLab } from './planes.js';
import { renderCostTable, renderTable, summarize, summarizeCost, type RoundSample } from './summary.js';

/** Short group labels for the chart (the table has the long ones). */
const CHART_LABEL: Record<MetricId, string> = { tcp1: 'TCP 1', tcp1v6: 'TCP 1 IPv6', tcp4: 'TCP 4', udp1400: 'UDP 1400 B', udp64: 'UDP 64 B', pingAvg: 'ping avg', pingP99: 'ping p99', rrAvg: 'TCP req/resp avg', rrP99: 'TCP req/resp p99' };

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(err.message ? `${err.message}\n\n${USAGE}` : USAGE);
    return err.message ? 2 : 0;
  }
  const started = new Date();
  const log = (line: string): void => console.error(`bench:e2e: ${line}`);
  const dualStack = opts.tests.some((t) => IPV6_TESTS.includes(t));
  const metrics = metricsOf(opts.tests);
  log(`planes ${opts.planes.join(', ')}${dualStack ? ' (dual-stack)' : ''}; tests ${opts.tests.join(', ')}; ${opts.rounds} round(s) of ${opts.duration} s tests and ${opts.pings} pings`);
  const loadBefore = loadavg()[0];
  const pressureBefore = cpuPressure();
  if (loadBefore > 1) log(`load average ${loadBefore.toFixed(1)} on ${cpus().length} CPUs: other work shares the CPUs, so absolute figures will be low; compare ratios`);

  const labs: PlaneLab[] = [];
  const stop = (): void => void Promise.all(labs.map((l) => l.lab.destroy())).finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const plane of opts.planes) {
      try {
        labs.push(await buildPlane(opts.prefix, plane, opts.weftdArgs, dualStack));
      } catch (err) {
        const hint = plane.startsWith('weft') ? `\nMeasure without weft: npm run bench:e2e -- --planes ${opts.planes.filter((p) => !p.startsWith('weft')).join(',') || 'kernel'}` : '';
        throw new Error(`the ${plane} plane could not be built: ${(err as Error).message}${hint}`, { cause: err });
      }
      log(`${plane} plane ready`);
    }
    const samples: RoundSample[] = [];
    for (let round = 1; round <= opts.rounds; round++) {
      for (const test of opts.tests) {
        for (const p of roundOrder(labs, round)) {
          for (const s of await measure(p, test, opts.duration, opts.pings)) {
            samples.push({ ...s, round, plane: p.plane });
            log(`round ${round} ${p.plane} ${s.metric}: ${s.value === null ? `FAILED ${s.error}` : s.value.toFixed(3)}${s.lossPct !== undefined && s.metric.startsWith('udp') ? ` (loss ${s.lossPct.toFixed(1)}%)` : ''}`);
          }
        }
      }
    }
    const summary = summarize(samples, opts.planes, metrics);
    const cost = summarizeCost(samples, opts.planes, metrics);
    const table = `${renderTable(summary, opts.planes, metrics)}\n\n${renderCostTable(cost, opts.planes)}`;
    const out = opts.out ?? join(REPO_ROOT, 'bench', 'results', `e2e-${started.toISOString().replace(/[:.]/g, '-')}.json`);
    mkdirSync(join(out, '..'), { recursive: true });
    const host = { cpus: cpus().length, cpuModel: cpus()[0]?.model, kernel: release(), node: process.version, loadavgBefore: loadBefore, loadavgAfter: loadavg()[0], cpuPressureBefore: pressureBefore, cpuPressureAfter: cpuPressure() };
    writeFileSync(out, `${JSON.stringify({ startedAt: started.toISOString(), host, options: opts, summary, cost, samples }, null, 2)}\n`);
    const chart = out.replace(/\.json$/, '') + '.svg';
    writeBarChartSvg(
      chart,
      `bench:e2e, ratio to kernel VXLAN in the same round (median of ${opts.rounds}; ping, request/response: lower is better)`,
      metrics.map((m) => ({ label: CHART_LABEL[m.id], bars: opts.planes.filter((p) => p !== 'kernel').map((p) => ({ name: p, value: summary[m.id]?.[p]?.ratio ?? null })) })),
      '×',
    );
    console.log(table);
    console.log(`\n(×) = median over rounds of the ratio to kernel VXLAN in the same round. JSON: ${out}; chart: ${chart}`);
    return samples.some((s) => s.value === null) ? 1 : 0;
  } finally {
    for (const l of labs) await l.lab.destroy();
  }
}

/** /proc/pressure/cpu "some avg60": percent of the last minute some task waited for a CPU. */
function cpuPressure(): number | null {
  try {
    const m = /some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench:e2e: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
