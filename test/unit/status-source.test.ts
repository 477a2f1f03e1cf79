// The one status source: /status (what `weftd status` prints) and the /metrics sources answer from
// the same live parts, before the lease (nothing held yet) and once the lease is held.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../daemon/config/parse-config.js';
import type { HeldLease } from '../../daemon/control/lease/lease-keeper.js';
import { renderStatus } from '../../daemon/cli/status-render.js';
import type { Underlay } from '../../daemon/config/underlay.js';
import { parseSubnet } from '../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../daemon/net/ipv6.js';
import { NO_SUBNET4 } from '../../daemon/net/subnet-key.js';
import type { NodeStatus } from '../../daemon/observability/status-types.js';
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

  it('shows both subnets of a dual-stack node, and the IPv6 one alone (with PublicIPv6) on an IPv6-only node', () => {
    const v6Lease = (subnet4: HeldLease['subnet']): HeldLease => ({ subnet: subnet4, subnet6: parseSubnet6('fd00:10:244:5::/64')!, key: 'k', leaseId: '1', modRevision: '2', expiresAt: Date.UTC(2030, 0, 1), how: 'random' });
    const statusOf = (networkJson: string, lease: HeldLease, underlay: Underlay): NodeStatus => {
      const live: LiveParts = { network: parseNetworkConfig(networkJson), mtu: 1450, keeper: { current: lease, stats: () => ({ renewals: 0, failures: 0 }) }, overlay: undefined, configChecks: 0 };
      const source = new StatusSource({ cfg: config(), underlay, vtepMac: '0a:00:00:00:00:01', readiness: new Readiness(), health: { state: 'reachable' }, identity: { counts: { node_name: 0, public_ip: 0 }, refusals: { node_name: 0, public_ip: 0 } }, configReads: { found: 1, missing: 0, invalid: 0, unreadable: 0, unreachable: 0 }, live: () => live });
      return source.status().node;
    };
    const dual = statusOf('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}', v6Lease(parseSubnet('10.244.3.0/24')!), {
      iface: 'eth0', ifaceIp: '198.18.0.1', publicIp: '198.18.0.1', mtu: 1500, ipv6: { ifaceIp: 'fd00:198:18::1', publicIp: 'fd00:198:18::1' },
    });
    expect(dual).toMatchObject({ subnet: '10.244.3.0/24', network: '10.244.0.0/16', subnet6: 'fd00:10:244:5::/64', network6: 'fd00:10:244::/56', publicIP: '198.18.0.1', publicIPv6: 'fd00:198:18::1' });
    const only6 = statusOf('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}', v6Lease(NO_SUBNET4), {
      iface: 'eth0', ifaceIp: '0.0.0.0', publicIp: '0.0.0.0', mtu: 1500, noIpv4: true, ipv6: { ifaceIp: 'fd00:198:18::1', publicIp: 'fd00:198:18::1' },
    });
    expect(only6).toMatchObject({ subnet: 'fd00:10:244:5::/64', network: 'fd00:10:244::/56', subnet6: 'fd00:10:244:5::/64', network6: 'fd00:10:244::/56', publicIP: '0.0.0.0', publicIPv6: 'fd00:198:18::1' });
    expect(renderStatus({ version: 1, generatedAt: '', node: only6, peers: [], drops: {} }, new Date(Date.UTC(2029, 0, 1)))).toMatch(/^ {2}subnet {6}fd00:10:244:5::\/64 in fd00:10:244::\/56\n {2}public IP {3}0\.0\.0\.0\n {2}public v6 {3}fd00:198:18::1\n/m);
    expect(renderStatus({ version: 1, generatedAt: '', node: dual, peers: [], drops: {} }, new Date(Date.UTC(2029, 0, 1)))).toMatch(/^ {2}subnet6 {5}fd00:10:244:5::\/64 in fd00:10:244::\/56$/m);
  });
});
