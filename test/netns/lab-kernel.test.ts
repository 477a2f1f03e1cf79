// The lab with two Flannel-style kernel VXLAN nodes (the lab acting as flanneld): leases in etcd in
// Flannel's format, flannel.1 configured per peer, pods wired by the real CNI plugins, traffic both
// ways, and nothing left behind by destroy().
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runs } from '../../lab/exec.js';
import { Lab } from '../../lab/lab.js';
import { ping, tcpExchange } from '../../lab/probe.js';
import type { PodRecord } from '../../lab/state.js';
import { DIST } from '../../lab/paths.js';
import { listNetns } from '../../lab/netns.js';
import { ownPrefix } from '../helpers/netns.js';
import { run } from '../../lab/processes.js';
import { requireRoot } from '../helpers/root.js';

describe('lab: two kernel VXLAN nodes', () => {
  const prefix = `${ownPrefix()}k-`;
  let lab: Lab;
  let pod1: PodRecord;
  let pod2: PodRecord;

  beforeAll(async () => {
    requireRoot();
    lab = await Lab.create({ prefix });
    await lab.addNode('kernel');
    await lab.addNode('kernel');
    pod1 = await lab.addPod('node1');
    pod2 = await lab.addPod('node2');
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('stores Flannel-format vxlan leases and configures flannel.1 per peer from them', async () => {
    const raw = await lab.etcdctl('get', '/coreos.com/network/subnets/10.244.2.0-24', '--print-value-only');
    const node2 = lab.node('node2');
    expect(JSON.parse(raw)).toEqual({ PublicIP: '198.18.0.2', PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: node2.vtepMac } });
    const leaseId = JSON.parse(await lab.etcdctl('get', '/coreos.com/network/subnets/10.244.2.0-24', '-w', 'json')).kvs[0].lease;
    expect(leaseId).toBeGreaterThan(0);

    const ns = lab.node('node1').ns;
    const link = await lab.exec(ns, 'ip', ['-d', 'link', 'show', 'flannel.1']);
    expect(link).toMatch(/mtu 1450 /);
    expect(link).toMatch(/vxlan id 1 local 198\.18\.0\.1 dev eth0 .*dstport 8472 nolearning/);
    expect(await lab.exec(ns, 'ip', ['neigh', 'show', 'dev', 'flannel.1'])).toContain(`10.244.2.0 lladdr ${node2.vtepMac} PERMANENT`);
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).toContain(`${node2.vtepMac} dst 198.18.0.2 self permanent`);
    expect(await lab.exec(ns, 'ip', ['route', 'show', 'dev', 'flannel.1'])).toContain('10.244.2.0/24 via 10.244.2.0 onlink');
    expect(await lab.exec(ns, 'cat', [lab.node('node1').subnetFile])).toBe('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
  });

  it('pods on different nodes ping each other both ways', async () => {
    expect(pod1.ip).toBe('10.244.1.2');
    expect(pod2.ip).toBe('10.244.2.2');
    const there = await ping(pod1.ns, pod2.ip, { count: 3, intervalS: 0.05 });
    const back = await ping(pod2.ns, pod1.ip, { count: 3, intervalS: 0.05 });
    expect([there.received, back.received]).toEqual([3, 3]);
  });

  it('pods exchange TCP both ways with every byte intact', async () => {
    await expect(tcpExchange(pod1.ns, pod2.ns, pod2.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
    await expect(tcpExchange(pod2.ns, pod1.ns, pod1.ip, 4 << 20)).resolves.toMatchObject({ bytes: 4 << 20 });
  });

  it('a deleted lease stops being routed after syncKernelPeers', async () => {
    await lab.etcdctl('del', '/coreos.com/network/subnets/10.244.2.0-24');
    await lab.syncKernelPeers();
    const ns = lab.node('node1').ns;
    expect(await lab.exec(ns, 'ip', ['route', 'show', 'dev', 'flannel.1'])).toBe('');
    expect(await lab.exec(ns, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).not.toContain('198.18.0.2');
    expect((await ping(pod1.ns, pod2.ip, { count: 1, deadlineS: 1 })).received).toBe(0);
  });

  it('destroy() removes every namespace, process and the state dir', async () => {
    const procs = [...lab.state.processes];
    expect(procs.map((p) => p.role)).toEqual(['etcd']);
    const stateDir = lab.state.stateDir;
    await lab.destroy();
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
    expect(existsSync(stateDir)).toBe(false);
    for (const p of procs) expect(runs(p.pid, p.marker)).toBe(false);
  });
});

describe('lab CLI: up, status, down', () => {
  const prefix = `${ownPrefix()}c-`;
  const cli = (...args: string[]): Promise<string> => run(process.execPath, [join(DIST, 'lab', 'cli.js'), ...args, '--prefix', prefix]);

  afterAll(async () => {
    await cli('down').catch(() => undefined);
  });

  it('up prints the nodes, pods and how to reach them; status shows leases and routes; down removes everything', async () => {
    requireRoot();
    const up = await cli('up', '2', '--kind', 'kernel');
    expect(up).toMatch(/node1\s+kernel\s+\S+node1\s+198\.18\.0\.1\s+10\.244\.1\.0\/24\s+1450/);
    expect(up).toMatch(/node2-pod1\s+node2\s+\S+node2-pod1\s+10\.244\.2\.2/);
    expect(up).toContain(`ip netns exec ${prefix}node1-pod1 ping -c 3 10.244.2.2`);
    expect((await ping(`${prefix}node1-pod1`, '10.244.2.2', { count: 2, intervalS: 0.05 })).received).toBe(2);

    const status = await cli('status');
    expect(status).toMatch(/node1\s+kernel\s+198\.18\.0\.1\s+10\.244\.1\.0\/24\s+.*10\.244\.2\.0\/24/);
    expect(status).toMatch(/10\.244\.2\.0\/24\s+198\.18\.0\.2\s+vxlan\s+[0-9a-f:]{17}/);

    await cli('down');
    expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
  });
});
