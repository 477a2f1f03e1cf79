// Network namespaces for tests, on the lab's (lab/netns.ts). Every name starts with ownPrefix()
// (unique to this process), so cleanup and the leak check only ever touch namespaces this test file
// created.
import { addNetns, destroyNetns, listNetns, type Netns } from '../../lab/netns.js';
import { requireRoot } from './root.js';

/** Every test namespace name begins with this; the leftover sweep in global-setup relies on it. */
export const TEST_NETNS_PREFIX = 'wt';

export function ownPrefix(pid = process.pid): string {
  return `${TEST_NETNS_PREFIX}${pid}-`;
}

let counter = 0;

/** Creates `<prefix><label>-<n>` with loopback up. */
export function createNetns(label: string): Promise<Netns> {
  requireRoot();
  return addNetns(`${ownPrefix()}${label}${++counter}`.slice(0, 60));
}

/** Namespaces created by this process that still exist. */
export function ownNetns(): string[] {
  return listNetns().filter((n) => n.startsWith(ownPrefix()));
}

export async function destroyAllOwnNetns(): Promise<void> {
  for (const n of ownNetns()) await destroyNetns(n);
}

/** Switches IPv6 on inside `ns` (bridge and IPv6 pod addresses need it), whatever the host's defaults. */
export async function enableIpv6(ns: Netns): Promise<Netns> {
  await ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=0', 'net.ipv6.conf.default.disable_ipv6=0']);
  return ns;
}
