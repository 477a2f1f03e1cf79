// Grouped bar charts as small standalone SVG files, written beside a benchmark's JSON so that a
// result can be seen at a glance (a browser or any Markdown viewer shows them). No dependency:
// plain SVG 1.1 text, fixed font sizes, Okabe–Ito colours (readable with colour blindness).
//   writeBarChartSvg('bench/results/x.svg', 'Gossip timings', [{ label: '8 members', bars: [{ name: 'form', value: 812 }] }], 'ms')
// Each bar name is one series (one colour, one legend entry) across groups; a null value is drawn
// as "n/a" (the event did not happen), never as 0.
import { writeFileSync } from 'node:fs';

export interface Bar {
  readonly name: string;
  readonly value: number | null;
}

export interface BarGroup {
  readonly label: string;
  readonly bars: readonly Bar[];
}

const COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];
const BAR_W = 18;
const GROUP_GAP = 28;
const PLOT_H = 220;
const LEFT = 72;
const TOP = 64;
const BOTTOM = 44;
const RIGHT = 16;
const TICKS = 5;
/** Approximate advance widths (px) of the 14 px bold title and 11 px legend characters, for sizing only. */
const TITLE_CHAR_W = 8.2;
const LEGEND_CHAR_W = 6.4;
const legendStep = (name: string): number => 28 + LEGEND_CHAR_W * name.length;

const number = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The smallest 1, 2, 2.5 or 5 × 10^k that is at least `max` (1 for an empty or all-zero chart). */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** The SVG text of a grouped bar chart; values in `unit` on a linear axis from 0. */
export function renderBarChartSvg(title: string, groups: readonly BarGroup[], unit: string): string {
  const series = [...new Set(groups.flatMap((g) => g.bars.map((b) => b.name)))];
  const values = groups.flatMap((g) => g.bars.map((b) => b.value)).filter((v): v is number => v !== null && Number.isFinite(v));
  const top = niceCeiling(Math.max(0, ...values));
  const groupW = Math.max(1, series.length) * BAR_W + GROUP_GAP;
  const legendW = series.reduce((w, s) => w + legendStep(s), 0);
  const width = Math.ceil(Math.max(LEFT + groups.length * groupW + RIGHT, LEFT + legendW + RIGHT, 12 + TITLE_CHAR_W * title.length + RIGHT, 320));
  const height = TOP + PLOT_H + BOTTOM;
  // Groups share the plot's width; each group's bars sit centred in its share.
  const share = groups.length === 0 ? 0 : (width - LEFT - RIGHT) / groups.length;
  const y = (v: number): number => TOP + PLOT_H - (Math.max(0, v) / top) * PLOT_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="20" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  let lx = LEFT;
  series.forEach((s, i) => {
    out.push(`<rect x="${lx}" y="32" width="12" height="12" fill="${COLOURS[i % COLOURS.length]}"/>`, `<text x="${lx + 16}" y="42">${escape(s)}</text>`);
    lx += legendStep(s);
  });
  for (let t = 0; t <= TICKS; t++) {
    const v = (top * t) / TICKS;
    const ty = y(v).toFixed(1);
    out.push(`<line x1="${LEFT}" y1="${ty}" x2="${width - RIGHT}" y2="${ty}" stroke="${t === 0 ? '#333333' : '#dddddd'}"/>`);
    out.push(`<text x="${LEFT - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${escape(`${number.format(v)} ${unit}`)}</text>`);
  }
  groups.forEach((g, gi) => {
    const gx = LEFT + gi * share + (share - series.length * BAR_W) / 2;
    for (const b of g.bars) {
      const si = series.indexOf(b.name);
      const x = gx + si * BAR_W;
      const cx = (x + BAR_W / 2).toFixed(1);
      if (b.value === null || !Number.isFinite(b.value)) {
        out.push(`<text class="na" x="${cx}" y="${TOP + PLOT_H - 4}" text-anchor="middle" font-size="9" fill="#666666">n/a</text>`);
        continue;
      }
      const by = y(b.value);
      out.push(
        `<rect class="bar" x="${x + 1}" y="${by.toFixed(1)}" width="${BAR_W - 2}" height="${(TOP + PLOT_H - by).toFixed(1)}" fill="${COLOURS[si % COLOURS.length]}"><title>${escape(`${g.label}, ${b.name}: ${number.format(b.value)} ${unit}`)}</title></rect>`,
        `<text x="${cx}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="9">${escape(number.format(b.value))}</text>`,
      );
    }
    out.push(`<text x="${(gx + (series.length * BAR_W) / 2).toFixed(1)}" y="${TOP + PLOT_H + 18}" text-anchor="middle">${escape(g.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes renderBarChartSvg(title, groups, unit) to `path`. */
export function writeBarChartSvg(path: string, title: string, groups: readonly BarGroup[], unit: string): void {
  writeFileSync(path, renderBarChartSvg(title, groups, unit));
}
