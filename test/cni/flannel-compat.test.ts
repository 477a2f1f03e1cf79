// Flannel's expectations hold: a subnet.env exactly as flanneld writes it (here dual-stack, with
// FLANNEL_IPMASQ=false) drives weft-cni through the shipped deploy/10-weft.conflist, as a runtime
// would call its first plugin: cniVersion and name from the list, the plugin's own keys.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { type CniSandbox, ROOT, cniOk, startNode, stopNode } from '../helpers/cni-runner.js';

let node: Netns;
let box: CniSandbox;

beforeAll(async () => {
  ({ node, box } = await startNode());
  await enableIpv6(node);
});
afterAll(() => stopNode(node, box));

describe('weft-cni with a flanneld subnet.env and the shipped conflist', () => {
  it('wires a pod: both families, MTU, default and cluster routes via each gateway, masquerade (both families) when flanneld does not', async () => {
    writeFileSync(
      box.subnetFile,
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.12.1/24\nFLANNEL_IPV6_NETWORK=fd00:10:244::/56\nFLANNEL_IPV6_SUBNET=fd00:10:244:c::1/64\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=false\n',
    );
    const list = JSON.parse(readFileSync(join(ROOT, 'deploy/10-weft.conflist'), 'utf8'));
    expect(list.plugins.map((p: { type: string }) => p.type)).toEqual(['weft', 'portmap']);
    const conf = { cniVersion: list.cniVersion, name: list.name, ...list.plugins[0], subnetFile: box.subnetFile, dataDir: box.dataDir, readyzURL: '' };

    const pod = await enableIpv6(await createNetns('pod'));
    const res = await cniOk({ command: 'ADD', conf, containerId: 'flannel-compat', pod, node });
    expect(res.ips.map((i: { address: string }) => i.address)).toEqual([expect.stringMatching(/^10\.244\.12\.\d+\/24$/), expect.stringMatching(/^fd00:10:244:c::[0-9a-f]+\/64$/)]);
    expect(JSON.parse(await pod.ip('-j', 'link', 'show', 'dev', 'eth0'))[0].mtu).toBe(1400);
    const routes = await pod.ip('route', 'show');
    expect(routes).toContain('default via 10.244.12.1 dev eth0');
    expect(routes).toContain('10.244.0.0/16 via 10.244.12.1 dev eth0');
    const routes6 = await pod.ip('-6', 'route', 'show');
    expect(routes6).toContain('default via fd00:10:244:c::1 dev eth0');
    expect(routes6).toContain('fd00:10:244::/56 via fd00:10:244:c::1 dev eth0');
    expect(await node.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING'])).toMatch(/-s 10\.244\.12\.\d+\/32 .*-j CNI-/);
    expect(await node.exec('ip6tables', ['-t', 'nat', '-S', 'POSTROUTING'])).toMatch(/-s fd00:10:244:c::[0-9a-f]+\/128 .*-j CNI-/);

    await cniOk({ command: 'CHECK', conf: { ...conf, prevResult: res }, containerId: 'flannel-compat', pod, node });
    await cniOk({ command: 'DEL', conf: { ...conf, prevResult: res }, containerId: 'flannel-compat', pod, node });
    expect(await node.exec('iptables', ['-t', 'nat', '-S', 'POSTROUTING'])).not.toMatch(/-j CNI-/);
    expect(await node.exec('ip6tables', ['-t', 'nat', '-S', 'POSTROUTING'])).not.toMatch(/-j CNI-/);
    await pod.destroy();
  });
});
