// /metrics exposition from fake sources: values come from the snapshots at render() time, stale
// label sets disappear, a failing source costs only its own samples.
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createMetrics, type DataplaneSnapshot, type GossipSnapshot } from '../../daemon/observability/metrics.js';

/** The sample lines of one metric family, e.g. `weft_routes 3`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const dataplane = (over: Partial<DataplaneSnapshot> = {}): DataplaneSnapshot => ({
  peers: [
    { peer: 'node-b', packetsIn: 10, packetsOut: 12, bytesIn: 1000, bytesOut: 1200 },
    { peer: '198.18.0.3', packetsIn: 1, packetsOut: 0, bytesIn: 84, bytesOut: 0 },
  ],
  drops: { noRoute: 2, spoofedSource: 0 },
  routes: 3,
  routeSwaps: 5,
  ...over,
});

const gossip: GossipSnapshot = {
  members: { alive: 2, suspect: 1, dead: 0 },
  sent: { Ping: 40, PushPull: 2 },
  received: { Ping: 39 },
  rejected: { badSignature: 4 },
};

describe('metrics', () => {
  it('declares every weft metric with HELP and TYPE; without sources, no labelled samples and zeros', async () => {
    const text = await createMetrics({}, { defaultMetrics: false }).render();
    for (const [name, type, labelled] of [
      ['weft_packets_total', 'counter', true],
      ['weft_bytes_total', 'counter', true],
      ['weft_drops_total', 'counter', true],
      ['weft_routes', 'gauge', false],
      ['weft_route_swaps_total', 'counter', false],
      ['weft_lease_renewals_total', 'counter', false],
      ['weft_lease_failures_total', 'counter', false],
      ['weft_gossip_members', 'gauge', true],
      ['weft_gossip_messages_total', 'counter', true],
      ['weft_gossip_rejected_total', 'counter', true],
      ['weft_etcd_up', 'gauge', false],
    ] as const) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
      expect(samples(text, name)).toEqual(labelled ? [] : [`${name} 0`]);
    }
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it('exports the snapshots the sources return', async () => {
    const m = createMetrics(
      { dataplane: () => dataplane(), lease: () => ({ renewals: 7, failures: 1 }), gossip: () => gossip, etcd: () => ({ up: true }) },
      { defaultMetrics: false },
    );
    const text = await m.render();
    expect(samples(text, 'weft_packets_total')).toEqual([
      'weft_packets_total{direction="in",peer="node-b"} 10',
      'weft_packets_total{direction="out",peer="node-b"} 12',
      'weft_packets_total{direction="in",peer="198.18.0.3"} 1',
      'weft_packets_total{direction="out",peer="198.18.0.3"} 0',
    ]);
    expect(samples(text, 'weft_bytes_total')).toContain('weft_bytes_total{direction="out",peer="node-b"} 1200');
    expect(samples(text, 'weft_drops_total')).toEqual(['weft_drops_total{reason="noRoute"} 2', 'weft_drops_total{reason="spoofedSource"} 0']);
    expect(samples(text, 'weft_routes')).toEqual(['weft_routes 3']);
    expect(samples(text, 'weft_route_swaps_total')).toEqual(['weft_route_swaps_total 5']);
    expect(samples(text, 'weft_lease_renewals_total')).toEqual(['weft_lease_renewals_total 7']);
    expect(samples(text, 'weft_lease_failures_total')).toEqual(['weft_lease_failures_total 1']);
    expect(samples(text, 'weft_gossip_members')).toEqual([
      'weft_gossip_members{state="alive"} 2',
      'weft_gossip_members{state="suspect"} 1',
      'weft_gossip_members{state="dead"} 0',
    ]);
    expect(samples(text, 'weft_gossip_messages_total')).toEqual([
      'weft_gossip_messages_total{type="Ping",direction="out"} 40',
      'weft_gossip_messages_total{type="PushPull",direction="out"} 2',
      'weft_gossip_messages_total{type="Ping",direction="in"} 39',
    ]);
    expect(samples(text, 'weft_gossip_rejected_total')).toEqual(['weft_gossip_rejected_total{reason="badSignature"} 4']);
    expect(samples(text, 'weft_etcd_up')).toEqual(['weft_etcd_up 1']);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const scraped = await m.scrape();
    expect(scraped.contentType).toBe(m.contentType);
    expect(samples(scraped.body, 'weft_routes')).toEqual(['weft_routes 3']);
  });

  it('reads sources at each scrape only: new totals appear, departed peers vanish', async () => {
    let calls = 0;
    let snap = dataplane();
    const m = createMetrics({ dataplane: () => (calls++, snap) }, { defaultMetrics: false });
    expect(calls).toBe(0);
    await m.render();
    expect(calls).toBe(1); // once per scrape, however many metrics read it
    snap = dataplane({ peers: [{ peer: 'node-b', packetsIn: 50, packetsOut: 60, bytesIn: 1, bytesOut: 2 }], routes: 2 });
    const text = await m.render();
    expect(samples(text, 'weft_packets_total')).toEqual([
      'weft_packets_total{direction="in",peer="node-b"} 50',
      'weft_packets_total{direction="out",peer="node-b"} 60',
    ]);
    expect(samples(text, 'weft_routes')).toEqual(['weft_routes 2']);
  });

  it('awaits async sources and takes sources added later', async () => {
    const m = createMetrics({}, { defaultMetrics: false });
    m.setSources({ etcd: async () => ({ up: false }), lease: () => Promise.resolve({ renewals: 1, failures: 0 }) });
    const text = await m.render();
    expect(samples(text, 'weft_etcd_up')).toEqual(['weft_etcd_up 0']);
    expect(samples(text, 'weft_lease_renewals_total')).toEqual(['weft_lease_renewals_total 1']);
  });

  it('a failing source loses its own samples and is counted; the scrape still succeeds', async () => {
    const m = createMetrics(
      {
        dataplane: () => {
          throw new Error('worker gone');
        },
        gossip: () => Promise.reject(new Error('timeout')),
        etcd: () => ({ up: true }),
      },
      { defaultMetrics: false },
    );
    await m.render();
    const text = await m.render();
    expect(samples(text, 'weft_packets_total')).toEqual([]);
    expect(samples(text, 'weft_gossip_members')).toEqual([]);
    expect(samples(text, 'weft_etcd_up')).toEqual(['weft_etcd_up 1']);
    expect(samples(text, 'weft_metrics_source_errors_total')).toEqual([
      'weft_metrics_source_errors_total{source="dataplane"} 2',
      'weft_metrics_source_errors_total{source="gossip"} 2',
    ]);
  });

  it('carries the default process metrics in its own registry, not the global one', async () => {
    const text = await createMetrics({ etcd: () => ({ up: true }) }).render();
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    expect(globalRegistry.getSingleMetric('weft_etcd_up')).toBeUndefined();
    expect(globalRegistry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });
});
