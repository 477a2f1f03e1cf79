// The simulator's readable output: one Markdown row per scenario result.
import type { ScenarioResult } from './scenarios.js';

const COLUMNS: [string, (r: ScenarioResult) => string][] = [
  ['scenario', (r) => r.scenario],
  ['members', (r) => String(r.members)],
  ['loss', (r) => String(r.loss)],
  ['dead on all p50/p99/max (ms)', (r) => triple(r.deadOnAllP50Ms, r.deadOnAllP99Ms, r.deadOnAllMaxMs)],
  ['first suspect (ms)', (r) => cell(r.firstSuspectMs)],
  ['join on all p50/p99/max (ms)', (r) => triple(r.joinOnAllP50Ms, r.joinOnAllP99Ms, r.joinOnAllMaxMs)],
  ['joiner KB in', (r) => (r.joinerBytesIn === null ? '–' : (r.joinerBytesIn / 1_000).toFixed(0))],
  ['left / rejoin / healed (ms)', (r) => [r.leftOnAllP99Ms, r.rejoinOnAllP99Ms, r.healedMs].map(cell).join(' / ')],
  ['false susp.', (r) => String(r.falseSuspicions)],
  ['false deaths', (r) => String(r.falseDeaths)],
  ['msgs/s/member', (r) => r.messagesPerMemberPerSec.toFixed(1)],
  ['bytes/s/member', (r) => String(r.bytesPerMemberPerSec)],
  ['ping / ping-req / push-pull / gossip', (r) => [r.bytesByKind.ping, r.bytesByKind.pingReq, r.bytesByKind.pushPull, r.bytesByKind.gossip].join(' / ')],
  ['sim s', (r) => (r.simulatedMs / 1_000).toFixed(1)],
  ['wall s', (r) => (r.wallMs / 1_000).toFixed(1)],
];

function cell(v: number | null): string {
  return v === null ? '–' : String(v);
}

function triple(a: number | null, b: number | null, c: number | null): string {
  return a === null && b === null && c === null ? '–' : `${cell(a)} / ${cell(b)} / ${cell(c)}`;
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = results.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  return [line(COLUMNS.map(([h]) => h)), '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|', ...rows.map(line)].join('\n');
}
