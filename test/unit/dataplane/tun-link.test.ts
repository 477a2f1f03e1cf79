// The TUN's wanted state (daemon/dataplane/tun-link.ts): the one address and route rule that
// Dataplane.open() applies and the control plane's reconcile restores.
import { describe, expect, it } from 'vitest';
import { tunLink, tunLink6Only } from '../../../daemon/dataplane/tun-link.js';
import { planTunFixes } from '../../../daemon/control/reconcile/tun-plan.js';

describe('tunLink', () => {
  it('addresses the TUN with its lease base as a /32 and routes the whole Network through it', () => {
    expect(tunLink('weft0', 1450, '10.244.0.0/16', '10.244.3.0/24')).toEqual({ name: 'weft0', mtu: 1450, address: '10.244.3.0/32', network: '10.244.0.0/16' });
    expect(tunLink('w1', 8950, '10.0.0.0/8', '10.17.128.0/17').address).toBe('10.17.128.0/32');
    expect(tunLink('w1', 1450, '10.244.0.0/16', '10.244.3.4/32').address).toBe('10.244.3.4/32');
  });

  it('dual-stack: adds the IPv6 subnet address as a /128 and the IPv6 Network, as Flannel sets up flannel-v6.1', () => {
    expect(tunLink('weft0', 1450, '10.244.0.0/16', '10.244.3.0/24', { network6: 'fd00:10:244::/56', localSubnet6: 'fd00:10:244:5f::/64' })).toEqual({
      name: 'weft0',
      mtu: 1450,
      address: '10.244.3.0/32',
      network: '10.244.0.0/16',
      address6: 'fd00:10:244:5f::/128',
      network6: 'fd00:10:244::/56',
    });
  });

  it('IPv6-only: the IPv6 address and route alone; the reconcile plan removes any IPv4 address and route and adds none', () => {
    const want = tunLink6Only('weft0', 1450, { network6: 'fd00:10:244::/56', localSubnet6: 'fd00:10:244:5f::/64' });
    expect(want).toEqual({ name: 'weft0', mtu: 1450, address6: 'fd00:10:244:5f::/128', network6: 'fd00:10:244::/56' });
    const link = { ifname: 'weft0', mtu: 1450, flags: ['UP'] };
    expect(planTunFixes(want, link, [], [], [])).toEqual([]);
    const fixes = planTunFixes(want, link, [{ family: 'inet', local: '10.244.3.0', prefixlen: 32 }], [{ dst: '10.244.0.0/16' }], []);
    expect(fixes.map((f) => f.args.join(' '))).toEqual(['addr del 10.244.3.0/32 dev weft0', 'route del 10.244.0.0/16 dev weft0']);
  });

  it('is the state the reconcile plan finds nothing to fix in', () => {
    const want = tunLink('weft0', 1450, '10.244.0.0/16', '10.244.3.0/24');
    const link = { ifname: 'weft0', mtu: 1450, flags: ['UP'] };
    const route = { dst: '10.244.0.0/16' };
    expect(planTunFixes(want, link, [{ family: 'inet', local: '10.244.3.0', prefixlen: 32 }], [route], [{ ...route, dev: 'weft0' }])).toEqual([]);
  });
});
