// A lab pod's link MTU raised past the overlay's (both ends of its veth), so that it can send a
// packet larger than the path carries and see what answers it (Packet Too Big, fragmentation needed).
import type { Lab } from '../../lab/lab.js';
import type { NodeRecord, PodRecord } from '../../lab/state.js';

/** Sets the MTU of `pod`'s eth0 and of its peer on `node` (found by ifindex). */
export async function setPodMtu(lab: Lab, pod: PodRecord, node: NodeRecord, mtu: number): Promise<void> {
  const peer = /eth0@if(\d+)/.exec(await lab.exec(pod.ns, 'ip', ['-o', 'link', 'show', 'eth0']))?.[1];
  const line = (await lab.exec(node.ns, 'ip', ['-o', 'link'])).split('\n').find((l) => l.startsWith(`${peer}: `));
  const name = /^\d+: ([^@:]+)/.exec(line ?? '')?.[1];
  if (!name) throw new Error(`no host veth for ${pod.name}`);
  await lab.exec(node.ns, 'ip', ['link', 'set', 'dev', name, 'mtu', String(mtu)]);
  await lab.exec(pod.ns, 'ip', ['link', 'set', 'dev', 'eth0', 'mtu', String(mtu)]);
}
