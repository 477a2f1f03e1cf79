// The IPv6 half of the allocator: the first 100 free subnets from IPv6SubnetMin, a uniform pick
// among them, held subnets of any length skipped, ranges of 2^64 subnets walked without enumerating,
// and chooseSubnet taking both families together (reuse, previous subnets, random, exhaustion).
import { describe, expect, it } from 'vitest';
import { chooseSubnet, staleOwnLeases, type HeldSubnet } from '../../../../daemon/control/lease/allocator.js';
import { freeCandidates6, pickSubnet6 } from '../../../../daemon/control/lease/allocator6.js';
import { checkNetworkConfig, parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { isWeftError } from '../../../../daemon/errors.js';
import { formatCidr, parseSubnet, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { formatCidr6, parseSubnet6, type Subnet6 } from '../../../../daemon/net/ipv6.js';

const PREFIX = '/coreos.com/network/subnets';
const dual = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
const pool = dual.ipv6!;
const s4 = (c: string): Subnet4 => parseSubnet(c)!;
const s6 = (c: string): Subnet6 => parseSubnet6(c)!;
const held = (v4: string | undefined, v6: string | undefined, publicIp = '198.18.9.9'): HeldSubnet => ({ subnet: v4 ? s4(v4) : undefined, subnet6: v6 ? s6(v6) : undefined, publicIp });

describe('IPv6 candidates', () => {
  it('walks IPv6SubnetMin..IPv6SubnetMax in /IPv6SubnetLen steps, skipping held subnets, at most 100', () => {
    const free = freeCandidates6(pool, [s6('fd00:10:244:1::/64'), s6('fd00:10:244:3::/80')]);
    expect(free).toHaveLength(100);
    expect(free.slice(0, 3).map(formatCidr6)).toEqual(['fd00:10:244:2::/64', 'fd00:10:244:4::/64', 'fd00:10:244:5::/64']);
    expect(formatCidr6(free[99])).toBe('fd00:10:244:66::/64');
  });

  it('jumps over a held subnet wider than a pool subnet in one step', () => {
    const free = freeCandidates6(pool, [s6('fd00:10:244::/57')], 3);
    expect(free.map(formatCidr6)).toEqual(['fd00:10:244:80::/64', 'fd00:10:244:81::/64', 'fd00:10:244:82::/64']);
    expect(freeCandidates6(pool, [s6('fd00::/8')])).toEqual([]);
  });

  it('walks a range of 2^64 /64s without enumerating it, even when the whole first part is taken', () => {
    const huge = checkNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/8","Backend":{"Type":"vxlan"}}').ipv6!;
    const taken = Array.from({ length: 5000 }, (_, i) => ({ base: huge.subnetMin + BigInt(i) * (1n << 64n), len: 64 }));
    const free = freeCandidates6(huge, taken);
    expect(free).toHaveLength(100);
    expect(free[0].base).toBe(huge.subnetMin + 5000n * (1n << 64n));
    expect(formatCidr6({ base: huge.subnetMax, len: 64 })).toBe('fdff:ffff:ffff:ffff::/64');
  });

  it('picks uniformly among the candidates', () => {
    const seen = new Map<string, number>();
    let x = 7;
    const random = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31), x / 2 ** 31);
    for (let i = 0; i < 10_000; i++) {
      const k = formatCidr6(pickSubnet6(pool, [], random)!);
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    expect(seen.size).toBe(100);
    for (const n of seen.values()) expect(n).toBeGreaterThan(50);
  });
});

describe('chooseSubnet, dual-stack', () => {
  const base = { config: dual, publicIp: '198.18.0.1', subnetsPrefix: PREFIX };

  it('reuses the lease holding our public IP when both of its subnets fit', () => {
    const c = chooseSubnet({ ...base, leases: [held('10.244.9.0/24', 'fd00:10:244:9::/64', '198.18.0.1')] });
    expect(c).toEqual({ kind: 'reuse-public-ip', subnet: s4('10.244.9.0/24'), subnet6: s6('fd00:10:244:9::/64') });
  });

  it("counts our IPv4-only lease as stale once IPv6 is enabled (Flannel's compat rule), and keeps its IPv4 subnet through the subnet file", () => {
    const mine = held('10.244.9.0/24', undefined, '198.18.0.1');
    expect(staleOwnLeases({ config: dual, leases: [mine], publicIp: '198.18.0.1' })).toEqual([mine]);
    const c = chooseSubnet({ ...base, leases: [], previousSubnet: s4('10.244.9.0/24'), random: () => 0 });
    expect(c).toEqual({ kind: 'previous-subnet', subnet: s4('10.244.9.0/24'), subnet6: s6('fd00:10:244:1::/64') });
  });

  it('prefers both previous subnets when free, and a random IPv6 one when the previous is taken or unfit', () => {
    const prev = { previousSubnet: s4('10.244.7.0/24'), previousSubnet6: s6('fd00:10:244:7::/64') };
    expect(chooseSubnet({ ...base, ...prev, leases: [] })).toEqual({ kind: 'previous-subnet', subnet: s4('10.244.7.0/24'), subnet6: s6('fd00:10:244:7::/64') });
    const taken = chooseSubnet({ ...base, ...prev, leases: [held('10.244.8.0/24', 'fd00:10:244:7::/64')], random: () => 0 });
    expect(taken).toEqual({ kind: 'previous-subnet', subnet: s4('10.244.7.0/24'), subnet6: s6('fd00:10:244:1::/64') });
    const unfit = chooseSubnet({ ...base, previousSubnet: s4('10.244.7.0/24'), previousSubnet6: s6('fd00:10:245:7::/64'), leases: [], random: () => 0 });
    expect(unfit.subnet6).toEqual(s6('fd00:10:244:1::/64'));
  });

  it('picks each family at random among free subnets, counting IPv6-only leases as holding their IPv6 subnet', () => {
    const c = chooseSubnet({ ...base, leases: [held('10.244.1.0/24', 'fd00:10:244:1::/64'), held(undefined, 'fd00:10:244:2::/64')], random: () => 0 });
    expect(c.kind).toBe('random');
    expect(formatCidr(c.subnet)).toBe('10.244.2.0/24');
    expect(formatCidr6(c.subnet6!)).toBe('fd00:10:244:3::/64');
  });

  it('gives no IPv6 subnet without EnableIPv6', () => {
    const v4 = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(chooseSubnet({ ...base, config: v4, leases: [], random: () => 0 })).toEqual({ kind: 'random', subnet: s4('10.244.1.0/24'), subnet6: undefined });
  });

  it('reports IPv6 exhaustion with the range and what to do', () => {
    const tiny = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/124","Backend":{"Type":"vxlan"}}');
    const full = [held('10.244.1.0/24', 'fd00::4/126'), held('10.244.2.0/24', 'fd00::8/126'), held('10.244.3.0/24', 'fd00::c/126')];
    try {
      chooseSubnet({ ...base, config: tiny, leases: full });
      throw new Error('no error');
    } catch (err) {
      expect(isWeftError(err, 'WEFT_ERR_SUBNETS_EXHAUSTED')).toBe(true);
      expect((err as Error).message).toBe(
        'no free /126 left in IPv6Network fd00::/124 between IPv6SubnetMin fd00::4 and IPv6SubnetMax fd00::c (3 leases held); widen IPv6Network or delete stale leases with etcdctl del /coreos.com/network/subnets/<subnet>',
      );
    }
  });
});
