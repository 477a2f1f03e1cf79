// An IPv6-only mixed lab (`up 3 --kind mixed --ipv6-only`): weft, a Flannel-style kernel node
// (flannel-v6.1 alone), weft, over an IPv6 underlay alone. weftd leases Flannel's IPv6-only key and
// every pod reaches every other over IPv6, ping and TCP both ways (weft↔weft over weft's IPv6
// underlay, weft↔kernel as flannel-v6.1 expects it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.js';
import { formatStatus } from '../../lab/report.js';
import type { PodRecord } from '../../lab/state.js';
import { everyPairTalks, labWithPods } from '../helpers/lab-traffic.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

describe('lab: IPv6-only, weft and kernel VXLAN nodes mixed', () => {
  let lab: Lab;
  let pods: PodRecord[];

  beforeAll(async () => {
    requireRoot();
    ({ lab, pods } = await labWithPods({ prefix: `${ownPrefix()}w6-`, ipv6Only: true }, ['weft', 'kernel', 'weft']));
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('weftd holds an IPv6-only lease (no IPv4 subnet) with its IPv6 underlay address and VTEP', async () => {
    const leases = await lab.leases();
    for (const node of [lab.node('node1'), lab.node('node3')]) {
      expect(node.subnet).toBeUndefined();
      const lease = leases.find((l) => l.subnet6 === node.subnet6);
      expect(lease).toEqual(expect.objectContaining({ nodeName: node.name, publicIp: '0.0.0.0', publicIpv6: node.underlayIp6, vni6: 1, vtepMac6: node.vtepMac6 }));
      expect(lease).not.toHaveProperty('subnet');
    }
    for (const pod of pods) expect(pod.ip).toBe(pod.ip6);
  });

  it('every pod reaches every other over IPv6: ping and TCP both ways', async () => {
    expect(await everyPairTalks(pods, [6])).toEqual([]);
  });

  it('status shows IPv6 alone: weftd\'s peers by IPv6 subnet, the kernel node\'s flannel-v6.1 routes', async () => {
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => lab.node(n));
    const st = await lab.status();
    const peers = (name: string): string[] => st.nodes.find((n) => n.name === name)?.peers ?? [];
    for (const other of [n2, n3]) expect(peers('node1').some((p) => p.startsWith(`${other.subnet6} (`)), `${other.name} in ${peers('node1').join(', ')}`).toBe(true);
    expect([...peers('node2')].sort()).toEqual([n1.subnet6, n3.subnet6].sort());
    expect(formatStatus(st)).not.toMatch(/198\.18\.|10\.244\./);
  });
});
