// Reduces rounds of samples to median (min–max) per plane and metric, with each plane's ratio to
// kernel VXLAN taken round by round (both measured in the same round), and renders the table.
import { METRICS, type MetricId, type Sample } from './measure.js';
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

export type Summary = Record<MetricId, Partial<Record<Plane, Cell>>>;

export function median(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(samples: readonly RoundSample[], planes: readonly Plane[]): Summary {
  const summary = {} as Summary;
  for (const { id } of METRICS) {
    summary[id] = {};
    for (const plane of planes) {
      const mine = samples.filter((s) => s.metric === id && s.plane === plane);
      const values = mine.flatMap((s) => (s.value === null ? [] : [s.value]));
      const ratios = mine.flatMap((s) => {
        const k = samples.find((x) => x.metric === id && x.plane === 'kernel' && x.round === s.round);
        return s.value !== null && k?.value ? [s.value / k.value] : [];
      });
      const losses = mine.flatMap((s) => (s.lossPct === undefined ? [] : [s.lossPct]));
      summary[id][plane] = {
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

const PLANE_TITLE: Record<Plane, string> = { kernel: 'kernel VXLAN', weft: 'weft', 'weft-nooffload': 'weft, offloads off', underlay: 'underlay' };

export function renderTable(summary: Summary, planes: readonly Plane[]): string {
  const rows = [`| metric | ${planes.map((p) => PLANE_TITLE[p]).join(' | ')} |`, `|---|${planes.map(() => '---').join('|')}|`];
  for (const m of METRICS) {
    const cells = planes.map((p) => renderCell(summary[m.id][p]));
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
