// The TUN link's wanted state, one rule for every place that sets or repairs it: Dataplane.open()
// applies it with ioctls, the control plane's reconcile restores it with `ip` after a reattach and
// every --link-resync period. IPv4 only: IPv6 is off on it, turned off before the link goes up and
// again by reconcile when something turned it on (disableIpv6, ipv6Enabled). Dual-stack: IPv6 is
// on but quiet (quietIpv6: no address autoconfiguration, DAD, router solicitations or RAs, so the
// kernel sends nothing of its own into the TUN), with the IPv6 subnet's network address as a /128
// and the IPv6 Network routed through the TUN, as Flannel sets up flannel-v6.1; both are added by
// reconcile (`ip`), which the control plane runs right after open().
import { readFileSync, writeFileSync } from 'node:fs';
import { WeftError } from '../errors.js';

/** What the TUN must look like: up, this MTU, exactly this address and this main-table route. */
export interface TunLink {
  readonly name: string;
  /** Inner MTU: underlay MTU − OVERHEAD. */
  readonly mtu: number;
  /** This node's subnet address as a host route: '10.244.3.0/32' for the lease 10.244.3.0/24; absent (with network) in an IPv6-only network: no IPv4 on the TUN. */
  readonly address?: string;
  /** The overlay Network, routed through the TUN with no gateway and metric 0: '10.244.0.0/16'. */
  readonly network?: string;
  /** Dual-stack: this node's IPv6 subnet address as a /128 ('fd00:10:244:1::/128') and the IPv6 Network routed through the TUN. */
  readonly address6?: string;
  readonly network6?: string;
}

/**
 * The wanted state for a TUN named `name` carrying `network` for the lease `localSubnet`. Both
 * are canonical CIDRs already validated by the caller (host bits zero, no leading zeros), so the
 * address is the lease's base written as a /32.
 */
export function tunLink(name: string, mtu: number, network: string, localSubnet: string, v6?: { readonly network6: string; readonly localSubnet6: string }): TunLink {
  const six = v6 === undefined ? {} : ipv6Half(v6);
  return { name, mtu, address: `${localSubnet.slice(0, localSubnet.indexOf('/'))}/32`, network, ...six };
}

/** The wanted state of the TUN in an IPv6-only network: tunLink's IPv6 half, and no IPv4 address or route. */
export function tunLink6Only(name: string, mtu: number, v6: { readonly network6: string; readonly localSubnet6: string }): TunLink {
  return { name, mtu, ...ipv6Half(v6) };
}

function ipv6Half(v6: { readonly network6: string; readonly localSubnet6: string }): { address6: string; network6: string } {
  return { address6: `${v6.localSubnet6.slice(0, v6.localSubnet6.indexOf('/'))}/128`, network6: v6.network6 };
}

/**
 * sysctl → value that keeps IPv6 on the TUN quiet: no link-local or other generated address
 * (addr_gen_mode 1 = none), no duplicate address detection, no router solicitations, RAs ignored,
 * and host behaviour on this interface (forwarding 0: the all-routers groups are left, so no MLD
 * reports; IPv6 forwarding between interfaces is net.ipv6.conf.all.forwarding's, unchanged). MLDv1
 * (force_mld_version 1) first: leaving a group never reported sends nothing, where MLDv2 would
 * queue state-change reports for the TUN's first moments up. In this order.
 */
export const QUIET_IPV6: Readonly<Record<string, string>> = { addr_gen_mode: '1', accept_dad: '0', dad_transmits: '0', router_solicitations: '0', accept_ra: '0', force_mld_version: '1', forwarding: '0', disable_ipv6: '0' };

const ipv6Conf = (name: string, key: string): string => `/proc/sys/net/ipv6/conf/${name}/${key}`;

/**
 * Dual-stack: IPv6 on for `name`, quiet (QUIET_IPV6), set before the link goes up (disable_ipv6
 * last). Throws WEFT_ERR_TUN when a switch cannot be written (no IPv6 in this kernel or namespace:
 * the network config asks for it).
 */
export function quietIpv6(name: string): void {
  for (const [key, value] of Object.entries(QUIET_IPV6)) {
    try {
      writeFileSync(ipv6Conf(name, key), value);
    } catch (err) {
      throw new WeftError('WEFT_ERR_TUN', `cannot set ${ipv6Conf(name, key)} to ${value} (EnableIPv6 needs IPv6 in the kernel and this network namespace): ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The QUIET_IPV6 keys whose value differs on `name` (all of them without IPv6 in the kernel). */
export function ipv6NotQuiet(name: string): string[] {
  return Object.entries(QUIET_IPV6)
    .filter(([key, value]) => {
      try {
        return readFileSync(ipv6Conf(name, key), 'utf8').trim() !== value;
      } catch {
        return true;
      }
    })
    .map(([key]) => key);
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
