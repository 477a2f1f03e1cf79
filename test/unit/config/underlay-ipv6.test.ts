// The IPv6 underlay of a dual-stack node: the chosen interface's first global IPv6 address (never
// loopback, link-local or IPv4-mapped), --public-ipv6 over it, an --iface given as an IPv6 address,
// and --public-ipv6 read strictly into Go's net.IP.String() form.
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { chooseUnderlay, globalIpv6Of, type UnderlayRequest } from '../../../daemon/config/underlay.js';
import { parseConfig } from '../../../daemon/config/parse-config.js';

function v4(address: string): NetworkInterfaceInfo {
  return { address, family: 'IPv4', internal: false, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` };
}
function v6(address: string, scopeid = 0): NetworkInterfaceInfo {
  return { address, family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: `${address}/64`, scopeid };
}
const none: UnderlayRequest = { iface: [], ifaceRegex: [], ifaceCanReach: undefined, publicIp: undefined };
const req = (r: Partial<UnderlayRequest>): UnderlayRequest => ({ ...none, ...r });

describe('IPv6 underlay', () => {
  const table = { eth0: [v4('198.18.0.1'), v6('fe80::1', 2), v6('fd00:198:18::1')], eth1: [v4('198.18.1.1')] };

  it("takes the chosen interface's first global IPv6 address, skipping link-local", () => {
    expect(chooseUnderlay(req({ iface: ['eth0'] }), table, undefined)).toEqual({ iface: 'eth0', ifaceIp: '198.18.0.1', publicIp: '198.18.0.1', ipv6: { ifaceIp: 'fd00:198:18::1', publicIp: 'fd00:198:18::1' } });
    expect(globalIpv6Of([v6('::1'), v6('fe80::1', 2), v6('::ffff:10.0.0.1')])).toBeUndefined();
    expect(globalIpv6Of([v6('FD00:0198:0018::0001')])).toBe('fd00:198:18::1');
  });

  it('has none when the interface has no global IPv6 address and --public-ipv6 is not given', () => {
    expect(chooseUnderlay(req({ iface: ['eth1'] }), table, undefined).ipv6).toBeUndefined();
    expect(chooseUnderlay(req({ iface: ['eth1'], publicIpv6: 'fd00:198:18::9' }), table, undefined).ipv6).toEqual({ ifaceIp: undefined, publicIp: 'fd00:198:18::9' });
  });

  it('lets --public-ipv6 override the interface address', () => {
    expect(chooseUnderlay(req({ iface: ['eth0'], publicIpv6: 'fd00:198:18::9' }), table, undefined).ipv6).toEqual({ ifaceIp: 'fd00:198:18::1', publicIp: 'fd00:198:18::9' });
  });

  it('finds the interface by an IPv6 --iface value and takes its IPv4 address too', () => {
    expect(chooseUnderlay(req({ iface: ['fd00:198:18:0::1'] }), table, undefined)).toMatchObject({ iface: 'eth0', ifaceIp: '198.18.0.1', ipv6: { publicIp: 'fd00:198:18::1' } });
  });
});

describe('--public-ipv6', () => {
  const sys = { hostname: 'h', version: '0' };
  const run = (argv: string[], env: Record<string, string> = {}) => {
    const r = parseConfig(argv, env, sys);
    if (r.action !== 'run') throw new Error(r.action);
    return r.config;
  };

  it("is unset by default, and read into Go's net.IP.String() form from the flag or its env twins", () => {
    expect(run([]).publicIpv6).toBeUndefined();
    expect(run(['--public-ipv6', 'FD00:198:18:0:0:0:0:1']).publicIpv6).toBe('fd00:198:18::1');
    expect(run([], { FLANNELD_PUBLIC_IPV6: 'fd00:198:18::2' }).publicIpv6).toBe('fd00:198:18::2');
    expect(run(['--iface', 'fd00:198:18::1']).iface).toEqual(['fd00:198:18::1']);
  });

  it('names the flag and what it expects for a bad value', () => {
    for (const bad of ['198.18.0.1', '[fd00::1]', 'fd00::1%eth0', '::ffff:198.18.0.1', 'fd00:::1']) {
      expect(() => run(['--public-ipv6', bad]), bad).toThrow(`--public-ipv6: "${bad}" is not an IPv6 address; expected e.g. fd00:198:18::1`);
    }
  });
});
