// The harness itself: a real etcd starts, serves, survives stop/resume with its data, and test
// namespaces are created and removed without touching anything else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdServer } from '../helpers/etcd.js';
import { vethPair } from '../../lab/netns.js';
import { createNetns, ownNetns } from '../helpers/netns.js';
import { requireRoot } from '../helpers/root.js';

describe('etcd harness', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await EtcdServer.start();
  });
  afterAll(async () => {
    await etcd?.close();
  });

  it('serves reads and writes, and keeps data across stop and resume', async () => {
    await etcd.etcdctl('put', '/weft-harness/k', 'v1');
    await etcd.stop();
    expect(etcd.running).toBe(false);
    await expect(etcd.etcdctl('--command-timeout=300ms', 'get', '/weft-harness/k')).rejects.toThrow();
    await etcd.resume();
    expect(await etcd.etcdctl('get', '--print-value-only', '/weft-harness/k')).toBe('v1\n');
  });
});

describe('netns harness', () => {
  beforeAll(() => requireRoot());

  it('creates namespaces joined by a veth and removes them', async () => {
    const a = await createNetns('a');
    const b = await createNetns('b');
    await vethPair(a, 'va', b, 'vb');
    await a.ip('addr', 'add', '198.18.0.1/24', 'dev', 'va');
    await b.ip('addr', 'add', '198.18.0.2/24', 'dev', 'vb');
    await a.ip('link', 'set', 'va', 'up');
    await b.ip('link', 'set', 'vb', 'up');
    const out = await a.exec('ping', ['-c', '1', '-W', '2', '198.18.0.2']);
    expect(out).toMatch(/1 received/);
    expect(ownNetns()).toHaveLength(2);
    await a.destroy();
    await b.destroy();
    expect(ownNetns()).toHaveLength(0);
  });
});
