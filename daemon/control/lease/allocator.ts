// Subnet choice for a new or restarted node, as Flannel's LocalManager.tryAcquireLease:
//   1. a lease that already holds our PublicIP and still fits the config is reused;
//   2. else the subnet from the previous subnet file, if it fits and nobody holds it;
//   3. else a uniformly random pick among the first 100 free subnets walking SubnetMin..SubnetMax.
// Pure: the caller lists the leases and supplies the random source.
import { WeftError } from '../../errors.js';
import { formatCidr, formatIpv4, overlaps, subnetSize, type Subnet4 } from '../../net/ipv4.js';
import { subnetFitsConfig, type NetworkConfig } from './network-config.js';

/** Flannel collects at most this many free candidates before picking one at random. */
const MAX_CANDIDATES = 100;

export interface HeldSubnet {
  readonly subnet: Subnet4;
  readonly publicIp: string;
}

export interface AllocationInput {
  readonly config: NetworkConfig;
  /** Every lease currently in etcd (ours included). */
  readonly leases: readonly HeldSubnet[];
  readonly publicIp: string;
  /** FLANNEL_SUBNET's network from the previous subnet file, if any. */
  readonly previousSubnet?: Subnet4 | undefined;
  /** `<prefix>/subnets`, for the exhaustion message. */
  readonly subnetsPrefix: string;
  /** Returns a float in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

export type Allocation =
  | { readonly kind: 'reuse-public-ip'; readonly subnet: Subnet4 }
  | { readonly kind: 'previous-subnet'; readonly subnet: Subnet4 }
  | { readonly kind: 'random'; readonly subnet: Subnet4 };

/** Free subnets from SubnetMin upwards, in order, at most `limit`. */
export function freeCandidates(config: NetworkConfig, leases: readonly HeldSubnet[], limit = MAX_CANDIDATES): Subnet4[] {
  const out: Subnet4[] = [];
  const step = subnetSize(config.subnetLen);
  for (let base = config.subnetMin; base <= config.subnetMax && out.length < limit; base += step) {
    const s: Subnet4 = { base, len: config.subnetLen };
    if (!leases.some((l) => overlaps(s, l.subnet))) out.push(s);
  }
  return out;
}

/** Leases holding `publicIp` that no longer fit the config (Flannel deletes these). */
export function staleOwnLeases(input: Pick<AllocationInput, 'config' | 'leases' | 'publicIp'>): HeldSubnet[] {
  return input.leases.filter((l) => l.publicIp === input.publicIp && !subnetFitsConfig(input.config, l.subnet));
}

/** Chooses a subnet; throws WeftError WEFT_ERR_SUBNETS_EXHAUSTED when none is free. */
export function chooseSubnet(input: AllocationInput): Allocation {
  const { config, leases } = input;
  const mine = leases.find((l) => l.publicIp === input.publicIp && subnetFitsConfig(config, l.subnet));
  if (mine) return { kind: 'reuse-public-ip', subnet: mine.subnet };

  const prev = input.previousSubnet;
  if (prev && subnetFitsConfig(config, prev) && !leases.some((l) => overlaps(prev, l.subnet))) {
    return { kind: 'previous-subnet', subnet: prev };
  }

  const free = freeCandidates(config, leases);
  if (free.length === 0) {
    throw new WeftError(
      'WEFT_ERR_SUBNETS_EXHAUSTED',
      `no free /${config.subnetLen} left in ${formatCidr(config.network)} between SubnetMin ${formatIpv4(config.subnetMin)} and SubnetMax ${formatIpv4(config.subnetMax)} ` +
        `(${leases.length} leases held); widen Network or delete stale leases with etcdctl del ${input.subnetsPrefix}/<subnet>`,
    );
  }
  const random = input.random ?? Math.random;
  const i = Math.min(free.length - 1, Math.floor(random() * free.length));
  return { kind: 'random', subnet: free[i] };
}
