// Underlay choice on in-memory interface tables: --iface values tried in order (name or
// address, the first with an IPv4 address wins), then --iface-regex in order (addresses, then
// names), then --iface-can-reach (the route's device), the default-route interface, the single
// non-loopback interface, and clear errors naming the flags otherwise.
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { chooseUnderlay, defaultRouteInterface, parseRouteGet, type UnderlayRequest } from '../../../daemon/config/underlay.js';

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` };
}
function v6(address: string): NetworkInterfaceInfo {
  return { address, family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: `${address}/64`, scopeid: 0 };
}

const ifaces = { lo: [v4('127.0.0.1', true)], eth0: [v4('198.18.0.1')], eth1: [v4('198.18.1.1')] };
const none: UnderlayRequest = { iface: [], ifaceRegex: [], ifaceCanReach: undefined, publicIp: undefined };
const req = (r: Partial<UnderlayRequest>): UnderlayRequest => ({ ...none, ...r });

describe('underlay', () => {
  it('finds the default route interface with the lowest metric', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth1\t00000000\t0101A8C0\t0003\t0\t0\t200\t00000000\t0\t0\t0',
      'eth0\t00000000\t010012C6\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(defaultRouteInterface(table)).toBe('eth0');
    expect(defaultRouteInterface(table.split('\n').slice(0, 1).join('\n'))).toBeUndefined();
  });

  it('uses --iface by name or by address, and --public-ip over the interface address', () => {
    expect(chooseUnderlay(req({ iface: ['eth1'] }), ifaces, 'eth0')).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay(req({ iface: ['198.18.1.1'] }), ifaces, 'eth0')).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay(req({ iface: ['lo'], publicIp: '198.18.0.9' }), ifaces, undefined)).toEqual({ iface: 'lo', ifaceIp: '127.0.0.1', publicIp: '198.18.0.9' });
    expect(() => chooseUnderlay(req({ iface: ['eth9'] }), ifaces, 'eth0')).toThrow('--iface eth9: no interface has that name or IPv4 address, or matches (have: lo 127.0.0.1, eth0 198.18.0.1, eth1 198.18.1.1)');
  });

  it('tries repeated --iface values in order: the first that exists with an IPv4 address wins', () => {
    const table = { ...ifaces, wg0: [v6('fd00::1')] };
    expect(chooseUnderlay(req({ iface: ['eth9', 'eth1', 'eth0'] }), table, 'eth0').iface).toBe('eth1');
    expect(chooseUnderlay(req({ iface: ['198.18.7.7', '198.18.0.1'] }), table, undefined)).toEqual({ iface: 'eth0', ifaceIp: '198.18.0.1', publicIp: '198.18.0.1' });
    expect(chooseUnderlay(req({ iface: ['wg0', 'eth1'] }), table, 'eth0').iface).toBe('eth1'); // wg0 has no IPv4
    // An interface without IPv4 still serves when nothing else does and --public-ip says where peers send.
    expect(chooseUnderlay(req({ iface: ['eth9', 'wg0'], publicIp: '198.18.0.9' }), table, 'eth0')).toEqual({ iface: 'wg0', ifaceIp: '198.18.0.9', publicIp: '198.18.0.9', ipv6: { ifaceIp: 'fd00::1', publicIp: 'fd00::1' } });
    expect(() => chooseUnderlay(req({ iface: ['eth9', 'wg1'] }), { ...table, wg1: [] }, 'eth0')).toThrow(
      '--iface eth9, --iface wg1: wg1 has no IPv4 address and nothing else matched; give it one or set --public-ip (or, for an IPv6-only network, give it a global IPv6 address or set --public-ipv6)',
    );
  });

  it('takes an interface with IPv6 alone as an IPv6-only underlay (IPv4 addresses 0.0.0.0), by name, address or --iface-can-reach', () => {
    const table = { ...ifaces, wg0: [v6('fd00::1')] };
    const only6 = { iface: 'wg0', ifaceIp: '0.0.0.0', publicIp: '0.0.0.0', noIpv4: true, ipv6: { ifaceIp: 'fd00::1', publicIp: 'fd00::1' } };
    expect(chooseUnderlay(req({ iface: ['eth9', 'wg0'] }), table, 'eth0')).toEqual(only6);
    expect(chooseUnderlay(req({ iface: ['fd00::1'] }), table, 'eth0')).toEqual(only6);
    expect(chooseUnderlay(req({ iface: ['wg0'], publicIpv6: 'fd00:198:18::9' }), table, 'eth0')).toEqual({ ...only6, ipv6: { ifaceIp: 'fd00::1', publicIp: 'fd00:198:18::9' } });
    expect(chooseUnderlay(req({ iface: ['wg1'], publicIpv6: 'fd00:198:18::9' }), { ...table, wg1: [] }, 'eth0')).toEqual({ ...only6, iface: 'wg1', ipv6: { ifaceIp: undefined, publicIp: 'fd00:198:18::9' } });
    expect(chooseUnderlay(req({ ifaceCanReach: 'fd00::9' }), table, 'eth0', { dev: 'wg0' })).toEqual(only6);
  });

  it('tries each --iface-regex in order after --iface: addresses of every interface first, then names', () => {
    const table = { lo: ifaces.lo, ens3: [v4('198.18.2.1')], eth0: ifaces.eth0, eth1: ifaces.eth1, eth2: [v6('fd00::2')] };
    expect(chooseUnderlay(req({ ifaceRegex: ['^198\\.18\\.1\\.'] }), table, 'eth0')).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay(req({ ifaceRegex: ['^eth'] }), table, undefined).iface).toBe('eth0'); // name match, in table order
    expect(chooseUnderlay(req({ ifaceRegex: ['^eth2$', '^ens'] }), table, undefined).iface).toBe('ens3'); // eth2 has no IPv4
    expect(chooseUnderlay(req({ ifaceRegex: ['1$'] }), table, undefined)).toMatchObject({ iface: 'lo', ifaceIp: '127.0.0.1' }); // an address match beats eth1's name
    expect(chooseUnderlay(req({ iface: ['eth9'], ifaceRegex: ['^ens'] }), table, undefined).iface).toBe('ens3');
    expect(chooseUnderlay(req({ iface: ['eth1'], ifaceRegex: ['^ens'] }), table, undefined).iface).toBe('eth1');
    expect(() => chooseUnderlay(req({ iface: ['eth9'], ifaceRegex: ['^wlan'] }), table, 'eth0')).toThrow(/^--iface eth9, --iface-regex \^wlan: no interface has that name or IPv4 address, or matches \(have: lo 127\.0\.0\.1, ens3 198\.18\.2\.1, eth0 198\.18\.0\.1, eth1 198\.18\.1\.1, eth2\)/);
  });

  it('with --iface-can-reach alone, takes the route\'s device and source address', () => {
    const canReach = req({ ifaceCanReach: '198.18.9.9' });
    expect(chooseUnderlay(canReach, ifaces, 'eth0', { dev: 'eth1', prefsrc: '198.18.1.1' })).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay(canReach, ifaces, 'eth0', { dev: 'eth1' }).ifaceIp).toBe('198.18.1.1');
    expect(chooseUnderlay({ ...canReach, iface: ['eth0'] }, ifaces, undefined, { dev: 'eth1' }).iface).toBe('eth0'); // --iface comes first
    expect(() => chooseUnderlay(canReach, ifaces, 'eth0', undefined)).toThrow('--iface-can-reach 198.18.9.9: no route to it; add one or choose the underlay with --iface');
    expect(() => chooseUnderlay(canReach, { ...ifaces, wg0: [] }, 'eth0', { dev: 'wg0' })).toThrow(/the route leaves by wg0, which has no IPv4 address/);
  });

  it('reads the device and source of `ip -j route get`', () => {
    expect(parseRouteGet('[{"dst":"198.18.9.9","gateway":"198.18.1.254","dev":"eth1","prefsrc":"198.18.1.1","flags":[],"uid":0,"cache":[]}]')).toEqual({ dev: 'eth1', prefsrc: '198.18.1.1' });
    expect(parseRouteGet('[{"dst":"198.18.9.9","dev":"eth1"}]')).toEqual({ dev: 'eth1' });
    expect(parseRouteGet('[]')).toBeUndefined();
    expect(parseRouteGet('RTNETLINK answers: Network is unreachable')).toBeUndefined();
  });

  it('defaults to the default-route interface, else the only non-loopback one', () => {
    expect(chooseUnderlay(none, ifaces, 'eth1').iface).toBe('eth1');
    expect(chooseUnderlay(none, { lo: ifaces.lo, eth0: ifaces.eth0 }, undefined).iface).toBe('eth0');
    expect(() => chooseUnderlay(none, ifaces, undefined)).toThrow('no default route and several IPv4 interfaces (eth0, eth1); choose one with --iface');
    expect(() => chooseUnderlay(none, { lo: ifaces.lo }, undefined)).toThrow(/choose the underlay with --iface/);
  });
});
