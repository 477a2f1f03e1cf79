// bench:e2e's choice of tests: the default round is the IPv4 one it always was; IPv6 TCP is measured
// only when asked for (--ipv6, or tcp1v6 in --tests / TESTS), and then appears in the table, the
// cost table and the summary like any other row.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TESTS, metricsOf, roundOrder } from '../../../bench/e2e/measure.js';
import { parseOptions, UsageError } from '../../../bench/e2e/options.js';
import { renderCostTable, renderTable, summarize, summarizeCost, type RoundSample } from '../../../bench/e2e/summary.js';

describe('bench:e2e tests', () => {
  it('runs the IPv4 round by default: throughput, ping and TCP request/response', () => {
    const opts = parseOptions([], {});
    expect(opts.tests).toEqual(['tcp1', 'tcp4', 'udp1400', 'udp64', 'ping', 'rr']);
    expect(opts.tests).toEqual(DEFAULT_TESTS);
    expect(metricsOf(opts.tests).map((m) => m.id)).toEqual(['tcp1', 'tcp4', 'udp1400', 'udp64', 'pingAvg', 'pingP99', 'rrAvg', 'rrP99']);
  });

  it('--ipv6 adds tcp1v6 right after tcp1; --tests and TESTS choose the list (the flag winning)', () => {
    expect(parseOptions(['--ipv6'], {}).tests).toEqual(['tcp1', 'tcp1v6', 'tcp4', 'udp1400', 'udp64', 'ping', 'rr']);
    expect(parseOptions(['--tests', 'tcp1v6'], {}).tests).toEqual(['tcp1v6']);
    expect(parseOptions(['--tests', 'ping,tcp1', '--ipv6'], {}).tests).toEqual(['ping', 'tcp1', 'tcp1v6']);
    expect(parseOptions(['--tests', 'udp64', '--ipv6'], {}).tests).toEqual(['udp64', 'tcp1v6']);
    expect(parseOptions([], { TESTS: 'tcp1,tcp1v6' }).tests).toEqual(['tcp1', 'tcp1v6']);
    expect(parseOptions(['--tests', 'tcp4'], { TESTS: 'tcp1,tcp1v6' }).tests).toEqual(['tcp4']);
    expect(metricsOf(['ping', 'tcp1v6', 'tcp1']).map((m) => m.id)).toEqual(['tcp1', 'tcp1v6', 'pingAvg', 'pingP99']);
  });

  it('rotates the planes from round to round, so that each takes each position once in as many rounds', () => {
    const planes = ['kernel', 'weft', 'weft-nooffload'];
    expect([1, 2, 3, 4].map((r) => roundOrder(planes, r))).toEqual([
      ['kernel', 'weft', 'weft-nooffload'],
      ['weft', 'weft-nooffload', 'kernel'],
      ['weft-nooffload', 'kernel', 'weft'],
      ['kernel', 'weft', 'weft-nooffload'],
    ]);
    expect(roundOrder(['kernel'], 2)).toEqual(['kernel']);
  });

  it('refuses unknown or repeated tests, and the IPv4-only underlay plane with an IPv6 test', () => {
    expect(() => parseOptions(['--tests', 'tcp2'], {})).toThrow(new UsageError('--tests: unknown test tcp2 (known: tcp1, tcp1v6, tcp4, udp1400, udp64, ping, rr)'));
    expect(() => parseOptions(['--tests', 'tcp1,tcp1'], {})).toThrow(/named twice/);
    expect(() => parseOptions(['--tests', ','], {})).toThrow(/name at least one test/);
    expect(() => parseOptions(['--ipv6', '--planes', 'kernel,underlay'], {})).toThrow(/underlay plane is IPv4 only/);
    expect(parseOptions(['--planes', 'kernel,underlay'], {}).tests).toEqual(DEFAULT_TESTS);
  });

  it('summarises and renders the measured metrics only, the IPv6 row with its ratio to kernel VXLAN per round', () => {
    const samples: RoundSample[] = [
      { round: 1, plane: 'kernel', metric: 'tcp1', value: 1000, carried: 1e9, cpu: { processes: [], machine: 2 } },
      { round: 1, plane: 'weft', metric: 'tcp1', value: 1500, carried: 1e9, cpu: { processes: [1, 0.5], machine: 1.5 } },
      { round: 1, plane: 'kernel', metric: 'tcp1v6', value: 800, carried: 1e9, cpu: { processes: [], machine: 2.5 } },
      { round: 1, plane: 'weft', metric: 'tcp1v6', value: 1200, carried: 1e9, cpu: { processes: [1.2, 0.6], machine: 2 } },
    ];
    const metrics = metricsOf(['tcp1', 'tcp1v6']);
    const summary = summarize(samples, ['kernel', 'weft'], metrics);
    expect(Object.keys(summary)).toEqual(['tcp1', 'tcp1v6']);
    expect(summary.tcp1v6?.weft).toMatchObject({ median: 1200, ratio: 1.5 });
    expect(renderTable(summary, ['kernel', 'weft'], metrics).split('\n')).toEqual([
      '| metric | kernel VXLAN | weft |',
      '|---|---|---|',
      '| TCP 1 stream (iperf3 -C cubic), Mbit/s | 1000 | 1500 **1.500×** |',
      '| TCP 1 stream IPv6 (iperf3 -C cubic), Mbit/s | 800 | 1200 **1.500×** |',
    ]);
    const cost = renderCostTable(summarizeCost(samples, ['kernel', 'weft'], metrics), ['kernel', 'weft']).split('\n');
    expect(cost.slice(2)).toEqual([
      '| TCP 1 stream: CPU seconds per GB carried | - / - / 2.00 | 1.00 / 0.50 / 1.50 |',
      '| TCP 1 stream IPv6: CPU seconds per GB carried | - / - / 2.50 | 1.20 / 0.60 / 2.00 |',
    ]);
    // The default round's table has no IPv6 row, not even an empty one.
    expect(renderTable(summarize([], ['kernel'], metricsOf(DEFAULT_TESTS)), ['kernel'], metricsOf(DEFAULT_TESTS))).not.toContain('IPv6');
  });
});
