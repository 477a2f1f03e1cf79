// Reduces rounds of samples to median (min–max) per plane and metric, with each plane's ratio to
// kernel VXLAN taken round by round (both measured in the same round), and renders the table.
import type { MetricId, MetricInfo, Sample } from './measure.js';
import type { Plane } from './options.js';

export interface RoundSample extends Sample {
  round: number;
  plane: Plane;
}

export interface Cell {
  median: number | null;
  min: number | null;
  max: number | null;
  /** Median over rounds of this plane's value / kernel VXLAN's value in the same round. */
  ratio: number | null;
  lossPct: number | null;
  errors: string[];
}

/** Per measured metric (those of the run's tests only), per plane. */
export type Summary = Partial<Record<MetricId, Partial<Record<Plane, Cell>>>>;

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(samples: readonly RoundSample[], planes: readonly Plane[], metrics: readonly MetricInfo[]): Summary {
  const summary: Summary = {};
  for (const { id } of metrics) {
    const row: Partial<Record<Plane, Cell>> = (summary[id] = {});
    for (const plane of planes) {
      const mine = samples.filter((s) => s.metric === id && s.plane === plane);
      const values = mine.flatMap((s) => (s.value === null ? [] : [s.value]));
      const ratios = mine.flatMap((s) => {
        const k = samples.find((x) => x.metric === id && x.plane === 'kernel' && x.round === s.round);
        return s.value !== null && k?.value ? [s.value / k.value] : [];
      });
      const losses = mine.flatMap((s) => (s.lossPct === undefined ? [] : [s.lossPct]));
      row[plane] = {
        median: median(values),
        min: values.length ? Math.min(...values) : null,
        max: values.length ? Math.max(...values) : null,
        ratio: plane === 'kernel' || !planes.includes('kernel') ? null : median(ratios),
        lossPct: id.startsWith('udp') ? median(losses) : null,
        errors: [...new Set(mine.flatMap((s) => (s.error ? [s.error] : [])))],
      };
    }
  }
  return summary;
}

const PLANE_TITLE: Record<Plane, string> = { kernel: 'kernel VXLAN', weft: 'weft', 'weft-nooffload': 'weft, offloads off', 'weft-nocache': 'weft, no decision cache', underlay: 'underlay' };

export function renderTable(summary: Summary, planes: readonly Plane[], metrics: readonly MetricInfo[]): string {
  const rows = [`| metric | ${planes.map((p) => PLANE_TITLE[p]).join(' | ')} |`, `|---|${planes.map(() => '---').join('|')}|`];
  for (const m of metrics) {
    const cells = planes.map((p) => renderCell(summary[m.id]?.[p]));
    rows.push(`| ${m.label}, ${m.unit} | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

function renderCell(c: Cell | undefined): string {
  if (!c || c.median === null) return c?.errors.length ? `failed: ${c.errors[0]}` : '-';
  let text = fmt(c.median);
  if (c.min !== c.max) text += ` (${fmt(c.min as number)}–${fmt(c.max as number)})`;
  if (c.lossPct !== null) text += `, loss ${c.lossPct.toFixed(1)}%`;
  if (c.ratio !== null) text += ` **${c.ratio.toFixed(3)}×**`;
  return text;
}

export function fmt(x: number): string {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(3);
}

/** A cost row: what one unit carried cost, per plane (median over rounds). */
export interface CostRow {
  label: string;
  /** Per plane: [weftd sender, weftd receiver, machine] (null where not measured). */
  cells: Partial<Record<Plane, { sender: number | null; receiver: number | null; machine: number | null }>>;
}

const COSTS: readonly { metric: MetricId; label: string; unit: number }[] = [
  { metric: 'tcp1', label: 'TCP 1 stream: CPU seconds per GB carried', unit: 1e9 },
  { metric: 'tcp1v6', label: 'TCP 1 stream IPv6: CPU seconds per GB carried', unit: 1e9 },
  { metric: 'tcp4', label: 'TCP 4 streams: CPU seconds per GB carried', unit: 1e9 },
  { metric: 'udp64', label: 'UDP 64 B: CPU ms per 1000 datagrams received', unit: 1e6 },
];

/**
 * CPU cost per GB (TCP) or per 1000 datagrams (UDP 64 B), of the measured `metrics` that have a cost
 * row: weftd on the sending and receiving node, and the whole machine.
 */
export function summarizeCost(samples: readonly RoundSample[], planes: readonly Plane[], metrics: readonly MetricInfo[]): CostRow[] {
  return COSTS.filter((c) => metrics.some((m) => m.id === c.metric)).map(({ metric, label, unit }) => {
    const cells: CostRow['cells'] = {};
    for (const plane of planes) {
      const mine = samples.filter((s) => s.metric === metric && s.plane === plane && s.cpu && s.carried);
      const per = (pick: (s: RoundSample) => number | undefined): number | null => {
        const xs = mine.flatMap((s) => {
          const v = pick(s);
          return v === undefined || !Number.isFinite(v) ? [] : [(v / s.carried!) * unit];
        });
        return median(xs);
      };
      cells[plane] = {
        sender: per((s) => s.cpu!.processes[0]),
        receiver: per((s) => s.cpu!.processes[1]),
        machine: per((s) => s.cpu!.machine),
      };
    }
    return { label, cells };
  });
}

export function renderCostTable(rows: readonly CostRow[], planes: readonly Plane[]): string {
  const out = [`| cost (weftd sender / weftd receiver / whole machine) | ${planes.map((p) => PLANE_TITLE[p]).join(' | ')} |`, `|---|${planes.map(() => '---').join('|')}|`];
  const f = (x: number | null): string => (x === null ? '-' : x >= 10 ? x.toFixed(1) : x.toFixed(2));
  for (const r of rows) {
    out.push(`| ${r.label} | ${planes.map((p) => {
      const c = r.cells[p];
      return c ? `${f(c.sender)} / ${f(c.receiver)} / ${f(c.machine)}` : '-';
    }).join(' | ')} |`);
  }
  return out.join('\n');
}
