// Reconciliation rules for a TUN left by an earlier weftd (daemon/control/reconcile/tun-plan.ts).
import { describe, expect, it } from 'vitest';
import { planTunFixes, planTunFixes6, unusableTun } from '../../../../daemon/control/reconcile/tun-plan.js';

const want = { name: 'weft0', mtu: 1450, address: '10.244.3.0/32', network: '10.244.0.0/16' };
const link = { ifname: 'weft0', mtu: 1450 };
const addr = (cidr: string) => ({ family: 'inet', local: cidr.split('/')[0], prefixlen: Number(cidr.split('/')[1]) });
const route = { dst: '10.244.0.0/16' };

describe('TUN reconciliation plan', () => {
  it('finds nothing to fix on a TUN in the wanted state', () => {
    expect(planTunFixes(want, link, [addr('10.244.3.0/32'), { family: 'inet6', local: 'fe80::1', prefixlen: 64 }], [route], [{ ...route, dev: 'weft0' }])).toEqual([]);
  });

  it('restores the MTU, removes stale addresses and adds the missing one', () => {
    const fixes = planTunFixes(want, { ...link, mtu: 1300 }, [addr('10.244.9.0/32'), addr('10.244.99.0/24')], [route], [route]);
    expect(fixes.map((f) => f.args.join(' '))).toEqual([
      'link set dev weft0 mtu 1450',
      'addr del 10.244.9.0/32 dev weft0',
      'addr del 10.244.99.0/24 dev weft0',
      'addr add 10.244.3.0/32 dev weft0',
    ]);
    expect(fixes[1].why).toBe('stale address 10.244.9.0/32');
  });

  it('keeps exactly one Network route: duplicates at other metrics and stale networks go, a missing one is added', () => {
    const dup = planTunFixes(want, link, [addr('10.244.3.0/32')], [route, { ...route, metric: 50 }, route, { dst: '10.245.0.0/16' }], [route]);
    expect(dup.map((f) => f.args.join(' '))).toEqual([
      'route del 10.244.0.0/16 dev weft0 metric 50',
      'route del 10.244.0.0/16 dev weft0',
      'route del 10.245.0.0/16 dev weft0',
    ]);
    const missing = planTunFixes(want, link, [addr('10.244.3.0/32')], [{ ...route, metric: 50 }], [{ ...route, metric: 50, dev: 'weft0' }]);
    expect(missing.map((f) => f.args.join(' '))).toEqual(['route replace 10.244.0.0/16 dev weft0', 'route del 10.244.0.0/16 dev weft0 metric 50']);
  });

  it('takes the Network route back from another device', () => {
    const fixes = planTunFixes(want, link, [addr('10.244.3.0/32')], [], [{ ...route, dev: 'flannel.1' }]);
    expect(fixes).toEqual([{ why: 'route 10.244.0.0/16 goes to flannel.1', args: ['route', 'replace', '10.244.0.0/16', 'dev', 'weft0'] }]);
  });

  it('brings a downed TUN up before restoring its route', () => {
    const fixes = planTunFixes(want, { ...link, flags: ['POINTOPOINT', 'NOARP'] }, [addr('10.244.3.0/32')], [], []);
    expect(fixes).toEqual([
      { why: 'weft0 is down', args: ['link', 'set', 'dev', 'weft0', 'up'] },
      { why: 'route 10.244.0.0/16 missing', args: ['route', 'replace', '10.244.0.0/16', 'dev', 'weft0'] },
    ]);
    expect(planTunFixes(want, { ...link, flags: ['POINTOPOINT', 'UP', 'LOWER_UP'] }, [addr('10.244.3.0/32')], [route], [])).toEqual([]);
  });

  it('reattaches only a single-queue TUN', () => {
    expect(unusableTun({ ifname: 'weft0', mtu: 1500, linkinfo: { info_kind: 'tun', info_data: { type: 'tun', multi_queue: false } } })).toBeUndefined();
    expect(unusableTun({ ifname: 'weft0', mtu: 1500, linkinfo: { info_kind: 'tun', info_data: { type: 'tap' } } })).toBe('weft0 is a tap device, not a TUN');
    expect(unusableTun({ ifname: 'weft0', mtu: 1500, linkinfo: { info_kind: 'tun', info_data: { type: 'tun', multi_queue: true } } })).toBe('weft0 is a multi-queue TUN');
    expect(unusableTun({ ifname: 'weft0', mtu: 1500, linkinfo: { info_kind: 'veth' } })).toBe('weft0 is a veth device, not a TUN');
    expect(unusableTun({ ifname: 'weft0', mtu: 1500 })).toBe('weft0 is a plain device, not a TUN');
  });

  it('dual-stack: adds the IPv6 /128 without DAD and the IPv6 Network route, removes stale global IPv6 addresses, leaves other IPv6 routes', () => {
    const want6 = { ...want, address6: 'fd00:10:244:3::/128', network6: 'fd00:10:244::/56' };
    const a6 = (cidr: string, scope?: string) => ({ family: 'inet6', local: cidr.split('/')[0], prefixlen: Number(cidr.split('/')[1]), ...(scope ? { scope } : {}) });
    expect(planTunFixes6(want6, [addr('10.244.3.0/32'), a6('fd00:10:244:3::/128')], [{ dst: 'fd00:10:244::/56', dev: 'weft0', metric: 1024 }])).toEqual([]);
    const fixes = planTunFixes6(want6, [a6('fd00:10:244:9::/128'), a6('fe80::1/64', 'link')], []);
    expect(fixes.map((f) => f.args.join(' '))).toEqual([
      'addr del fd00:10:244:9::/128 dev weft0',
      'addr add fd00:10:244:3::/128 dev weft0 nodad',
      '-6 route replace fd00:10:244::/56 dev weft0',
    ]);
    expect(planTunFixes6(want6, [a6('fd00:10:244:3::/128')], [{ dst: 'fd00:10:244::/56', dev: 'eth0' }])).toEqual([{ why: 'route fd00:10:244::/56 goes to eth0', args: ['-6', 'route', 'replace', 'fd00:10:244::/56', 'dev', 'weft0'] }]);
    expect(planTunFixes6(want, [a6('fd00:10:244:9::/128')], [])).toEqual([]);
  });
});
