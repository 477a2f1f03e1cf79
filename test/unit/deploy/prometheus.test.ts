// The shipped Prometheus rules and Grafana dashboard (deploy/): promtool accepts the rules and
// their unit tests (test/prometheus/weft-rules.test.yaml) pass; the dashboard is importable JSON
// whose queries and alert expressions use only metric names weftd's metrics module declares. The
// same names are checked against a live weftd's scrape in test/netns/production.test.ts.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../daemon/observability/metrics.js';
import { allPanels, dashboardQueries, exportedNames, metricNames, readDashboard, readRules, RULES, unknownNames } from '../../helpers/promql.js';

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('promtool not found: install Debian\'s prometheus package (.ci/install does)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('deploy/prometheus/weft-rules.yaml', () => {
  it('passes promtool check rules and promtool test rules', () => {
    expect(promtool('check', 'rules', fileURLToPath(RULES))).toMatch(/SUCCESS: 6 rules found/);
    expect(promtool('test', 'rules', fileURLToPath(new URL('../../prometheus/weft-rules.test.yaml', import.meta.url)))).toMatch(/SUCCESS/);
  });

  it('alerts on what the issue asks: node not ready, etcd down, lease expiring, drops rising, member dead', () => {
    expect(readRules().map((r) => r.alert)).toEqual(['WeftNodeNotReady', 'WeftEtcdDown', 'WeftLeaseExpiring', 'WeftDropsRising', 'WeftMemberDead', 'WeftDataplaneStuck']);
  });
});

describe('deploy/grafana/weft.json', () => {
  const d = readDashboard();

  it('is an importable dashboard: a data source input, unique panel ids, a query in every target', () => {
    const raw = d as unknown as { __inputs: { name: string; type: string }[] };
    expect(raw.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource' })]);
    expect(d.uid).toBe('weft-overlay');
    const panels = allPanels(d);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.targets?.length, `panel ${p.title}`).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, `panel ${p.title}`).toMatch(/\S/);
    }
  });

  it('shows throughput and drops per node, drops by reason, members by state, lease expiry, etcd up, data plane lag', () => {
    const used = new Set(dashboardQueries(d).flatMap((q) => metricNames(q.expr)));
    for (const name of ['weft_bytes_total', 'weft_drops_total', 'weft_gossip_members', 'weft_lease_expiry_timestamp_seconds', 'weft_etcd_up', 'weft_dataplane_thread_lag_seconds']) {
      expect(used, name).toContain(name);
    }
    expect(dashboardQueries(d).some((q) => /sum by \(reason\) \(rate\(weft_drops_total/.test(q.expr))).toBe(true);
  });

  it('uses, like the rules, only metric names the metrics module declares', async () => {
    const text = await createMetrics({}).render();
    expect(unknownNames(exportedNames(text))).toEqual([]);
  });
});

describe('metricNames', () => {
  it('finds metric names, not functions, labels, keywords or variables', () => {
    expect(metricNames('sum by (instance, reason) (rate(weft_drops_total{instance=~"$instance",reason!="x"}[$__rate_interval])) > 10')).toEqual(['weft_drops_total']);
    expect(metricNames('min(weft_lease_expiry_timestamp_seconds) - time() < 1800')).toEqual(['weft_lease_expiry_timestamp_seconds']);
    expect(metricNames('count(weft_etcd_up == 0) or vector(0)')).toEqual(['weft_etcd_up']);
    expect(metricNames('sum(a_total) / ignoring(x) group_left b_info')).toEqual(['a_total', 'b_info']);
  });
});
