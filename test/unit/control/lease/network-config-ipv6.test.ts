// The IPv6 half of the network config: Flannel's CheckNetworkConfig rules for EnableIPv6 /
// IPv6Network / IPv6SubnetLen / IPv6SubnetMin / IPv6SubnetMax, IPv6-only configs (valid by
// Flannel's rules, refused by weftd for now), and a clear message for each bad input.
import { describe, expect, it } from 'vitest';
import { checkNetworkConfig, parseNetworkConfig, subnet6FitsConfig, subnetFitsConfig, type Ipv6Pool } from '../../../../daemon/control/lease/network-config.js';
import { isWeftError } from '../../../../daemon/errors.js';
import { formatCidr6, formatIpv6, parseSubnet6 } from '../../../../daemon/net/ipv6.js';

const VX = '"Backend":{"Type":"vxlan"}';
const V4 = '"Network":"10.244.0.0/16"';

function pool(text: string): string {
  const p: Ipv6Pool | undefined = checkNetworkConfig(text).ipv6;
  if (!p) return 'none';
  return `${formatCidr6(p.network)} len=${p.subnetLen} min=${formatIpv6(p.subnetMin)} max=${formatIpv6(p.subnetMax)}`;
}

function invalid(text: string): string {
  try {
    checkNetworkConfig(text);
  } catch (err) {
    expect(isWeftError(err, 'WEFT_ERR_NETWORK_CONFIG_INVALID')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`accepted ${text}`);
}

const dual = (extra: string): string => `{${V4},"EnableIPv6":true,${extra}${extra ? ',' : ''}${VX}}`;

describe('IPv6 network config (Flannel CheckNetworkConfig)', () => {
  it('is off by default and ignores IPv6 fields then', () => {
    expect(pool(`{${V4},${VX}}`)).toBe('none');
    expect(pool(`{${V4},"IPv6Network":"fd00:10:244::/56",${VX}}`)).toBe('none');
    expect(parseNetworkConfig(`{${V4},${VX}}`)).not.toHaveProperty('ipv6');
  });

  it('gives /64s from the second to the last subnet when the prefix is /62 or shorter', () => {
    expect(pool(dual('"IPv6Network":"fd00:10:244::/56"'))).toBe('fd00:10:244::/56 len=64 min=fd00:10:244:1:: max=fd00:10:244:ff::');
    expect(pool(dual('"IPv6Network":"fd00::/62"'))).toBe('fd00::/62 len=64 min=fd00:0:0:1:: max=fd00:0:0:3::');
    expect(pool(dual('"IPv6Network":"fd00::/8"'))).toBe('fd00::/8 len=64 min=fd00:0:0:1:: max=fdff:ffff:ffff:ffff::');
  });

  it('uses prefix + 2 above /62, up to /124, and refuses longer networks', () => {
    expect(pool(dual('"IPv6Network":"fd00::/63"'))).toBe('fd00::/63 len=65 min=fd00::8000:0:0:0 max=fd00:0:0:1:8000::');
    expect(pool(dual('"IPv6Network":"fd00::/124"'))).toBe('fd00::/124 len=126 min=fd00::4 max=fd00::c');
    expect(invalid(dual('"IPv6Network":"fd00::/125"'))).toBe('invalid network config: IPv6Network fd00::/125 is too small; the minimum useful IPv6 network prefix is /124');
  });

  it('clears host bits of IPv6Network as Go net.ParseCIDR does', () => {
    expect(pool(dual('"IPv6Network":"fd00:10:244::1/56"'))).toMatch(/^fd00:10:244::\/56 /);
  });

  it('checks an explicit IPv6SubnetLen: at most 126 and at least the prefix + 2', () => {
    expect(pool(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetLen":80'))).toBe('fd00:10:244::/56 len=80 min=fd00:10:244:0:1:: max=fd00:10:244:ff:ffff::');
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetLen":127'))).toMatch(/IPv6SubnetLen is 127; IPv6SubnetLen must be less than \/127/);
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetLen":57'))).toMatch(/IPv6SubnetLen is 57; the IPv6Network fd00:10:244::\/56 must be able to accommodate at least four subnets, so IPv6SubnetLen must be at least 58/);
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetLen":"64"'))).toMatch(/IPv6SubnetLen is "64"; expected an integer between 0 and 128/);
  });

  it('checks explicit IPv6SubnetMin/Max: inside IPv6Network and on a boundary; "::" means the default', () => {
    expect(pool(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"fd00:10:244:10::","IPv6SubnetMax":"fd00:10:244:20::"'))).toBe('fd00:10:244::/56 len=64 min=fd00:10:244:10:: max=fd00:10:244:20::');
    expect(pool(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"::"'))).toMatch(/min=fd00:10:244:1:: /);
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"fd00:10:245::"'))).toMatch(/IPv6SubnetMin fd00:10:245:: is not in the range of the IPv6Network fd00:10:244::\/56/);
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMax":"fd00:10:244:1::1"'))).toMatch(/IPv6SubnetMax fd00:10:244:1::1 is not on an IPv6SubnetLen boundary \(\/64\); use e.g. fd00:10:244:1::/);
    expect(invalid(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"10.244.1.0"'))).toMatch(/IPv6SubnetMin is "10.244.1.0"; expected an IPv6 address/);
  });

  it('requires a valid IPv6Network with EnableIPv6', () => {
    expect(invalid(dual(''))).toMatch(/EnableIPv6 is true but IPv6Network is missing; please define a correct IPv6Network parameter/);
    expect(invalid(dual('"IPv6Network":"10.0.0.0/8"'))).toMatch(/IPv6Network is "10.0.0.0\/8"; expected an IPv6 CIDR/);
    expect(invalid(dual('"IPv6Network":"::ffff:10.0.0.0/104"'))).toMatch(/IPv6Network is "::ffff:10.0.0.0\/104"; expected an IPv6 CIDR/);
    expect(invalid(dual('"IPv6Network":"fd00::%eth0/56"'))).toMatch(/expected an IPv6 CIDR/);
    expect(invalid(`{${V4},"EnableIPv6":"yes",${VX}}`)).toMatch(/EnableIPv6 is "yes"; expected true or false/);
  });

  it('reads the keys case-insensitively, as Go does', () => {
    expect(pool(`{${V4},"enableipv6":true,"ipv6network":"fd00:10:244::/56","ipv6subnetlen":72,${VX}}`)).toMatch(/^fd00:10:244::\/56 len=72 /);
  });

  it('weftd runs dual-stack: the IPv4 pool as before, plus the IPv6 pool', () => {
    const c = parseNetworkConfig(dual('"IPv6Network":"fd00:10:244::/56"'));
    expect(c.subnetLen).toBe(24);
    expect(c.ipv6 && formatCidr6(c.ipv6.network)).toBe('fd00:10:244::/56');
  });
});

describe('IPv6-only network config', () => {
  const v6only = `{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56",${VX}}`;

  it("is valid by Flannel's rules: no Network needed, no IPv4 pool", () => {
    const c = checkNetworkConfig(v6only);
    expect(c.ipv4).toBeUndefined();
    expect(pool(v6only)).toBe('fd00:10:244::/56 len=64 min=fd00:10:244:1:: max=fd00:10:244:ff::');
  });

  it("is what weftd runs on: the IPv6 pool, Flannel's zero IPv4 pool, from which nothing fits", () => {
    const c = parseNetworkConfig(v6only);
    expect(c.ipv6Only).toBe(true);
    expect(c.ipv6?.subnetLen).toBe(64);
    expect({ network: c.network, subnetLen: c.subnetLen, subnetMin: c.subnetMin, subnetMax: c.subnetMax }).toEqual({ network: { base: 0, len: 0 }, subnetLen: 0, subnetMin: 0, subnetMax: 0 });
    expect(subnetFitsConfig(c, { base: 0, len: 0 })).toBe(false);
    expect(parseNetworkConfig(`{"Network":"10.244.0.0/16",${VX}}`).ipv6Only).toBeUndefined();
  });

  it('needs at least one family', () => {
    expect(invalid(`{"EnableIPv4":false,${VX}}`)).toMatch(/EnableIPv4 and EnableIPv6 are both false; enable at least one address family/);
  });
});

describe('subnet6FitsConfig (Flannel isIPv6SubnetConfigCompat)', () => {
  const p = checkNetworkConfig(dual('"IPv6Network":"fd00:10:244::/56","IPv6SubnetMin":"fd00:10:244:10::","IPv6SubnetMax":"fd00:10:244:20::"')).ipv6!;
  it('needs no IPv6 subnet without EnableIPv6, and one inside Min..Max of the right length with it', () => {
    expect(subnet6FitsConfig(undefined, undefined)).toBe(true);
    expect(subnet6FitsConfig(undefined, parseSubnet6('fd00:10:244:10::/64')!)).toBe(false);
    expect(subnet6FitsConfig(p, undefined)).toBe(false);
    expect(subnet6FitsConfig(p, parseSubnet6('fd00:10:244:10::/64')!)).toBe(true);
    expect(subnet6FitsConfig(p, parseSubnet6('fd00:10:244:21::/64')!)).toBe(false);
    expect(subnet6FitsConfig(p, parseSubnet6('fd00:10:244:10::/65')!)).toBe(false);
  });
});
