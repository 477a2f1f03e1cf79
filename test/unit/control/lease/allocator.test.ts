// Allocator: uniform random choice among the first 100 free subnets between SubnetMin and
// SubnetMax, alignment, overlap with leases of any length, the reuse order, and exhaustion.
import { describe, expect, it } from 'vitest';
import { chooseSubnet, freeCandidates, staleOwnLeases, type HeldSubnet } from '../../../../daemon/control/lease/allocator.js';
import { formatCidr, parseCidr, subnetOf, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { isWeftError } from '../../../../daemon/errors.js';

const cfg16 = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
const PREFIX = '/coreos.com/network/subnets';

function sn(cidr: string): Subnet4 {
  const c = parseCidr(cidr);
  if (!c) throw new Error(cidr);
  return subnetOf(c);
}

function held(cidr: string, publicIp = '198.18.9.9'): HeldSubnet {
  return { subnet: sn(cidr), publicIp };
}

/** A deterministic random source (LCG) for repeatable distribution checks. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('allocator', () => {
  it('walks SubnetMin..SubnetMax in SubnetLen steps and stops at 100 candidates', () => {
    const free = freeCandidates(cfg16, []);
    expect(free).toHaveLength(100);
    expect(formatCidr(free[0])).toBe('10.244.1.0/24');
    expect(formatCidr(free[99])).toBe('10.244.100.0/24');
    const narrow = parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetLen":26,"SubnetMin":"10.244.3.64","SubnetMax":"10.244.4.0","Backend":{"Type":"vxlan"}}');
    expect(freeCandidates(narrow, []).map(formatCidr)).toEqual(['10.244.3.64/26', '10.244.3.128/26', '10.244.3.192/26', '10.244.4.0/26']);
  });

  it('skips every subnet that overlaps a lease, whatever the lease length', () => {
    const leases = [held('10.244.1.0/24'), held('10.244.2.0/23'), held('10.244.5.128/25'), held('10.244.0.0/8')];
    expect(freeCandidates(cfg16, leases.slice(0, 3), 3).map(formatCidr)).toEqual(['10.244.4.0/24', '10.244.6.0/24', '10.244.7.0/24']);
    expect(freeCandidates(cfg16, leases)).toEqual([]);
  });

  it('picks uniformly at random among the candidates, always aligned and in range', () => {
    const counts = new Map<string, number>();
    const random = seeded(42);
    for (let i = 0; i < 20_000; i++) {
      const a = chooseSubnet({ config: cfg16, leases: [], publicIp: '198.18.0.1', subnetsPrefix: PREFIX, random });
      if (a.kind !== 'random' || a.subnet.len !== 24 || a.subnet.base % 256 !== 0) throw new Error(`bad pick ${formatCidr(a.subnet)}`);
      counts.set(formatCidr(a.subnet), (counts.get(formatCidr(a.subnet)) ?? 0) + 1);
    }
    expect(counts.size).toBe(100);
    for (const n of counts.values()) expect(n).toBeGreaterThan(120);
    for (const n of counts.values()) expect(n).toBeLessThan(280);
    expect(counts.has('10.244.0.0/24')).toBe(false);
  });

  it('reuses the lease holding our PublicIP first', () => {
    const a = chooseSubnet({ config: cfg16, leases: [held('10.244.7.0/24', '198.18.0.1'), held('10.244.8.0/24')], publicIp: '198.18.0.1', previousSubnet: sn('10.244.9.0/24'), subnetsPrefix: PREFIX });
    expect(a).toEqual({ kind: 'reuse-public-ip', subnet: sn('10.244.7.0/24') });
  });

  it('ignores our PublicIP lease when it no longer fits the config, and reports it as stale', () => {
    const leases = [held('10.244.7.0/25', '198.18.0.1')];
    expect(staleOwnLeases({ config: cfg16, leases, publicIp: '198.18.0.1' })).toEqual(leases);
    expect(staleOwnLeases({ config: cfg16, leases, publicIp: '198.18.0.2' })).toEqual([]);
  });

  it('then reuses the previous subnet when it is free and fits', () => {
    const base = { config: cfg16, publicIp: '198.18.0.1', subnetsPrefix: PREFIX, random: () => 0 };
    expect(chooseSubnet({ ...base, leases: [held('10.244.8.0/24')], previousSubnet: sn('10.244.9.0/24') })).toEqual({ kind: 'previous-subnet', subnet: sn('10.244.9.0/24') });
    expect(chooseSubnet({ ...base, leases: [held('10.244.9.0/24')], previousSubnet: sn('10.244.9.0/24') })).toEqual({ kind: 'random', subnet: sn('10.244.1.0/24') });
    expect(chooseSubnet({ ...base, leases: [], previousSubnet: sn('10.244.0.0/24') }).kind).toBe('random');
    expect(chooseSubnet({ ...base, leases: [], previousSubnet: sn('10.244.9.0/25') }).kind).toBe('random');
    expect(chooseSubnet({ ...base, leases: [], previousSubnet: sn('10.99.9.0/24') }).kind).toBe('random');
  });

  it('reports exhaustion with the numbers and what to do', () => {
    const tiny = parseNetworkConfig('{"Network":"10.244.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
    const leases = freeCandidates(tiny, []).map((s) => ({ subnet: s, publicIp: 'x' }));
    expect(leases.map((l) => formatCidr(l.subnet))).toEqual(['10.244.0.4/30', '10.244.0.8/30', '10.244.0.12/30']);
    try {
      chooseSubnet({ config: tiny, leases, publicIp: '198.18.0.1', subnetsPrefix: PREFIX });
      throw new Error('no exhaustion');
    } catch (err) {
      expect(isWeftError(err, 'WEFT_ERR_SUBNETS_EXHAUSTED')).toBe(true);
      expect((err as Error).message).toBe(
        'no free /30 left in 10.244.0.0/28 between SubnetMin 10.244.0.4 and SubnetMax 10.244.0.12 (3 leases held); widen Network or delete stale leases with etcdctl del /coreos.com/network/subnets/<subnet>',
      );
    }
  });
});
