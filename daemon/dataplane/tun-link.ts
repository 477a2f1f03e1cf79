// The TUN link's wanted state, one rule for every place that sets or repairs it: Dataplane.open()
// applies it with ioctls, the control plane's reconcile restores it with `ip` after a reattach and
// every --link-resync period. IPv6 is off on it: turned off before the link goes up, and turned
// off again by reconcile when something turned it on (disableIpv6, ipv6Enabled).
import { readFileSync, writeFileSync } from 'node:fs';

/** What the TUN must look like: up, this MTU, exactly this address and this main-table route. */
export interface TunLink {
  readonly name: string;
  /** Inner MTU: underlay MTU − OVERHEAD. */
  readonly mtu: number;
  /** This node's subnet address as a host route: '10.244.3.0/32' for the lease 10.244.3.0/24. */
  readonly address: string;
  /** The overlay Network, routed through the TUN with no gateway and metric 0: '10.244.0.0/16'. */
  readonly network: string;
}

/**
 * The wanted state for a TUN named `name` carrying `network` for the lease `localSubnet`. Both
 * are canonical CIDRs already validated by the caller (host bits zero, no leading zeros), so the
 * address is the lease's base written as a /32.
 */
export function tunLink(name: string, mtu: number, network: string, localSubnet: string): TunLink {
  return { name, mtu, address: `${localSubnet.slice(0, localSubnet.indexOf('/'))}/32`, network };
}

const ipv6Switch = (name: string): string => `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;

/**
 * The overlay carries IPv4 only. Before the link goes up, IPv6 is turned off on it, or the kernel
 * sends router solicitations and MLD reports into the TUN that could only be counted as drops.
 * Best effort: a kernel without IPv6 has nothing to turn off.
 */
export function disableIpv6(name: string): void {
  try {
    writeFileSync(ipv6Switch(name), '1');
  } catch {
    // no IPv6 in this kernel or namespace
  }
}

/** Whether IPv6 is on for `name` in this namespace; false when off or without IPv6 in the kernel. */
export function ipv6Enabled(name: string): boolean {
  try {
    return readFileSync(ipv6Switch(name), 'utf8').trim() === '0';
  } catch {
    return false;
  }
}
