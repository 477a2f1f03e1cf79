// weft-cni GC with cni.dev/valid-attachments: stale attachments lose their state, their pod side
// and their host-local address; listed ones keep all three. Debian's plugins 1.1.1 predate GC,
// so this also proves the fallback (delegate DEL per stale attachment, orphan-lease sweep).
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Netns } from '../../lab/netns.js';
import { createNetns } from '../helpers/netns.js';
import { type CniSandbox, cni, cniOk, startNode, stopNode } from '../helpers/cni-runner.js';

let node: Netns;
let box: CniSandbox;

beforeAll(async () => {
  ({ node, box } = await startNode());
  box.writeSubnetEnv({ subnet: '10.244.3.1/24' });
});
afterAll(() => stopNode(node, box));

function leaseOwners(): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(box.leaseDir)) return out;
  for (const n of readdirSync(box.leaseDir)) {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(n)) out.set(n, ownerOf(join(box.leaseDir, n)));
  }
  return out;
}

function ownerOf(file: string): string {
  return readFileSync(file, 'utf8').split(/\r?\n/)[0];
}

describe('weft-cni GC', () => {
  it('frees the addresses of attachments not listed and keeps listed ones', async () => {
    const pods = await Promise.all(['keep', 'stale1', 'stale2', 'orphan'].map(() => createNetns('pod')));
    const ids = ['gc-keep', 'gc-stale1', 'gc-stale2', 'gc-orphan'];
    const results: any[] = [];
    for (let i = 0; i < pods.length; i++) results.push(await cniOk({ command: 'ADD', conf: box.conf(), containerId: ids[i], pod: pods[i], node }));
    const addr = (i: number): string => results[i].ips[0].address.split('/')[0];
    expect([...leaseOwners().values()].sort()).toEqual([...ids].sort());

    // The orphan's state is lost (as after a crash between host-local and the state write).
    rmSync(join(box.dataDir, 'attachments', 'gc-orphan@eth0'));
    // A state file that cannot be parsed is dropped too.
    writeFileSync(join(box.dataDir, 'attachments', 'gc-garbage@eth0'), '{not json');

    const gcConf = box.conf({ 'cni.dev/valid-attachments': [{ containerID: 'gc-keep', ifname: 'eth0' }] });
    const gc = await cni({ command: 'GC', conf: gcConf, node });
    expect(gc.stdout).toBe('');
    expect(gc.exit).toBe(0);

    expect([...leaseOwners().entries()]).toEqual([[addr(0), 'gc-keep']]);
    expect(readdirSync(join(box.dataDir, 'attachments'))).toEqual(['gc-keep@eth0']);
    // The stale pods' interfaces went with their attachments (their namespaces still existed).
    for (const i of [1, 2]) expect(await pods[i].ip('link', 'show')).not.toContain('eth0');
    // The kept pod is untouched: CHECK still passes.
    await cniOk({ command: 'CHECK', conf: box.conf({ prevResult: results[0] }), containerId: 'gc-keep', pod: pods[0], node });

    await cniOk({ command: 'DEL', conf: box.conf(), containerId: 'gc-keep', pod: pods[0], node });
    expect(leaseOwners().size).toBe(0);
    await Promise.all(pods.map((p) => p.destroy()));
  });

  it('GC with an empty list releases everything; GC needs config version 1.1.0 and the list', async () => {
    const pod = await createNetns('pod');
    await cniOk({ command: 'ADD', conf: box.conf(), containerId: 'gc-all', pod, node });
    await cniOk({ command: 'GC', conf: box.conf({ 'cni.dev/valid-attachments': [] }), node });
    expect(leaseOwners().size).toBe(0);

    const old = await cni({ command: 'GC', conf: box.conf({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] }), node });
    expect(old.exit).toBe(1);
    expect(old.json).toMatchObject({ code: 1, msg: 'config version 1.0.0 does not allow GC (needs 1.1.0)' });
    const noList = await cni({ command: 'GC', conf: box.conf(), node });
    expect(noList.json).toMatchObject({ code: 7, msg: 'GC needs "cni.dev/valid-attachments" (the attachments to keep)' });
    await pod.destroy();
  });
});
