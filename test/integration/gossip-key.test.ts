// The gossip cluster key in a real etcd: created once at <prefix>/gossip-key, and daemons racing to
// create it all end up with the same key.
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gossipKeyPath, loadOrCreateClusterKey } from '../../daemon/control/gossip/cluster-key.js';
import { EtcdServer } from '../helpers/etcd.js';

describe('gossip cluster key in etcd', () => {
  let etcd: EtcdServer;
  let clients: Etcd3[];
  beforeAll(async () => {
    etcd = await EtcdServer.start();
    clients = Array.from({ length: 4 }, () => new Etcd3({ hosts: etcd.endpoint }));
  });
  afterAll(async () => {
    for (const c of clients ?? []) c.close();
    await etcd?.close();
  });

  it('racing callers create one key and all get it; later callers read the same', async () => {
    const prefix = '/weft-test/network';
    const keys = await Promise.all(clients.map((c) => loadOrCreateClusterKey(c, prefix)));
    expect(keys[0]).toHaveLength(1);
    expect(keys[0][0]).toHaveLength(32);
    for (const k of keys) expect(k).toEqual(keys[0]);
    const stored = await etcd.etcdctl('get', '--print-value-only', gossipKeyPath(prefix));
    expect(Buffer.from(stored.trim(), 'base64')).toEqual(keys[0][0]);
    expect(await loadOrCreateClusterKey(clients[0], prefix + '/')).toEqual(keys[0]);
    const other = await loadOrCreateClusterKey(clients[1], '/weft-test/other');
    expect(other).not.toEqual(keys[0]);
  });

  it('refuses a stored key that is too short, and reports etcd being away with a hint', async () => {
    await etcd.etcdctl('put', '/weft-test/short/gossip-key', Buffer.alloc(4).toString('base64'));
    await expect(loadOrCreateClusterKey(clients[0], '/weft-test/short')).rejects.toThrow(/at least 16 bytes/);
    const away = new Etcd3({ hosts: 'http://127.0.0.1:1', dialTimeout: 300 });
    try {
      await expect(loadOrCreateClusterKey(away, '/weft-test/network')).rejects.toThrow(/--gossip-key-file/);
    } finally {
      away.close();
    }
  });
});
