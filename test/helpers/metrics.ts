// Reading a Prometheus /metrics text and waiting on one sample of it: the way tests wait for what
// a daemon did (a check ran, a read was refused, etcd went down) instead of sleeping. The scrape is
// a function because weftd's health server listens inside a namespace (httpGet from its host).
import type { UnderlayHost } from './underlay.js';
import { httpGet } from './weftd.js';

export type Scrape = () => Promise<string>;

/** The value of the sample `name{labels}` (labels matched exactly, in any order), or undefined when absent. */
export function metricValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',');
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').match(/[A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\.)*"/g)?.sort().join(',') ?? '';
    if (have === want) return Number(m[3]);
  }
  return undefined;
}

/** weftd's /metrics on 127.0.0.1:`port` inside `host`. */
export function weftdMetrics(host: UnderlayHost, port: number): Scrape {
  return async () => {
    const r = await httpGet(host, `http://127.0.0.1:${port}/metrics`);
    if (r.status !== 200) throw new Error(`GET /metrics in ${host.name}: ${r.status}`);
    return r.body;
  };
}

/**
 * Scrapes until `holds(value)` for the sample `name{labels}` (undefined while absent or while the
 * scrape fails); resolves with the value. The timeout error names the last value seen.
 */
export async function waitForMetric(
  scrape: Scrape,
  name: string,
  labels: Readonly<Record<string, string>>,
  holds: (v: number | undefined) => boolean,
  timeoutMs = 10_000,
  stepMs = 100,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  for (;;) {
    last = metricValue(await scrape().catch(() => ''), name, labels);
    if (holds(last)) return last;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting on ${name}${JSON.stringify(labels)}: last ${last ?? 'absent'}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
