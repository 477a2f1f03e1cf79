// /metrics exposition from fake sources: values come from the snapshots at render() time, stale
// label sets disappear, a failing source costs only its own samples, label values are snake_case
// whatever the sources call them, and `promtool check metrics` finds nothing to say.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DROP_NAMES } from '../../../daemon/dataplane/counters.js';
import { createMetrics, labelValue, type DataplaneSnapshot, type GossipSnapshot } from '../../../daemon/observability/metrics.js';

/** The sample lines of one metric family, e.g. `weft_routes 3`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

const dataplane = (over: Partial<DataplaneSnapshot> = {}): DataplaneSnapshot => ({
  totals: { packetsIn: 11, packetsOut: 12, bytesIn: 1084, bytesOut: 1200 },
  peers: [
    { peer: 'node-b', publicIp: '198.18.0.2', packetsIn: 10, packetsOut: 12, bytesIn: 1000, bytesOut: 1200 },
    { peer: '', publicIp: '198.18.0.3', packetsIn: 1, packetsOut: 0, bytesIn: 84, bytesOut: 0 },
  ],
  drops: { noRoute: 2, spoofedSource: 0 },
  routes: 3,
  routeSwaps: 5,
  busyPolls: { answered: 7, expired: 2 },
  replayed: { in: 11, out: 13 },
  ...over,
});

const gossip: GossipSnapshot = {
  members: { alive: 2, suspect: 1, dead: 0 },
  sent: { Ping: 40, PushPull: 2 },
  received: { Ping: 39 },
  rejected: { bad_hmac: 4, 'route-lease-conflict': 1 },
  streams: { opened: 3, accepted: 2, fallback: 1 },
};

describe('metrics', () => {
  it('declares every weft metric with HELP and TYPE; without sources, no labelled samples and zeros', async () => {
    const text = await createMetrics({}, { defaultMetrics: false }).render();
    for (const [name, type, labelled] of [
      ['weft_packets_total', 'counter', true],
      ['weft_bytes_total', 'counter', true],
      ['weft_drops_total', 'counter', true],
      ['weft_dataplane_busy_polls_total', 'counter', true],
      ['weft_dataplane_replayed_packets_total', 'counter', true],
      ['weft_routes', 'gauge', false],
      ['weft_route_swaps_total', 'counter', false],
      ['weft_lease_renewals_total', 'counter', false],
      ['weft_lease_failures_total', 'counter', false],
      ['weft_gossip_members', 'gauge', true],
      ['weft_gossip_messages_total', 'counter', true],
      ['weft_gossip_rejected_total', 'counter', true],
      ['weft_gossip_streams_total', 'counter', true],
      ['weft_etcd_up', 'gauge', false],
      ['weft_ready', 'gauge', false],
    ] as const) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(text).toMatch(new RegExp(`# HELP ${name} \\S`));
      expect(samples(text, name)).toEqual(labelled ? [] : [`${name} 0`]);
    }
    // Points in time and the data plane thread have no sample until there is something to say.
    for (const [name, type] of [
      ['weft_lease_expiry_timestamp_seconds', 'gauge'],
      ['weft_dataplane_thread_up', 'gauge'],
      ['weft_dataplane_thread_lag_seconds', 'gauge'],
      ['weft_dataplane_thread_busy_seconds_total', 'counter'],
    ] as const) {
      expect(text).toContain(`# TYPE ${name} ${type}\n`);
      expect(samples(text, name)).toEqual([]);
    }
    expect(samples(text, 'weft_build_info')).toEqual([`weft_build_info{version="unknown",node_version="${process.version}"} 1`]);
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });

  it('exports the snapshots the sources return', async () => {
    const m = createMetrics(
      { dataplane: () => dataplane(), lease: () => ({ renewals: 7, failures: 1 }), gossip: () => gossip, etcd: () => ({ up: true }), readiness: () => ({ ready: true }) },
      { defaultMetrics: false },
    );
    const text = await m.render();
    expect(samples(text, 'weft_packets_total')).toEqual(['weft_packets_total{direction="in"} 11', 'weft_packets_total{direction="out"} 12']);
    expect(samples(text, 'weft_bytes_total')).toEqual(['weft_bytes_total{direction="in"} 1084', 'weft_bytes_total{direction="out"} 1200']);
    expect(text).not.toContain('weft_peer_');
    expect(samples(text, 'weft_drops_total')).toEqual(['weft_drops_total{reason="no_route"} 2', 'weft_drops_total{reason="spoofed_source"} 0']);
    expect(samples(text, 'weft_routes')).toEqual(['weft_routes 3']);
    expect(samples(text, 'weft_route_swaps_total')).toEqual(['weft_route_swaps_total 5']);
    expect(samples(text, 'weft_dataplane_busy_polls_total')).toEqual(['weft_dataplane_busy_polls_total{result="answered"} 7', 'weft_dataplane_busy_polls_total{result="expired"} 2']);
    expect(samples(text, 'weft_dataplane_replayed_packets_total')).toEqual(['weft_dataplane_replayed_packets_total{direction="in"} 11', 'weft_dataplane_replayed_packets_total{direction="out"} 13']);
    expect(samples(text, 'weft_lease_renewals_total')).toEqual(['weft_lease_renewals_total 7']);
    expect(samples(text, 'weft_lease_failures_total')).toEqual(['weft_lease_failures_total 1']);
    expect(samples(text, 'weft_gossip_members')).toEqual([
      'weft_gossip_members{state="alive"} 2',
      'weft_gossip_members{state="suspect"} 1',
      'weft_gossip_members{state="dead"} 0',
    ]);
    expect(samples(text, 'weft_gossip_messages_total')).toEqual([
      'weft_gossip_messages_total{type="ping",direction="out"} 40',
      'weft_gossip_messages_total{type="push_pull",direction="out"} 2',
      'weft_gossip_messages_total{type="ping",direction="in"} 39',
    ]);
    expect(samples(text, 'weft_gossip_rejected_total')).toEqual([
      'weft_gossip_rejected_total{reason="bad_hmac"} 4',
      'weft_gossip_rejected_total{reason="route_lease_conflict"} 1',
    ]);
    expect(samples(text, 'weft_gossip_streams_total')).toEqual([
      'weft_gossip_streams_total{event="opened"} 3',
      'weft_gossip_streams_total{event="accepted"} 2',
      'weft_gossip_streams_total{event="fallback"} 1',
    ]);
    expect(samples(text, 'weft_etcd_up')).toEqual(['weft_etcd_up 1']);
    expect(samples(text, 'weft_ready')).toEqual(['weft_ready 1']);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const scraped = await m.scrape();
    expect(scraped.contentType).toBe(m.contentType);
    expect(samples(scraped.body, 'weft_routes')).toEqual(['weft_routes 3']);
  });

  it('reads sources at each scrape only: new totals appear, departed peers vanish from the per-peer series', async () => {
    let calls = 0;
    let snap = dataplane();
    const m = createMetrics({ dataplane: () => (calls++, snap) }, { defaultMetrics: false, perPeer: true });
    expect(calls).toBe(0);
    const first = await m.render();
    expect(calls).toBe(1); // once per scrape, however many metrics read it
    expect(samples(first, 'weft_peer_packets_total')).toEqual([
      'weft_peer_packets_total{direction="in",peer="node-b",public_ip="198.18.0.2"} 10',
      'weft_peer_packets_total{direction="out",peer="node-b",public_ip="198.18.0.2"} 12',
      'weft_peer_packets_total{direction="in",peer="",public_ip="198.18.0.3"} 1',
      'weft_peer_packets_total{direction="out",peer="",public_ip="198.18.0.3"} 0',
    ]);
    snap = dataplane({ totals: { packetsIn: 61, packetsOut: 72, bytesIn: 1, bytesOut: 2 }, peers: [{ peer: 'node-b', publicIp: '198.18.0.2', packetsIn: 50, packetsOut: 60, bytesIn: 1, bytesOut: 2 }], routes: 2 });
    const text = await m.render();
    expect(samples(text, 'weft_peer_packets_total')).toEqual([
      'weft_peer_packets_total{direction="in",peer="node-b",public_ip="198.18.0.2"} 50',
      'weft_peer_packets_total{direction="out",peer="node-b",public_ip="198.18.0.2"} 60',
    ]);
    expect(samples(text, 'weft_packets_total')).toEqual(['weft_packets_total{direction="in"} 61', 'weft_packets_total{direction="out"} 72']);
    expect(samples(text, 'weft_routes')).toEqual(['weft_routes 2']);
  });

  it('does not grow with the number of peers unless per-peer series are asked for', async () => {
    const many = (n: number): DataplaneSnapshot =>
      dataplane({ peers: Array.from({ length: n }, (_, i) => ({ peer: `node${i}`, publicIp: `198.18.${i >> 8}.${i & 255}`, packetsIn: i, packetsOut: i, bytesIn: i, bytesOut: i })) });
    const size = async (n: number, perPeer: boolean): Promise<number> => (await createMetrics({ dataplane: () => many(n) }, { defaultMetrics: false, perPeer }).render()).length;
    expect(await size(5000, false)).toBe(await size(1, false));
    expect(await size(5000, true)).toBeGreaterThan(4 * 5000 * 40);
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
        dataplaneThread: () => Promise.reject(new Error('closing')),
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
      'weft_metrics_source_errors_total{source="dataplane_thread"} 2',
    ]);
  });

  it('carries the default process metrics in its own registry, not the global one', async () => {
    const text = await createMetrics({ etcd: () => ({ up: true }) }).render();
    expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    expect(globalRegistry.getSingleMetric('weft_etcd_up')).toBeUndefined();
    expect(globalRegistry.getSingleMetric('process_cpu_user_seconds_total')).toBeUndefined();
  });

  it('writes label values in snake_case, whatever the source calls them', () => {
    expect(['noRoute', 'PushPull', 'PingReq', 'route-lease-conflict', 'badL4Checksum', 'ipv6Unsupported', 'innerIpv6', 'wrongVni', 'bad_hmac', 'alive'].map(labelValue)).toEqual([
      'no_route', 'push_pull', 'ping_req', 'route_lease_conflict', 'bad_l4_checksum', 'ipv6_unsupported', 'inner_ipv6', 'wrong_vni', 'bad_hmac', 'alive',
    ]);
  });

  it('the README lists every drop reason as the metrics spell it', () => {
    const row = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').split('\n').find((l) => l.startsWith('| `weft_drops_total{reason}`'));
    expect(row).toBeDefined();
    for (const name of DROP_NAMES) expect(row).toContain(`\`${labelValue(name)}\``);
  });

  it('exports build info, the lease expiry as a timestamp and the data plane thread probe', async () => {
    const text = await createMetrics(
      {
        lease: () => ({ renewals: 0, failures: 0, expiresAt: 1_800_000_000_500 }),
        dataplaneThread: async () => ({ up: false, lagSeconds: 1, busySeconds: 2.5 }),
      },
      { defaultMetrics: false, build: { version: '1.2.3', nodeVersion: 'v24.0.0' } },
    ).render();
    expect(samples(text, 'weft_build_info')).toEqual(['weft_build_info{version="1.2.3",node_version="v24.0.0"} 1']);
    expect(samples(text, 'weft_lease_expiry_timestamp_seconds')).toEqual(['weft_lease_expiry_timestamp_seconds 1800000000.5']);
    expect(samples(text, 'weft_dataplane_thread_up')).toEqual(['weft_dataplane_thread_up 0']);
    expect(samples(text, 'weft_dataplane_thread_lag_seconds')).toEqual(['weft_dataplane_thread_lag_seconds 1']);
    expect(samples(text, 'weft_dataplane_thread_busy_seconds_total')).toEqual(['weft_dataplane_thread_busy_seconds_total 2.5']);
  });

  it('passes `promtool check metrics` with every source and the default metrics', async () => {
    const text = await createMetrics({
      dataplane: () => dataplane(),
      lease: () => ({ renewals: 7, failures: 1, expiresAt: Date.now() + 86_400_000 }),
      gossip: () => gossip,
      etcd: () => ({ up: true }),
      readiness: () => ({ ready: false }),
      dataplaneThread: () => ({ up: true, lagSeconds: 0.0002, busySeconds: 0.1 }),
    }).render();
    expect(text).not.toMatch(/^# TYPE \S+_total gauge$/m);
    expect(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] })).toBe('');
  });
});
