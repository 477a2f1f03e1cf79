// The last path element of a Flannel lease key (`<prefix>/subnets/<name>`), both families, as
// Flannel's MakeSubnetKey writes it and ParseSubnetKey reads it:
//   IPv4            10.244.1.0-24
//   dual-stack      10.244.1.0-24&fd00:10:244:1::-64
//   IPv6-only       0.0.0.0-0&fd00:10:244:1::-64   (Flannel's empty IPv4 subnet is 0.0.0.0/0, and
//                                                   its key regex needs the IPv4 part, so a name of
//                                                   the IPv6 part alone is one Flannel skips)
// Each half is parsed by its family's subnet rules (ipv4.ts, ipv6.ts). No third-party imports.
import { parseSubnetKeyName, subnetKeyName, type Subnet4 } from './ipv4.js';
import { parseSubnetKeyName6, subnetKeyName6, type Subnet6 } from './ipv6.js';

/** What a lease key names: the IPv4 subnet (0.0.0.0/0 when IPv6-only) and the IPv6 one, if any. */
export interface LeaseSubnets {
  readonly subnet: Subnet4;
  readonly subnet6?: Subnet6 | undefined;
}

/** Flannel's empty IP4Net: the IPv4 half of an IPv6-only lease. */
export const NO_SUBNET4: Subnet4 = Object.freeze({ base: 0, len: 0 });

export function isNoSubnet4(s: Subnet4): boolean {
  return s.base === 0 && s.len === 0;
}

export function leaseKeyName(s: LeaseSubnets): string {
  const v4 = subnetKeyName(s.subnet);
  return s.subnet6 ? `${v4}&${subnetKeyName6(s.subnet6)}` : v4;
}

/**
 * Parses the last path element of a lease key (`…/subnets/<name>`); null when either half breaks
 * its family's rules, and for `0.0.0.0-0` without an IPv6 half (Flannel never writes one).
 */
export function parseLeaseKeyName(key: string): { readonly subnet: Subnet4; readonly subnet6: Subnet6 | undefined } | null {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const amp = name.indexOf('&');
  const subnet = parseSubnetKeyName(amp < 0 ? name : name.slice(0, amp));
  if (!subnet) return null;
  if (amp < 0) return isNoSubnet4(subnet) ? null : { subnet, subnet6: undefined };
  const subnet6 = parseSubnetKeyName6(name.slice(amp + 1));
  return subnet6 ? { subnet, subnet6 } : null;
}
