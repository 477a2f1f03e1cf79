// A dual-stack mixed lab (`up 3 --kind mixed --dual-stack`): weft, a Flannel-style kernel node
// (flannel.1 and flannel-v6.1), weft. Every pod reaches every other over IPv4 and IPv6, ping and TCP
// both ways: weft↔weft over weft's IPv4 underlay, weft↔kernel as flannel-v6.1 expects it (UDP over
// IPv6 to PublicIPv6, port 8472, the v6 VtepMAC).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.js';
import type { PodRecord } from '../../lab/state.js';
import { everyPairTalks, labWithPods } from '../helpers/lab-traffic.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

describe('lab: dual-stack, weft and kernel VXLAN nodes mixed', () => {
  let lab: Lab;
  let pods: PodRecord[];

  beforeAll(async () => {
    requireRoot();
    ({ lab, pods } = await labWithPods({ prefix: `${ownPrefix()}wm-`, dualStack: true }, ['weft', 'kernel', 'weft']));
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('the kernel node routes to the weft nodes IPv6 subnets over flannel-v6.1', async () => {
    const routes = await lab.exec(lab.node('node2').ns, 'ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1']);
    for (const n of [lab.node('node1'), lab.node('node3')]) expect(routes).toContain(`${n.subnet6} via ${n.subnet6!.split('/')[0]} metric 1024 onlink`);
  });

  it('every pod reaches every other over IPv6 and IPv4: ping and TCP both ways', async () => {
    expect(await everyPairTalks(pods, [6, 4])).toEqual([]);
  });

  it('status names both subnets of every peer: weftd\'s peers with their IPv6 subnet, flannel.1 and flannel-v6.1 routes', async () => {
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => lab.node(n));
    const st = await lab.status();
    const peers = (name: string): string[] => st.nodes.find((n) => n.name === name)?.peers ?? [];
    expect(peers('node1')).toContain(`${n2.subnet} ${n2.subnet6} (lease-only)`);
    expect(peers('node1').some((p) => p.startsWith(`${n3.subnet} ${n3.subnet6} (`))).toBe(true);
    expect([...peers('node2')].sort()).toEqual([n1.subnet, n3.subnet, n1.subnet6, n3.subnet6].sort());
  });
});
