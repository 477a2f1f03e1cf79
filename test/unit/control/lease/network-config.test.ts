// Network config: each of Flannel's defaults and rules (pkg/subnet/config.go CheckNetworkConfig,
// vxlan VXLANConfig), case-insensitive keys, and weft's vxlan-only refusal.
import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../../../../daemon/net/ipv4.js';
import { parseNetworkConfig, subnetFitsConfig, type NetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { isWeftError } from '../../../../daemon/errors.js';

const VX = '"Backend":{"Type":"vxlan"}';

function summary(c: NetworkConfig): string {
  return `${formatIpv4(c.network.base)}/${c.network.len} len=${c.subnetLen} min=${formatIpv4(c.subnetMin)} max=${formatIpv4(c.subnetMax)}`;
}

function invalid(text: string): string {
  try {
    parseNetworkConfig(text);
  } catch (err) {
    expect(isWeftError(err, 'WEFT_ERR_NETWORK_CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`accepted ${text}`);
}

describe('network config defaults (Flannel)', () => {
  it('gives /24s from the second to the last subnet of a /16, VNI 1, port 8472, no MTU', () => {
    const c = parseNetworkConfig(`{"Network":"10.244.0.0/16",${VX}}`);
    expect(summary(c)).toBe('10.244.0.0/16 len=24 min=10.244.1.0 max=10.244.255.0');
    expect(c.backend).toEqual({ type: 'vxlan', vni: 1, port: 8472, mtu: undefined });
  });

  it('uses /24 up to a /22 network, prefix+2 above, and refuses networks longer than /28', () => {
    expect(parseNetworkConfig(`{"Network":"10.1.0.0/22",${VX}}`).subnetLen).toBe(24);
    expect(parseNetworkConfig(`{"Network":"10.1.0.0/23",${VX}}`).subnetLen).toBe(25);
    expect(summary(parseNetworkConfig(`{"Network":"10.1.0.0/28",${VX}}`))).toBe('10.1.0.0/28 len=30 min=10.1.0.4 max=10.1.0.12');
    expect(invalid(`{"Network":"10.1.0.0/29",${VX}}`)).toBe('invalid network config: Network 10.1.0.0/29 is too small; the minimum useful network prefix is /28');
  });

  it('checks an explicit SubnetLen: at most 30 and at least the Network prefix + 2', () => {
    expect(parseNetworkConfig(`{"Network":"10.244.0.0/16","SubnetLen":26,${VX}}`).subnetMax).toBe(parseNetworkConfig(`{"Network":"10.244.0.0/16","SubnetMax":"10.244.255.192","SubnetLen":26,${VX}}`).subnetMax);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetLen":31,${VX}}`)).toMatch(/SubnetLen is 31; SubnetLen must be less than \/31/);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetLen":17,${VX}}`)).toMatch(/SubnetLen is 17; the Network 10.244.0.0\/16 must be able to accommodate at least four subnets, so SubnetLen must be at least 18/);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetLen":"24",${VX}}`)).toMatch(/SubnetLen is "24"; expected an integer/);
  });

  it('checks explicit SubnetMin/SubnetMax: inside Network and on a SubnetLen boundary', () => {
    const c = parseNetworkConfig(`{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.20.0",${VX}}`);
    expect(summary(c)).toBe('10.244.0.0/16 len=24 min=10.244.10.0 max=10.244.20.0');
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetMin":"10.245.0.0",${VX}}`)).toMatch(/SubnetMin 10.245.0.0 is not in the range of the Network 10.244.0.0\/16/);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetMax":"10.0.0.0",${VX}}`)).toMatch(/SubnetMax 10.0.0.0 is not in the range of the Network/);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetMin":"10.244.1.128",${VX}}`)).toMatch(/SubnetMin 10.244.1.128 is not on a SubnetLen boundary \(\/24\); use e.g. 10.244.1.0/);
    expect(invalid(`{"Network":"10.244.0.0/16","SubnetMax":"10.244.9",${VX}}`)).toMatch(/SubnetMax is "10.244.9"; expected an IPv4 address/);
    expect(summary(parseNetworkConfig(`{"Network":"10.244.0.0/16","SubnetMin":"0.0.0.0",${VX}}`))).toContain('min=10.244.1.0');
  });

  it('reads keys case-insensitively, as Go does', () => {
    const c = parseNetworkConfig('{"network":"10.5.0.0/16","subnetlen":25,"backend":{"type":"vxlan","vni":7,"port":4789,"mtu":9000}}');
    expect(summary(c)).toBe('10.5.0.0/16 len=25 min=10.5.0.128 max=10.5.255.128');
    expect(c.backend).toEqual({ type: 'vxlan', vni: 7, port: 4789, mtu: 9000 });
  });

  it('requires a valid Network', () => {
    expect(invalid(`{${VX}}`)).toMatch(/Network is missing; please define a correct Network parameter/);
    expect(invalid(`{"Network":"10.244.0.0",${VX}}`)).toMatch(/Network is "10.244.0.0"; expected an IPv4 CIDR/);
    expect(invalid(`{"Network":"fc00::/48",${VX}}`)).toMatch(/Network is "fc00::\/48"; expected an IPv4 CIDR/);
    expect(invalid('not json')).toMatch(/^invalid network config: not valid JSON/);
    expect(invalid('[1]')).toMatch(/expected a JSON object/);
  });

  it('speaks only vxlan, and says so', () => {
    expect(invalid('{"Network":"10.244.0.0/16"}')).toMatch(/Backend is missing, which Flannel reads as Backend.Type "udp"; weft implements only vxlan: add "Backend":\{"Type":"vxlan"\}/);
    expect(invalid('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}')).toMatch(/Backend.Type is "host-gw"; weft implements only the "vxlan" backend/);
    expect(invalid('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":16777216}}')).toMatch(/Backend.VNI is 16777216; expected an integer between 0 and 16777215/);
    expect(invalid('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","Port":70000}}')).toMatch(/Backend.Port is 70000/);
    expect(invalid('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","MTU":100}}')).toMatch(/Backend.MTU is 100; it is the underlay MTU and must be at least 118/);
  });

  it('tells which subnets fit (Flannel isSubnetConfigCompat)', () => {
    const c = parseNetworkConfig(`{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.20.0",${VX}}`);
    expect(subnetFitsConfig(c, { base: (10 << 24 | 244 << 16 | 10 << 8) >>> 0, len: 24 })).toBe(true);
    expect(subnetFitsConfig(c, { base: (10 << 24 | 244 << 16 | 9 << 8) >>> 0, len: 24 })).toBe(false);
    expect(subnetFitsConfig(c, { base: (10 << 24 | 244 << 16 | 10 << 8) >>> 0, len: 25 })).toBe(false);
  });
});
