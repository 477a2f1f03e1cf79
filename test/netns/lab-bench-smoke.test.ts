// CI smoke of `npm run bench:e2e`: one short round on the kernel VXLAN and weft planes, checking
// that every figure was measured and the table and JSON carry it; then the IPv6 row alone, on
// dual-stack labs. Not a performance test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST } from '../../lab/paths.js';
import { ownPrefix } from '../helpers/netns.js';
import { run } from '../../lab/processes.js';
import { requireRoot } from '../helpers/root.js';

describe('bench:e2e --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('measures every figure on kernel VXLAN and weft and writes the table and JSON', async () => {
    requireRoot();
    const out = join(dir, 'e2e.json');
    const table = await run(process.execPath, [join(DIST, 'bench', 'e2e', 'run.js'), '--quick', '--planes', 'kernel,weft', '--pings', '20', '--out', out, '--prefix', `${ownPrefix()}b`]);
    expect(table).toMatch(/\| TCP 1 stream \(iperf3 -C cubic\), Mbit\/s \| \d+ \| \d+ \*\*[\d.]+×\*\* \|/);
    expect(table).toMatch(/\| UDP 64 B received \(loss\), kpps \| [\d.]+, loss [\d.]+% \| [\d.]+, loss [\d.]+% \*\*[\d.]+×\*\* \|/);
    expect(table).toMatch(/\| TCP request\/response RTT avg, ms \| [\d.]+ \| [\d.]+ \*\*[\d.]+×\*\* \|/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { samples: { plane: string; metric: string; value: number | null }[] };
    // tcp1, tcp4, udp1400, udp64, ping (avg, p99), rr (avg, p99)
    expect(json.samples).toHaveLength(2 * 8);
    for (const s of json.samples) expect(s.value, `${s.plane} ${s.metric}`).toBeGreaterThan(0);
  }, 90_000);

  it('measures TCP over IPv6 on dual-stack kernel VXLAN and weft labs when asked for, and only that row', async () => {
    requireRoot();
    const out = join(dir, 'e2e-v6.json');
    const table = await run(process.execPath, [join(DIST, 'bench', 'e2e', 'run.js'), '--quick', '--planes', 'kernel,weft', '--tests', 'tcp1v6', '--out', out, '--prefix', `${ownPrefix()}c`]);
    expect(table).toMatch(/\| TCP 1 stream IPv6 \(iperf3 -C cubic\), Mbit\/s \| \d+ \| \d+ \*\*[\d.]+×\*\* \|/);
    expect(table).toMatch(/\| TCP 1 stream IPv6: CPU seconds per GB carried \| - \/ - \/ [\d.]+ \| [\d.]+ \/ [\d.]+ \/ [\d.]+ \|/);
    expect(table).not.toMatch(/UDP|ping|TCP 4|TCP 1 stream \(/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { summary: object; samples: { plane: string; metric: string; value: number | null }[] };
    expect(Object.keys(json.summary)).toEqual(['tcp1v6']);
    expect(json.samples.map((s) => `${s.plane} ${s.metric}`)).toEqual(['kernel tcp1v6', 'weft tcp1v6']);
    for (const s of json.samples) expect(s.value, `${s.plane} ${s.metric}`).toBeGreaterThan(0);
  }, 90_000);
});
