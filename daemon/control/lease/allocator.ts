// Subnet choice for a new or restarted node, as Flannel's LocalManager.tryAcquireLease:
//   1. a lease that already holds our PublicIP and still fits the config is reused;
//   2. else the subnet from the previous subnet file, if it fits and nobody holds it;
//   3. else a uniformly random pick among the first 100 free subnets walking SubnetMin..SubnetMax.
// Dual-stack (EnableIPv6): a lease holds both subnets and is taken or reused as one. Step 1 needs
// both to fit (Flannel deletes an own lease that does not, e.g. a v4-only one after IPv6 was
// enabled); step 2 keeps the previous IPv4 subnet when it fits and is free, with the previous IPv6
// subnet if that fits and is free too, else a random one (Flannel drops both there, so turning
// IPv6 on would move every node's IPv4 subnet); step 3 picks each family at random (allocator6.ts).
// IPv6-only (EnableIPv4 false): a lease holds the IPv6 subnet alone (its IPv4 half is NO_SUBNET4);
// step 1 matches by the owner address (PublicIPv6, lease-codec leaseOwnerIp), step 2 takes the
// previous IPv6 subnet if it fits and is free, step 3 a random one.
// Pure: the caller lists the leases and supplies the random source.
import { WeftError } from '../../errors.js';
import { formatCidr, formatIpv4, overlaps, subnetSize, type Subnet4 } from '../../net/ipv4.js';
import { overlaps6, sameSubnet6, type Subnet6 } from '../../net/ipv6.js';
import { NO_SUBNET4 } from '../../net/subnet-key.js';
import { describePool6, pickSubnet6 } from './allocator6.js';
import { subnet6FitsConfig, subnetFitsConfig, type NetworkConfig } from './network-config.js';

/** Flannel collects at most this many free candidates before picking one at random. */
const MAX_CANDIDATES = 100;

export interface HeldSubnet {
  /** undefined for an IPv6-only lease (it holds no IPv4 subnet). */
  readonly subnet: Subnet4 | undefined;
  readonly subnet6?: Subnet6 | undefined;
  /** The lease's owner address (leaseOwnerIp: PublicIP, or PublicIPv6 for an IPv6-only lease). */
  readonly publicIp: string;
}

export interface AllocationInput {
  readonly config: NetworkConfig;
  /** Every lease currently in etcd (ours included). */
  readonly leases: readonly HeldSubnet[];
  /** This node's owner address (leaseOwnerIp of its attributes). */
  readonly publicIp: string;
  /** FLANNEL_SUBNET's network from the previous subnet file, if any. */
  readonly previousSubnet?: Subnet4 | undefined;
  /** FLANNEL_IPV6_SUBNET's network from the previous subnet file, if any. */
  readonly previousSubnet6?: Subnet6 | undefined;
  /** `<prefix>/subnets`, for the exhaustion message. */
  readonly subnetsPrefix: string;
  /** Returns a float in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/** The chosen subnets; `subnet6` is set exactly when the config has EnableIPv6. */
export interface Allocation {
  readonly kind: 'reuse-public-ip' | 'previous-subnet' | 'random';
  /** NO_SUBNET4 when the config is IPv6-only. */
  readonly subnet: Subnet4;
  readonly subnet6?: Subnet6 | undefined;
}

/** Free subnets from SubnetMin upwards, in order, at most `limit`. */
export function freeCandidates(config: NetworkConfig, leases: readonly HeldSubnet[], limit = MAX_CANDIDATES): Subnet4[] {
  const out: Subnet4[] = [];
  const step = subnetSize(config.subnetLen);
  for (let base = config.subnetMin; base <= config.subnetMax && out.length < limit; base += step) {
    const s: Subnet4 = { base, len: config.subnetLen };
    if (!leases.some((l) => l.subnet !== undefined && overlaps(s, l.subnet))) out.push(s);
  }
  return out;
}

/**
 * True when a lease holds what the config asks for: a fitting IPv4 subnet (none when IPv6-only),
 * and an IPv6 one exactly with EnableIPv6.
 */
export function leaseFitsConfig(config: NetworkConfig, l: Pick<HeldSubnet, 'subnet' | 'subnet6'>): boolean {
  const fits4 = config.ipv6Only ? l.subnet === undefined : l.subnet !== undefined && subnetFitsConfig(config, l.subnet);
  return fits4 && subnet6FitsConfig(config.ipv6, l.subnet6);
}

/** Leases holding `publicIp` that no longer fit the config (Flannel deletes these). */
export function staleOwnLeases(input: Pick<AllocationInput, 'config' | 'leases' | 'publicIp'>): HeldSubnet[] {
  return input.leases.filter((l) => l.publicIp === input.publicIp && !leaseFitsConfig(input.config, l));
}

function isFree6(s: Subnet6, leases: readonly HeldSubnet[]): boolean {
  return !leases.some((l) => l.subnet6 !== undefined && overlaps6(s, l.subnet6));
}

/** Chooses the subnets; throws WeftError WEFT_ERR_SUBNETS_EXHAUSTED when a family has none free. */
export function chooseSubnet(input: AllocationInput): Allocation {
  const { config, leases } = input;
  const random = input.random ?? Math.random;
  const mine = leases.find((l) => l.publicIp === input.publicIp && leaseFitsConfig(config, l));
  if (config.ipv6Only) return mine ? { kind: 'reuse-public-ip', subnet: NO_SUBNET4, subnet6: mine.subnet6 } : choose6Only(input, random);
  if (mine?.subnet) return { kind: 'reuse-public-ip', subnet: mine.subnet, subnet6: mine.subnet6 };

  const prev = input.previousSubnet;
  if (prev && subnetFitsConfig(config, prev) && !leases.some((l) => l.subnet !== undefined && overlaps(prev, l.subnet))) {
    return { kind: 'previous-subnet', subnet: prev, subnet6: config.ipv6 ? previousOrRandom6(input, random) : undefined };
  }

  const free = freeCandidates(config, leases);
  if (free.length === 0) {
    throw new WeftError(
      'WEFT_ERR_SUBNETS_EXHAUSTED',
      `no free /${config.subnetLen} left in ${formatCidr(config.network)} between SubnetMin ${formatIpv4(config.subnetMin)} and SubnetMax ${formatIpv4(config.subnetMax)} ` +
        `(${leases.length} leases held); widen Network or delete stale leases with etcdctl del ${input.subnetsPrefix}/<subnet>`,
    );
  }
  const i = Math.min(free.length - 1, Math.floor(random() * free.length));
  const subnet6 = config.ipv6 ? previousOrRandom6({ ...input, previousSubnet6: undefined }, random) : undefined;
  return { kind: 'random', subnet: free[i], subnet6 };
}

/** IPv6-only, no lease of ours: the previous IPv6 subnet if it fits and is free, else a random one. */
function choose6Only(input: AllocationInput, random: () => number): Allocation {
  const subnet6 = previousOrRandom6(input, random);
  const kind = input.previousSubnet6 !== undefined && sameSubnet6(subnet6, input.previousSubnet6) ? 'previous-subnet' : 'random';
  return { kind, subnet: NO_SUBNET4, subnet6 };
}

/** The previous IPv6 subnet when it fits and is free, else a random free one. */
function previousOrRandom6(input: AllocationInput, random: () => number): Subnet6 {
  const pool = input.config.ipv6!;
  const prev = input.previousSubnet6;
  if (prev && subnet6FitsConfig(pool, prev) && isFree6(prev, input.leases)) return prev;
  const picked = pickSubnet6(pool, input.leases.map((l) => l.subnet6), random);
  if (picked) return picked;
  throw new WeftError(
    'WEFT_ERR_SUBNETS_EXHAUSTED',
    `${describePool6(pool)} (${input.leases.length} leases held); widen IPv6Network or delete stale leases with etcdctl del ${input.subnetsPrefix}/<subnet>`,
  );
}

/** True when two allocations name the same lease key. */
export function sameSubnets(a: Pick<Allocation, 'subnet' | 'subnet6'>, b: Pick<Allocation, 'subnet' | 'subnet6'>): boolean {
  return a.subnet.base === b.subnet.base && a.subnet.len === b.subnet.len && sameSubnet6(a.subnet6, b.subnet6);
}
