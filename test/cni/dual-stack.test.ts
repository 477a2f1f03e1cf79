// weft-cni with IPv6 in the subnet file, driven as a runtime drives it, with Debian's bridge and
// host-local in /usr/lib/cni: dual-stack (both families) and IPv6-only nodes, each in a node
// namespace of its own holding cni0, one namespace per pod. IPv6 is switched on inside each test
// namespace (bridge needs it); nothing outside them is touched.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns, enableIpv6 } from '../helpers/netns.js';
import { type CniSandbox, cni, cniOk, startNode, stopNode, waitPing } from '../helpers/cni-runner.js';

const V6_NETWORK = 'fd00:10:244::/56';
const V6_SUBNET = 'fd00:10:244:1::1/64';
const V6_GW = 'fd00:10:244:1::1';

let dual: { node: Netns; box: CniSandbox };
let v6only: { node: Netns; box: CniSandbox };

async function newPod(): Promise<Netns> {
  return enableIpv6(await createNetns('pod'));
}

beforeAll(async () => {
  dual = await startNode();
  await enableIpv6(dual.node);
  dual.box.writeSubnetEnv({ subnet: '10.244.1.1/24', ipv6Network: V6_NETWORK, ipv6Subnet: V6_SUBNET });
  v6only = await startNode();
  await enableIpv6(v6only.node);
  v6only.box.writeSubnetEnv({ ipv4: false, ipv6Network: V6_NETWORK, ipv6Subnet: V6_SUBNET });
});
afterAll(async () => {
  await stopNode(dual?.node, dual?.box);
  await stopNode(v6only?.node, v6only?.box);
});

/** host-local's leases: file name (the address) → owning container ID. */
function leases(box: CniSandbox): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(box.leaseDir)) return out;
  for (const n of readdirSync(box.leaseDir)) if (/[.:]/.test(n) && !n.startsWith('last_reserved_ip')) out.set(n, readFileSync(join(box.leaseDir, n), 'utf8').split(/\r?\n/)[0]);
  return out;
}

const bare = (cidr: string): string => cidr.split('/')[0];
const v6Of = (result: any): any => result.ips.find((i: any) => i.address.includes(':'));
const v4Of = (result: any): any => result.ips.find((i: any) => !i.address.includes(':'));

async function podAddrs(pod: Netns): Promise<string[]> {
  const [eth0] = JSON.parse(await pod.ip('-j', 'addr', 'show', 'dev', 'eth0'));
  return eth0.addr_info.filter((a: any) => a.scope === 'global').map((a: any) => `${a.local}/${a.prefixlen}`);
}

describe('weft-cni dual-stack', () => {
  it('ADD gives eth0 an address of each family, both gateways on cni0 and a route to each cluster network', async () => {
    const { node, box } = dual;
    const pod = await newPod();
    const result = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'ds-a', pod, node });

    expect(result.ips).toHaveLength(2);
    expect(v4Of(result)).toMatchObject({ address: expect.stringMatching(/^10\.244\.1\.\d+\/24$/), gateway: '10.244.1.1' });
    expect(v6Of(result)).toMatchObject({ address: expect.stringMatching(/^fd00:10:244:1::[0-9a-f]+\/64$/), gateway: V6_GW });
    expect(result.routes).toEqual([
      { dst: '10.244.0.0/16', gw: '10.244.1.1' },
      { dst: V6_NETWORK, gw: V6_GW },
    ]);

    expect((await podAddrs(pod)).sort()).toEqual([v4Of(result).address, v6Of(result).address].sort());
    expect(await pod.ip('route', 'show', '10.244.0.0/16')).toContain('via 10.244.1.1 dev eth0');
    expect(await pod.ip('-6', 'route', 'show', V6_NETWORK)).toContain(`via ${V6_GW} dev eth0`);
    const bridge = JSON.parse(await node.ip('-j', 'addr', 'show', 'dev', 'cni0'))[0];
    expect(bridge.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['10.244.1.1/24', `${V6_GW}/64`]));
    await waitPing(node, bare(v6Of(result).address));
    await waitPing(node, bare(v4Of(result).address));
    expect([...leases(box)]).toEqual(expect.arrayContaining([[bare(v4Of(result).address), 'ds-a'], [bare(v6Of(result).address), 'ds-a']]));
    expect(leases(box).size).toBe(2);

    // CHECK passes, then fails once the IPv6 address is gone, naming it.
    await cniOk({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'ds-a', pod, node });
    await pod.ip('addr', 'del', v6Of(result).address, 'dev', 'eth0');
    const check = await cni({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'ds-a', pod, node });
    expect(check.exit).toBe(1);
    expect(check.json.msg).toMatch(/^bridge CHECK failed: .*fd00:10:244:1::[0-9a-f]+.*recreate the pod\)$/);

    // DEL releases both addresses and the state, and may be repeated.
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: result }), containerId: 'ds-a', pod, node });
    expect(leases(box).size).toBe(0);
    expect(existsSync(join(box.dataDir, 'attachments', 'ds-a@eth0'))).toBe(false);
    expect(await pod.ip('link', 'show')).not.toContain('eth0');
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: result }), containerId: 'ds-a', pod, node });
    await pod.destroy();
  });

  it('0.4.0 results carry version "4" and "6"; CHECK refuses a pod whose IPv6 subnet the node no longer holds, or no longer has', async () => {
    const { node, box } = dual;
    const pod = await newPod();
    const result = await cniOk({ command: 'ADD', conf: box.conf({ cniVersion: '0.4.0' }), containerId: 'ds-b', pod, node });
    expect(result.ips.map((i: any) => i.version).sort()).toEqual(['4', '6']);
    await cniOk({ command: 'CHECK', conf: box.conf({ cniVersion: '0.4.0', prevResult: result }), containerId: 'ds-b', pod, node });

    box.writeSubnetEnv({ subnet: '10.244.1.1/24', ipv6Network: V6_NETWORK, ipv6Subnet: 'fd00:10:244:2::1/64' });
    try {
      const check = await cni({ command: 'CHECK', conf: box.conf({ cniVersion: '0.4.0', prevResult: result }), containerId: 'ds-b', pod, node });
      expect(check.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^pod was wired in subnet fd00:10:244:1::\/64, but this node now holds fd00:10:244:2::\/64 /) });
      box.writeSubnetEnv({ subnet: '10.244.1.1/24' });
      const gone = await cni({ command: 'CHECK', conf: box.conf({ cniVersion: '0.4.0', prevResult: result }), containerId: 'ds-b', pod, node });
      expect(gone.json).toMatchObject({ code: 7, msg: expect.stringMatching(/^pod was wired in subnet fd00:10:244:1::\/64, but this node's subnet file no longer has an IPv6 subnet /) });
    } finally {
      box.writeSubnetEnv({ subnet: '10.244.1.1/24', ipv6Network: V6_NETWORK, ipv6Subnet: V6_SUBNET });
    }
    await cniOk({ command: 'DEL', conf: box.conf({ cniVersion: '0.4.0', prevResult: result }), containerId: 'ds-b', pod, node });
    expect(leases(box).size).toBe(0);
    await pod.destroy();
  });

  it('GC frees both addresses of stale and orphaned attachments and keeps the listed one', async () => {
    const { node, box } = dual;
    const ids = ['gc-keep', 'gc-stale', 'gc-orphan'];
    const pods = await Promise.all(ids.map(() => newPod()));
    const results: any[] = [];
    for (let i = 0; i < ids.length; i++) results.push(await cniOk({ command: 'ADD', conf: box.conf(), containerId: ids[i], pod: pods[i], node }));
    expect([...leases(box).values()].sort()).toEqual(['gc-keep', 'gc-keep', 'gc-orphan', 'gc-orphan', 'gc-stale', 'gc-stale']);
    rmSync(join(box.dataDir, 'attachments', 'gc-orphan@eth0')); // state lost: only the lease sweep can free it

    await cniOk({ command: 'GC', conf: box.conf({ 'cni.dev/valid-attachments': [{ containerID: 'gc-keep', ifname: 'eth0' }] }), node });
    expect([...leases(box)].sort()).toEqual(results[0].ips.map((i: any) => [bare(i.address), 'gc-keep']).sort());
    expect(await pods[1].ip('link', 'show')).not.toContain('eth0');
    expect(readdirSync(join(box.dataDir, 'attachments'))).toEqual(['gc-keep@eth0']);
    await waitPing(node, bare(v6Of(results[0]).address));

    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: results[0] }), containerId: 'gc-keep', pod: pods[0], node });
    expect(leases(box).size).toBe(0);
    await Promise.all(pods.map((p) => p.destroy()));
  });

  it('STATUS succeeds with a dual-stack subnet file', async () => {
    await cniOk({ command: 'STATUS', conf: dual.box.conf(), node: dual.node });
  });
});

describe('weft-cni IPv6-only (no FLANNEL_NETWORK / FLANNEL_SUBNET)', () => {
  it('ADD, CHECK (and a missing address), DEL, GC and STATUS with IPv6 alone', async () => {
    const { node, box } = v6only;
    const pod = await newPod();
    const result = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'v6-a', pod, node });
    expect(result.ips).toEqual([{ address: expect.stringMatching(/^fd00:10:244:1::[0-9a-f]+\/64$/), gateway: V6_GW, interface: 2 }]);
    expect(result.routes).toEqual([{ dst: V6_NETWORK, gw: V6_GW }]);
    const addr = result.ips[0].address;
    expect(await podAddrs(pod)).toEqual([addr]);
    expect(await pod.ip('-6', 'route', 'show', V6_NETWORK)).toContain(`via ${V6_GW} dev eth0`);
    await waitPing(node, bare(addr));

    await cniOk({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'v6-a', pod, node });
    await pod.ip('addr', 'del', addr, 'dev', 'eth0');
    const check = await cni({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'v6-a', pod, node });
    expect(check.exit).toBe(1);
    expect(check.json.msg).toMatch(/^bridge CHECK failed: /);
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: result }), containerId: 'v6-a', pod, node });
    expect(leases(box).size).toBe(0);

    const stale = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'v6-stale', pod, node });
    expect([...leases(box)]).toEqual([[bare(stale.ips[0].address), 'v6-stale']]);
    await cniOk({ command: 'GC', conf: box.conf({ 'cni.dev/valid-attachments': [] }), node });
    expect(leases(box).size).toBe(0);
    expect(await pod.ip('link', 'show')).not.toContain('eth0');

    await cniOk({ command: 'STATUS', conf: box.conf(), node });
    await pod.destroy();
  });
});
