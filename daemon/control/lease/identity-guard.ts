// Before the keeper takes a lease: is another live weftd using our node name or our public IP?
// Flannel's "reuse the lease holding our PublicIP" is right after a restart or a rename (the old
// process is gone) and wrong when a second node was started with another node's --public-ip: it
// would take over the live node's subnet. A lease only says who wrote it, not whether the writer
// still runs, so the holder is asked directly: a gossip ping addressed to the name in its lease.
// Leases without a gossip port (Flannel nodes) cannot be asked and are reused as Flannel would.
import { formatCidr, sameSubnet } from '../../net/ipv4.js';
import { formatCidr6, sameSubnet6 } from '../../net/ipv6.js';
import { isNoSubnet4, type LeaseSubnets } from '../../net/subnet-key.js';
import { leaseOwnerIp, type OwnLeaseAttrs } from './lease-codec.js';
import type { StoredLease } from './lease-store.js';

export type IdentityKind = 'node_name' | 'public_ip';

/** A weft node as its lease names it. */
export interface LeaseHolder {
  readonly name: string;
  /** The lease's owner address (leaseOwnerIp: PublicIPv6 for an IPv6-only lease), where it gossips. */
  readonly publicIp: string;
  readonly gossipPort: number;
  /** "10.244.1.0/24"; the IPv6 subnet of an IPv6-only lease. */
  readonly subnet: string;
}

export interface IdentityGuard {
  /** Whether a live weftd answers gossip as `holder` (at its public IP and gossip port). */
  alive(holder: LeaseHolder): Promise<boolean>;
  /** Called each time an acquisition is refused because `holder` is alive (the guard logs once). */
  refused(kind: IdentityKind, holder: LeaseHolder): void;
}

export interface IdentityRefusal {
  readonly kind: IdentityKind;
  readonly holder: LeaseHolder;
}

function holderOf(l: StoredLease): LeaseHolder | undefined {
  const { nodeName, gossipPort } = l.attrs;
  const subnet = isNoSubnet4(l.subnet) && l.subnet6 ? formatCidr6(l.subnet6) : formatCidr(l.subnet);
  return nodeName === undefined || gossipPort === undefined ? undefined : { name: nodeName, publicIp: leaseOwnerIp(l.attrs), gossipPort, subnet };
}

/**
 * The first live holder that this node must not displace, if any:
 *   node_name: a lease naming us, at another public IP, whose holder answers (two processes, one name);
 *   public_ip: `reused`, the lease holding our public IP under another name, whose holder answers.
 * A lease naming us at our own public IP is ours (a restart) and is not asked about.
 */
export async function identityRefusal(leases: readonly StoredLease[], self: OwnLeaseAttrs, reused: LeaseSubnets | undefined, guard: IdentityGuard): Promise<IdentityRefusal | undefined> {
  const selfIp = leaseOwnerIp(self);
  for (const l of leases) {
    const h = holderOf(l);
    if (h && h.name === self.nodeName && h.publicIp !== selfIp && (await guard.alive(h))) return { kind: 'node_name', holder: h };
  }
  const r = reused === undefined ? undefined : leases.find((l) => sameSubnet(l.subnet, reused.subnet) && sameSubnet6(l.subnet6, reused.subnet6));
  const h = r && holderOf(r);
  if (h && h.name !== self.nodeName && (await guard.alive(h))) return { kind: 'public_ip', holder: h };
  return undefined;
}
