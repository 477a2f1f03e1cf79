// weft-cni ADD / CHECK / DEL as a runtime drives them, with Debian's bridge and host-local in
// /usr/lib/cni, a node namespace holding cni0 and one namespace per pod.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { type CniSandbox, cni, cniOk, startNode, stopNode, waitPing } from '../helpers/cni-runner.js';

let node: Netns;
let box: CniSandbox;

beforeAll(async () => {
  ({ node, box } = await startNode());
  box.writeSubnetEnv({ network: '10.244.0.0/16', subnet: '10.244.1.1/24', mtu: 1450, ipMasq: true });
});
afterAll(() => stopNode(node, box));

function leases(): string[] {
  return existsSync(box.leaseDir) ? readdirSync(box.leaseDir).filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n)) : [];
}

describe('weft-cni ADD, CHECK, DEL', () => {
  it('ADD wires eth0 with an address in the node subnet, a route to the cluster network via the gateway, and FLANNEL_MTU', async () => {
    const pod = await createNetns('pod');
    const result = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'pod-a', pod, node });

    expect(result.cniVersion).toBe('1.1.0');
    const [ip] = result.ips;
    expect(ip.address).toMatch(/^10\.244\.1\.\d+\/24$/);
    expect(ip.gateway).toBe('10.244.1.1');
    expect(ip.version).toBeUndefined();
    expect(result.routes).toContainEqual({ dst: '10.244.0.0/16', gw: '10.244.1.1' });
    expect(result.interfaces.find((i: any) => i.name === 'eth0')?.sandbox).toBe(`/run/netns/${pod.name}`);

    const addr = JSON.parse(await pod.ip('-j', 'addr', 'show', 'dev', 'eth0'))[0];
    expect(addr.mtu).toBe(1450);
    expect(addr.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain(ip.address);
    expect(await pod.ip('route', 'show', '10.244.0.0/16')).toContain('via 10.244.1.1 dev eth0');
    const bridge = JSON.parse(await node.ip('-j', 'addr', 'show', 'dev', 'cni0'))[0];
    expect(bridge.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain('10.244.1.1/24');
    expect(bridge.mtu).toBe(1450);

    const stateFile = join(box.dataDir, 'attachments', 'pod-a@eth0');
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(box.dataDir, 'attachments')).mode & 0o777).toBe(0o700);
    expect(leases()).toEqual([ip.address.split('/')[0]]);

    // CHECK passes right after ADD, then fails once the address is removed by hand.
    await cniOk({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'pod-a', pod, node });
    await pod.ip('addr', 'del', ip.address, 'dev', 'eth0');
    const check = await cni({ command: 'CHECK', conf: box.conf({ prevResult: result }), containerId: 'pod-a', pod, node });
    expect(check.exit).toBe(1);
    expect(check.json.msg).toMatch(/^bridge CHECK failed: .*10\.244\.1\.\d+/);

    // DEL twice: both succeed, the address is released, the state is gone.
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: result }), containerId: 'pod-a', pod, node });
    expect(leases()).toEqual([]);
    expect(existsSync(stateFile)).toBe(false);
    expect(await pod.ip('link', 'show')).not.toContain('eth0');
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: result }), containerId: 'pod-a', pod, node });
    await pod.destroy();
  });

  it('DEL without a prior ADD succeeds, with or without a netns and even without subnet.env', async () => {
    await cniOk({ command: 'DEL', conf: box.conf(), containerId: 'never-added', node });
    const pod = await createNetns('pod');
    await cniOk({ command: 'DEL', conf: box.conf(), containerId: 'never-added', pod, node });
    const r = await cniOk({ command: 'DEL', conf: box.conf({ subnetFile: join(box.dir, 'absent.env') }), containerId: 'never-added', pod, node });
    expect(r).toBeUndefined();
    await pod.destroy();
  });

  it('DEL after the state file is lost still releases the address (config rebuilt from subnet.env)', async () => {
    const pod = await createNetns('pod');
    const result = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'pod-lost', pod, node });
    const { rmSync } = await import('node:fs');
    rmSync(join(box.dataDir, 'attachments', 'pod-lost@eth0'));
    expect(leases()).toEqual([result.ips[0].address.split('/')[0]]);
    await cniOk({ command: 'DEL', conf: box.conf(), containerId: 'pod-lost', pod, node });
    expect(leases()).toEqual([]);
    expect(await pod.ip('link', 'show')).not.toContain('eth0');
    await pod.destroy();
  });

  it('a failed ADD undoes itself: no state, no lease, no interface left', async () => {
    const pod = await createNetns('pod');
    // 192.0.2.1 is not on-link in the pod, so bridge fails adding the route after IPAM allocated.
    const conf = box.conf({ ipam: { routes: [{ dst: '10.99.0.0/16', gw: '192.0.2.1' }] } });
    const r = await cni({ command: 'ADD', conf, containerId: 'pod-fail', pod, node });
    expect(r.exit).toBe(1);
    expect(r.json.msg).toMatch(/^bridge ADD failed: /);
    expect(existsSync(join(box.dataDir, 'attachments', 'pod-fail@eth0'))).toBe(false);
    expect(leases()).toEqual([]);
    expect(await pod.ip('link', 'show')).not.toContain('eth0');
    await pod.destroy();
  });

  it('a repeated ADD for the same container and interface fails and leaves the first attachment working', async () => {
    const pod = await createNetns('pod');
    const first = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'pod-twice', pod, node });
    const ip = first.ips[0].address.split('/')[0];
    await waitPing(node, ip);

    const again = await cni({ command: 'ADD', conf: box.conf(), containerId: 'pod-twice', pod, node });
    expect(again.exit).toBe(1);
    expect(again.json).toMatchObject({ code: 4 });
    expect(again.json.msg).toMatch(/^container pod-twice already has eth0 attached by weft-cni .*run DEL first/);

    // The pod keeps its interface, address and route; host-local keeps its lease; the state stays.
    const addr = JSON.parse(await pod.ip('-j', 'addr', 'show', 'dev', 'eth0'))[0];
    expect(addr.addr_info.map((a: any) => `${a.local}/${a.prefixlen}`)).toContain(first.ips[0].address);
    expect(leases()).toEqual([ip]);
    expect(existsSync(join(box.dataDir, 'attachments', 'pod-twice@eth0'))).toBe(true);
    expect(await node.exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', ip])).toMatch(/3 received/);
    await cniOk({ command: 'CHECK', conf: box.conf({ prevResult: first }), containerId: 'pod-twice', pod, node });

    // The runtime's DEL then cleans up as usual, and a fresh ADD works again.
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: first }), containerId: 'pod-twice', pod, node });
    expect(leases()).toEqual([]);
    const readded = await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'pod-twice', pod, node });
    await cniOk({ command: 'DEL', conf: box.conf({ prevResult: readded }), containerId: 'pod-twice', pod, node });
    expect(leases()).toEqual([]);
    await pod.destroy();
  });

  it('converts results to the requested version: 0.3.x/0.4.0 carry ips[].version, 1.x does not', async () => {
    for (const [v, id] of [['0.3.1', 'pod-v031'], ['0.4.0', 'pod-v040'], ['1.0.0', 'pod-v100']] as const) {
      const pod = await createNetns('pod');
      const res = await cniOk({ command: 'ADD', conf: box.conf({ cniVersion: v }), containerId: id, pod, node });
      expect(res.cniVersion).toBe(v);
      if (v === '1.0.0') expect(res.ips[0].version).toBeUndefined();
      else expect(res.ips[0].version).toBe('4');
      if (v !== '0.3.1') await cniOk({ command: 'CHECK', conf: box.conf({ cniVersion: v, prevResult: res }), containerId: id, pod, node });
      else {
        const check = await cni({ command: 'CHECK', conf: box.conf({ cniVersion: v, prevResult: res }), containerId: id, pod, node });
        expect(check.json).toMatchObject({ code: 1, msg: 'config version 0.3.1 does not allow CHECK (needs 0.4.0 or later)' });
      }
      await cniOk({ command: 'DEL', conf: box.conf({ cniVersion: v, prevResult: res }), containerId: id, pod, node });
      await pod.destroy();
    }
    expect(leases()).toEqual([]);
  });

  it('32 concurrent ADDs get 32 distinct addresses, and 32 DELs free them all', async () => {
    const pods = await Promise.all(Array.from({ length: 32 }, () => createNetns('p')));
    const results = await Promise.all(pods.map((pod, i) => cniOk({ command: 'ADD', conf: box.conf(), containerId: `many-${i}`, pod, node })));
    const addrs = results.map((r) => r.ips[0].address);
    expect(new Set(addrs).size).toBe(32);
    for (const a of addrs) expect(a).toMatch(/^10\.244\.1\.\d+\/24$/);
    expect(leases().length).toBe(32);

    await Promise.all(pods.map((pod, i) => cniOk({ command: 'DEL', conf: box.conf({ prevResult: results[i] }), containerId: `many-${i}`, pod, node })));
    expect(leases()).toEqual([]);
    expect(readdirSync(join(box.dataDir, 'attachments'))).toEqual([]);
    const links = JSON.parse(await node.ip('-j', 'link', 'show')).map((l: any) => l.ifname);
    expect(links.sort()).toEqual(['cni0', 'lo']);
    await Promise.all(pods.map((p) => p.destroy()));
  });
});
