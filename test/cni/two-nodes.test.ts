// End to end: two nodes (namespaces joined by a veth underlay 198.18.0.0/24), etcd on node A, the
// real weftd on each, pods wired by weft-cni with the shipped defaults (readyzURL 127.0.0.1:8471
// inside each node). STATUS turns ready with weftd, and once each weftd routes the other's subnet
// (weft_routes on its /metrics) a pod on A pings a pod on B through weftd, and back.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer } from '../helpers/etcd.js';
import { vethPair, type Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import type { TrackedChild } from '../../lab/processes.js';
import { requireRoot } from '../helpers/root.js';
import { CniSandbox, ROOT, cni, cniOk } from '../helpers/cni-runner.js';
import { waitForMetric } from '../helpers/metrics.js';

interface Node {
  ns: Netns;
  box: CniSandbox;
  ip: string;
  weftd?: TrackedChild;
}

let nodes: Node[] = [];
let etcd: EtcdServer | undefined;

beforeAll(async () => {
  requireRoot();
  const [a, b] = [await createNetns('nodeA'), await createNetns('nodeB')];
  nodes = [
    { ns: a, box: new CniSandbox(), ip: '198.18.0.1' },
    { ns: b, box: new CniSandbox(), ip: '198.18.0.2' },
  ];
  await vethPair(a, 'eth0', b, 'eth0');
  for (const n of nodes) {
    await n.ns.ip('addr', 'add', `${n.ip}/24`, 'dev', 'eth0');
    await n.ns.ip('link', 'set', 'eth0', 'up');
  }
  for (const n of nodes) await waitCarrier(n.ns);
  etcd = await EtcdServer.start({ netns: a, host: '198.18.0.1' });
  await etcd.etcdctl('put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
});

afterAll(async () => {
  for (const n of nodes) await n.weftd?.stop('SIGTERM');
  await etcd?.close();
  for (const n of nodes) {
    await n.ns.destroy();
    n.box.remove();
  }
});

/**
 * Waits until eth0 is operationally up (weftd's interface lookup skips links that are not
 * RUNNING). A veth end sometimes stays NO-CARRIER after both ends are up; cycling it clears that.
 */
async function waitCarrier(ns: Netns): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const [link] = JSON.parse(await ns.ip('-j', 'link', 'show', 'dev', 'eth0'));
    if (link.operstate === 'UP') return;
    if (i % 10 === 9) {
      await ns.ip('link', 'set', 'eth0', 'down');
      await ns.ip('link', 'set', 'eth0', 'up');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`eth0 in ${ns.name} never came up: ${await ns.ip('link', 'show', 'dev', 'eth0')}`);
}

/** The netconf a node's runtime would pass: shipped defaults except where this node's files are. */
const conf = (n: Node, extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const { readyzURL: _default, ...c } = n.box.conf(extra);
  return c;
};

/** Waits until weftd on `n` routes the other node's subnet (it learns the lease from etcd shortly after that node is ready). */
async function waitRouted(n: Node, timeoutMs: number): Promise<void> {
  const scrape = (): Promise<string> => n.ns.exec('curl', ['-sf', '--max-time', '1', 'http://127.0.0.1:8471/metrics']);
  await waitForMetric(scrape, 'weft_routes', {}, (r) => (r ?? 0) >= 1, timeoutMs).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${n.ns.name}:\n${await n.ns.ip('-br', 'link')}${await n.ns.ip('route')}\nweftd:\n${n.weftd?.output().slice(-3000)}`);
  });
}

async function waitStatusOk(n: Node, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const r = await cni({ command: 'STATUS', conf: conf(n), node: n.ns });
    if (r.exit === 0) return;
    last = r.stdout;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`STATUS on ${n.ns.name} never passed: ${last}\nweftd output:\n${n.weftd?.output() ?? ''}`);
}

describe('weft-cni pods across two weftd nodes', () => {
  it('STATUS is 50 before weftd runs, passes after, and pods on two nodes ping each other', async () => {
    const before = await cni({ command: 'STATUS', conf: conf(nodes[0]), node: nodes[0].ns });
    expect(before.json.code).toBe(50);

    for (const [i, n] of nodes.entries()) {
      n.weftd = n.ns.spawn(process.execPath, [
        join(ROOT, 'bin/weftd.js'),
        '--etcd-endpoints', etcd!.endpoint,
        '--subnet-file', n.box.subnetFile,
        '--healthz-ip', '127.0.0.1',
        '--iface', 'eth0',
        '--public-ip', n.ip,
        '--node-name', `cni-node-${i}`,
      ]);
    }
    for (const n of nodes) await waitStatusOk(n, 30_000);

    const pods = [await createNetns('podA'), await createNetns('podB')];
    try {
      const results = await Promise.all(nodes.map((n, i) => cniOk({ command: 'ADD', conf: conf(n), containerId: `pod-${i}`, pod: pods[i], node: n.ns })));
      const [ipA, ipB] = results.map((r) => r.ips[0].address.split('/')[0]);
      expect(ipA.split('.').slice(0, 3)).not.toEqual(ipB.split('.').slice(0, 3));

      for (const n of nodes) await waitRouted(n, 15_000);
      expect(await pods[0].exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', ipB])).toMatch(/3 received/);
      expect(await pods[1].exec('ping', ['-c', '3', '-i', '0.2', '-W', '2', ipA])).toMatch(/3 received/);

      for (const [i, n] of nodes.entries()) await cniOk({ command: 'DEL', conf: conf(n), containerId: `pod-${i}`, pod: pods[i], node: n.ns });
    } finally {
      await Promise.all(pods.map((p) => p.destroy()));
    }
  });
});
