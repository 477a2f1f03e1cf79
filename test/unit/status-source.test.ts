// The one status source: /status (what `weftd status` prints) and the /metrics sources answer from
// the same live parts, before the lease (nothing held yet) and once the lease is held.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../daemon/config/parse-config.js';
import type { HeldLease } from '../../daemon/control/lease/lease-keeper.js';
import { parseSubnet } from '../../daemon/net/ipv4.js';
import { parseNetworkConfig } from '../../daemon/control/lease/network-config.js';
import { createMetrics } from '../../daemon/observability/metrics.js';
import { Readiness } from '../../daemon/observability/readiness.js';
import { StatusSource, type LiveParts } from '../../daemon/status-source.js';

function config() {
  const parsed = parseConfig(['--node-name', 'n1', '--public-ip', '198.18.0.1'], {}, { hostname: 'h', version: 't' });
  if (parsed.action !== 'run') throw new Error('config');
  return parsed.config;
}

describe('status source', () => {
  it('reports the same node, lease and etcd state to /status and to /metrics', async () => {
    const readiness = new Readiness();
    const leaseReady = readiness.register('lease');
    const health = { state: 'unreachable' as 'unreachable' | 'reachable' };
    let live: LiveParts = { network: undefined, mtu: undefined, keeper: undefined, overlay: undefined, configChecks: 0 };
    const configReads = { found: 0, missing: 2, invalid: 0, unreadable: 0, unreachable: 1 };
    const source = new StatusSource({
      cfg: config(),
      underlay: { iface: 'eth0', ifaceIp: '198.18.0.1', publicIp: '198.18.0.1', mtu: 1500 },
      vtepMac: '0a:00:00:00:00:01',
      readiness,
      health,
      identity: { counts: { node_name: 0, public_ip: 1 }, refusals: { node_name: 0, public_ip: 3 } },
      configReads,
      live: () => live,
    });
    const metrics = createMetrics(source.metricsSources(), { defaultMetrics: false });

    expect(source.status().node).toMatchObject({ name: 'n1', subnet: null, network: null, leaseExpiry: null, mtu: null, ready: false, notReady: ['lease'], etcdUp: false });
    expect(source.status().peers).toEqual([]);
    let text = await metrics.render();
    expect(text).toMatch(/^weft_etcd_up 0$/m);
    expect(text).toMatch(/^weft_ready 0$/m);
    expect(text).toMatch(/^weft_identity_conflicts_total\{kind="public_ip"\} 1$/m);
    expect(text).toMatch(/^weft_identity_refusals_total\{kind="public_ip"\} 3$/m);
    expect(text).toMatch(/^weft_network_config_reads_total\{result="missing"\} 2$/m);
    expect(text).toMatch(/^weft_network_config_checks_total 0$/m);
    expect(text).not.toMatch(/^weft_resync_checks_total\{/m);

    const lease: HeldLease = { subnet: { base: parseSubnet('10.244.3.0/24')!.base, len: 24 }, key: 'k', leaseId: '1', modRevision: '2', expiresAt: Date.UTC(2030, 0, 1), how: 'random' };
    live = { network: parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'), mtu: 1450, keeper: { current: lease, stats: () => ({ renewals: 3, failures: 1 }) }, overlay: undefined, configChecks: 4 };
    configReads.found = 1;
    health.state = 'reachable';
    leaseReady.set(true);
    expect(source.status().node).toMatchObject({ subnet: '10.244.3.0/24', network: '10.244.0.0/16', leaseExpiry: '2030-01-01T00:00:00.000Z', mtu: 1450, ready: true, notReady: [], etcdUp: true });
    text = await metrics.render();
    expect(text).toMatch(/^weft_etcd_up 1$/m);
    expect(text).toMatch(/^weft_ready 1$/m);
    expect(text).toMatch(new RegExp(`^weft_lease_expiry_timestamp_seconds ${Date.UTC(2030, 0, 1) / 1000}$`, 'm'));
    expect(text).toMatch(/^weft_lease_renewals_total 3$/m);
    expect(text).toMatch(/^weft_network_config_reads_total\{result="found"\} 1$/m);
    expect(text).toMatch(/^weft_network_config_checks_total 4$/m);
  });
});
