// The IPv6 subnet of a dual-stack lease, picked as Flannel's allocateSubnet does for IPv6: walk
// IPv6SubnetMin..IPv6SubnetMax in /IPv6SubnetLen steps, collect the first 100 free subnets, pick
// one uniformly at random. A range can hold 2^64 subnets or more, so the walk never enumerates it:
// it stops after 100 free ones, each held subnet costs one step, and a held subnet wider than
// /IPv6SubnetLen is jumped over whole, so a walk is O(leases + 100) steps.
import { formatCidr6, formatIpv6, overlaps6, prefixMask6, subnetSize6, type Subnet6 } from '../../net/ipv6.js';
import type { Ipv6Pool } from './network-config.js';

/** Flannel collects at most this many free candidates before picking one at random. */
export const MAX_CANDIDATES6 = 100;

/** Free IPv6 subnets from IPv6SubnetMin upwards, in order, at most `limit`. */
export function freeCandidates6(pool: Ipv6Pool, held: readonly (Subnet6 | undefined)[], limit = MAX_CANDIDATES6): Subnet6[] {
  const mask = prefixMask6(pool.subnetLen);
  const step = subnetSize6(pool.subnetLen);
  const taken = new Set<bigint>();
  /** Held subnets wider than a pool subnet, by base: each covers a run of candidates. */
  const wide: Subnet6[] = [];
  for (const s of held) {
    if (!s) continue;
    if (s.len >= pool.subnetLen) taken.add(s.base & mask);
    else wide.push(s);
  }
  wide.sort((a, b) => (a.base < b.base ? -1 : a.base > b.base ? 1 : 0));
  const out: Subnet6[] = [];
  let base = pool.subnetMin;
  while (base <= pool.subnetMax && out.length < limit) {
    const candidate: Subnet6 = { base, len: pool.subnetLen };
    const cover = wide.find((w) => overlaps6(w, candidate));
    if (cover) {
      base = cover.base + subnetSize6(cover.len);
      continue;
    }
    if (!taken.has(base)) out.push(candidate);
    base += step;
  }
  return out;
}

/** A uniformly random pick among the free candidates; undefined when none is free. */
export function pickSubnet6(pool: Ipv6Pool, held: readonly (Subnet6 | undefined)[], random: () => number): Subnet6 | undefined {
  const free = freeCandidates6(pool, held);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}

/** The range text for an exhaustion message. */
export function describePool6(pool: Ipv6Pool): string {
  return `no free /${pool.subnetLen} left in IPv6Network ${formatCidr6(pool.network)} between IPv6SubnetMin ${formatIpv6(pool.subnetMin)} and IPv6SubnetMax ${formatIpv6(pool.subnetMax)}`;
}
