// The peer lease watcher against a real etcd: the initial snapshot (own lease, non-vxlan and
// unreadable leases left out, each logged once), adds and removes as immutable snapshots, a
// compaction between listing and watching, and an etcd restart.
import { Writable } from 'node:stream';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EtcdHealth } from '../../daemon/control/etcd/etcd-health.js';
import { encodeLeaseValue } from '../../daemon/control/lease/lease-codec.js';
import { EtcdLeaseStore } from '../../daemon/control/lease/etcd-lease-store.js';
import { LeaseWatcher, type PeerSnapshot } from '../../daemon/control/lease/lease-watcher.js';
import { EtcdServer } from '../helpers/etcd.js';
import { connectEtcd, type EtcdConnection } from '../helpers/etcd-client.js';

let etcd: EtcdServer;
let client: Etcd3;
let health: EtcdHealth;
let connection: EtcdConnection | undefined;
const lines: { msg: string; event?: string; reason?: string; key?: string }[] = [];
const log = pino(
  { level: 'debug' },
  new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as { msg: string; event?: string; reason?: string });
      cb();
    },
  }),
);

beforeAll(async () => {
  etcd = await EtcdServer.start();
  ({ client, health } = connection = connectEtcd(etcd, log));
});

afterAll(async () => {
  connection?.close();
  await etcd?.close();
});

const weft = (n: number): string => encodeLeaseValue({ publicIp: `198.18.5.${n}`, vni: 1, vtepMac: `0a:00:00:00:00:0${n}`, gossipPort: 8473, nodeName: `w${n}` });
const FLANNEL = '{"PublicIP":"198.18.5.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"C6:D2:32:6F:8F:44"}}';

/** Resolves with the first snapshot (from now on) that satisfies `pred`. */
function nextSnapshot(w: LeaseWatcher, pred: (s: PeerSnapshot) => boolean, timeoutMs = 5_000): Promise<PeerSnapshot> {
  return new Promise((resolve, reject) => {
    if (pred(w.snapshot())) return resolve(w.snapshot());
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching snapshot; last: ${JSON.stringify([...w.snapshot().keys()])}`));
    }, timeoutMs);
    const off = w.onChange((s) => {
      if (!pred(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

describe('lease watcher', () => {
  it('publishes peers only, as immutable snapshots, through adds, removes and an etcd restart', async () => {
    const p = '/w1/network/subnets';
    await etcd.etcdctl('put', `${p}/10.244.1.0-24`, weft(1));
    await etcd.etcdctl('put', `${p}/10.244.2.0-24`, weft(2));
    await etcd.etcdctl('put', `${p}/10.244.3.0-24`, FLANNEL);
    await etcd.etcdctl('put', `${p}/10.244.4.0-24`, '{"PublicIP":"198.18.5.4","BackendType":"udp"}');
    await etcd.etcdctl('put', `${p}/10.244.5.0-24`, 'garbage');
    const store = new EtcdLeaseStore({ client, prefix: '/w1/network', health, log });
    const w = new LeaseWatcher({ store, log, ownKey: `${p}/10.244.1.0-24` });
    await w.start();
    try {
      const first = w.snapshot();
      expect([...first.keys()].sort()).toEqual(['10.244.2.0-24', '10.244.3.0-24']);
      expect(first.get('10.244.2.0-24')).toEqual({ subnetKey: '10.244.2.0-24', subnet: { base: 0x0af40200, len: 24 }, publicIp: '198.18.5.2', vni: 1, vtepMac: '0a:00:00:00:00:02', gossipPort: 8473, nodeName: 'w2', csumElision: false });
      expect(first.get('10.244.3.0-24')).toMatchObject({ publicIp: '198.18.5.9', vtepMac: 'c6:d2:32:6f:8f:44', gossipPort: undefined, nodeName: undefined });
      expect(Object.isFrozen(first.get('10.244.2.0-24'))).toBe(true);

      await etcd.etcdctl('put', `${p}/10.244.6.0-24`, weft(6));
      const added = await nextSnapshot(w, (s) => s.has('10.244.6.0-24'));
      expect(added.size).toBe(3);
      expect(first.size).toBe(2);

      await etcd.etcdctl('del', `${p}/10.244.2.0-24`);
      const removed = await nextSnapshot(w, (s) => !s.has('10.244.2.0-24'));
      expect([...removed.keys()].sort()).toEqual(['10.244.3.0-24', '10.244.6.0-24']);
      expect(added.has('10.244.2.0-24')).toBe(true);

      w.setOwnKey(`${p}/10.244.6.0-24`);
      expect([...w.snapshot().keys()].sort()).toEqual(['10.244.1.0-24', '10.244.3.0-24']);
      w.setOwnKey(`${p}/10.244.1.0-24`);

      await etcd.stop();
      await etcd.resume();
      await etcd.etcdctl('put', `${p}/10.244.7.0-24`, weft(7));
      const afterRestart = await nextSnapshot(w, (s) => s.has('10.244.7.0-24'), 8_000);
      expect([...afterRestart.keys()].sort()).toEqual(['10.244.3.0-24', '10.244.6.0-24', '10.244.7.0-24']);

      const ignored = lines.filter((l) => l.event === 'lease_ignored');
      expect(ignored.map((l) => l.reason).sort()).toEqual(['non-vxlan subnet 10.244.4.0/24 (BackendType "udp")', 'value is not JSON']);
    } finally {
      await w.close();
    }
  });

  it('lists again and diffs when the revision it would watch from has been compacted', async () => {
    const p = '/w2/network/subnets';
    await etcd.etcdctl('put', `${p}/10.244.1.0-24`, weft(1));
    await etcd.etcdctl('put', `${p}/10.244.2.0-24`, weft(2));
    const store = new EtcdLeaseStore({ client, prefix: '/w2/network', health, log });
    const w = new LeaseWatcher({
      store,
      log,
      ownKey: undefined,
      hooks: {
        // Between the first listing and the watch: one lease goes, one comes, and history is compacted.
        afterFirstList: async () => {
          await etcd.etcdctl('del', `${p}/10.244.1.0-24`);
          await etcd.etcdctl('put', `${p}/10.244.3.0-24`, weft(3));
          const rev = /"revision":(\d+)/.exec(await etcd.etcdctl('get', 'x', '-w', 'json'))?.[1];
          await etcd.etcdctl('compact', String(rev));
        },
      },
    });
    const n = lines.length;
    await w.start();
    try {
      expect([...w.snapshot().keys()].sort()).toEqual(['10.244.1.0-24', '10.244.2.0-24']);
      const s = await nextSnapshot(w, (x) => x.has('10.244.3.0-24'));
      expect([...s.keys()].sort()).toEqual(['10.244.2.0-24', '10.244.3.0-24']);
      expect(lines.slice(n).filter((l) => l.event === 'watch_relisted')).toHaveLength(1);
      await etcd.etcdctl('put', `${p}/10.244.4.0-24`, weft(4));
      await nextSnapshot(w, (x) => x.has('10.244.4.0-24'));
    } finally {
      await w.close();
    }
  });
});
