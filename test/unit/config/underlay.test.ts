// Underlay choice: --iface by name or address, default-route interface, the single
// non-loopback interface, and clear errors naming --iface otherwise.
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { chooseUnderlay, defaultRouteInterface } from '../../../daemon/config/underlay.js';

function v4(address: string, internal = false): NetworkInterfaceInfo {
  return { address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` };
}

const ifaces = { lo: [v4('127.0.0.1', true)], eth0: [v4('198.18.0.1')], eth1: [v4('198.18.1.1')] };

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
    expect(chooseUnderlay({ iface: 'eth1', publicIp: undefined }, ifaces, 'eth0')).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay({ iface: '198.18.1.1', publicIp: undefined }, ifaces, 'eth0')).toEqual({ iface: 'eth1', ifaceIp: '198.18.1.1', publicIp: '198.18.1.1' });
    expect(chooseUnderlay({ iface: 'lo', publicIp: '198.18.0.9' }, ifaces, undefined)).toEqual({ iface: 'lo', ifaceIp: '127.0.0.1', publicIp: '198.18.0.9' });
    expect(() => chooseUnderlay({ iface: 'eth9', publicIp: undefined }, ifaces, 'eth0')).toThrow(/^--iface eth9: no interface has that name or IPv4 address \(have: lo, eth0, eth1\)/);
  });

  it('defaults to the default-route interface, else the only non-loopback one', () => {
    expect(chooseUnderlay({ iface: undefined, publicIp: undefined }, ifaces, 'eth1').iface).toBe('eth1');
    expect(chooseUnderlay({ iface: undefined, publicIp: undefined }, { lo: ifaces.lo, eth0: ifaces.eth0 }, undefined).iface).toBe('eth0');
    expect(() => chooseUnderlay({ iface: undefined, publicIp: undefined }, ifaces, undefined)).toThrow('no default route and several IPv4 interfaces (eth0, eth1); choose one with --iface');
    expect(() => chooseUnderlay({ iface: undefined, publicIp: undefined }, { lo: ifaces.lo }, undefined)).toThrow(/choose the underlay with --iface/);
  });
});
