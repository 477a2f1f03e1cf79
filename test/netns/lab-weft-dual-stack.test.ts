// A dual-stack lab of weft nodes (`up 2 --kind weft --dual-stack`): weftd leases both families and
// advertises its IPv6 underlay address (--public-ipv6), pods get both families through weft-cni,
// and every pod reaches every other over IPv4 and IPv6 (weft carries IPv6 between weft nodes over
// the IPv4 underlay), ping and TCP both ways, 64 MiB over IPv6 intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../../lab/lab.js';
import { addressOf, tcpExchange, waitReachable } from '../../lab/probe.js';
import { formatStatus } from '../../lab/report.js';
import type { PodRecord } from '../../lab/state.js';
import { everyPairTalks, labWithPods } from '../helpers/lab-traffic.js';
import { ownPrefix } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

describe('lab: dual-stack, two weft nodes', () => {
  let lab: Lab;
  let pods: PodRecord[];

  beforeAll(async () => {
    requireRoot();
    ({ lab, pods } = await labWithPods({ prefix: `${ownPrefix()}ws-`, dualStack: true }, ['weft', 'weft']));
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('weftd holds a dual-stack lease advertising its IPv6 underlay address and IPv6 VTEP', async () => {
    const leases = await lab.leases();
    for (const node of lab.nodes) {
      expect(node.subnet6).toMatch(/^fd00:10:244:[0-9a-f]{1,2}::\/64$/);
      expect(leases).toContainEqual(expect.objectContaining({ subnet: node.subnet, subnet6: node.subnet6, publicIp: node.underlayIp, publicIpv6: node.underlayIp6, vni6: 1, vtepMac6: node.vtepMac6 }));
      expect(node.vtepMac6).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    }
    for (const pod of pods) expect(addressOf(pod, 6).startsWith(lab.node(pod.node).subnet6!.replace('::/64', '::'))).toBe(true);
  });

  it('every pod reaches every other over IPv4 and IPv6: ping and TCP both ways', async () => {
    expect(await everyPairTalks(pods, [6, 4])).toEqual([]);
  });

  it('carries 64 MiB over IPv6 with every byte intact', async () => {
    const [a, b] = pods;
    await waitReachable(a.ns, addressOf(b, 6));
    await expect(tcpExchange(a.ns, b.ns, addressOf(b, 6), 64 << 20)).resolves.toMatchObject({ bytes: 64 << 20 });
  });

  it('status shows both families of every node, lease and pod', async () => {
    const text = formatStatus(await lab.status());
    for (const n of lab.nodes) expect(text).toMatch(new RegExp(`${n.name}\\s+weft\\s+${n.underlayIp} ${n.underlayIp6}\\s+${n.subnet} ${n.subnet6}\\s+weftd running`));
    for (const p of pods) expect(text).toMatch(new RegExp(`${p.name}\\s+${p.node}\\s+${p.ip} ${p.ip6}`));
  });
});
