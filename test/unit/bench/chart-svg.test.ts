// bench/chart-svg.ts: the SVG the benchmarks write beside their JSON. Bars are as tall as their
// value on an axis from 0 to a round ceiling, one colour and legend entry per series, "n/a" for a
// missing value, text escaped, tags balanced.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { niceCeiling, renderBarChartSvg, writeBarChartSvg, type BarGroup } from '../../../bench/chart-svg.js';

const groups: BarGroup[] = [
  { label: '8 members', bars: [{ name: 'form', value: 800 }, { name: 'join', value: 200 }] },
  { label: '128 members', bars: [{ name: 'form', value: 4000 }, { name: 'join', value: null }] },
];

/** Throws unless every opened tag is closed in order (the chart has no comments, CDATA or entities but the five escapes). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const [tag, close, name, selfClose] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClose) continue;
    if (!close) stack.push(name);
    else if (stack.pop() !== name) throw new Error(`unbalanced ${tag}`);
  }
  expect(stack).toEqual([]);
}

const bars = (svg: string): { height: number; fill: string; title: string }[] =>
  [...svg.matchAll(/<rect class="bar" [^>]*height="([\d.]+)" fill="(#[0-9A-F]{6})"><title>([^<]*)<\/title>/g)].map((m) => ({ height: Number(m[1]), fill: m[2], title: m[3] }));

describe('chart-svg', () => {
  it('draws each value as a bar proportional to it, one colour per series, n/a for a missing one', () => {
    const svg = renderBarChartSvg('Gossip <timings> & more', groups, 'ms');
    assertBalanced(svg);
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
    expect(svg).toContain('Gossip &lt;timings&gt; &amp; more');
    const drawn = bars(svg);
    expect(drawn.map((b) => b.title)).toEqual(['8 members, form: 800 ms', '8 members, join: 200 ms', '128 members, form: 4,000 ms']);
    // Axis 0..5000 ms over 220 px.
    expect(drawn.map((b) => b.height)).toEqual([35.2, 8.8, 176]);
    expect(drawn[0].fill).toBe(drawn[2].fill);
    expect(drawn[0].fill).not.toBe(drawn[1].fill);
    expect(svg.match(/>n\/a</g)).toHaveLength(1);
    expect(svg).toContain('>5,000 ms</text>');
  });

  it('rounds the axis up to 1, 2, 2.5 or 5 × 10^k', () => {
    expect([0, 0.3, 1, 1.2, 2.2, 4, 4000, 9_200].map(niceCeiling)).toEqual([1, 0.5, 1, 2, 2.5, 5, 5000, 10_000]);
  });

  it('writes the file beside the JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-chart-'));
    try {
      const file = join(dir, 'x.svg');
      writeBarChartSvg(file, 't', groups, 'ms');
      expect(readFileSync(file, 'utf8')).toBe(renderBarChartSvg('t', groups, 'ms'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
