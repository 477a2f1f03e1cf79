// The peer lease watcher on an in-memory store: peers only (own key, unreadable and non-vxlan
// leases left out), a new snapshot only when something changed, the own key moving, and an
// outage during which leases changed (the listing after it is diffed).
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseSubnet, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { encodeLeaseValue } from '../../../../daemon/control/lease/lease-codec.js';
import { LeaseWatcher, type PeerChanges, type PeerSnapshot } from '../../../../daemon/control/lease/lease-watcher.js';
import { FakeClock } from '../../../fakes/clock.js';
import { FakeLeaseStore } from '../../../fakes/lease-store.js';

const net = (n: number): Subnet4 => ({ base: parseSubnet(`10.244.${n}.0/24`)!.base, len: 24 });
const weft = (n: number): string => encodeLeaseValue({ publicIp: `198.18.0.${n}`, vni: 1, vtepMac: `0a:00:00:00:00:0${n}`, gossipPort: 8473, nodeName: `n${n}` });

async function watching(): Promise<{ clock: FakeClock; store: FakeLeaseStore; watcher: LeaseWatcher; snapshots: PeerSnapshot[] }> {
  const clock = new FakeClock();
  const store = new FakeLeaseStore(clock);
  for (const n of [1, 2, 3]) store.put(net(n), weft(n), 3_600);
  store.put(net(4), '{"PublicIP":"198.18.0.4","BackendType":"udp"}');
  store.put(net(5), 'garbage');
  const watcher = new LeaseWatcher({ store, log: pino({ level: 'silent' }), ownKey: store.keyOf(net(1)) });
  const snapshots: PeerSnapshot[] = [];
  watcher.onChange((s) => snapshots.push(s));
  await watcher.start();
  return { clock, store, watcher, snapshots };
}

describe('lease watcher', () => {
  it('publishes the other vxlan nodes, and a new snapshot on each change only', async () => {
    const { clock, store, watcher, snapshots } = await watching();
    expect([...watcher.snapshot().keys()]).toEqual(['10.244.2.0-24', '10.244.3.0-24']);
    expect(watcher.snapshot().get('10.244.2.0-24')).toMatchObject({ publicIp: '198.18.0.2', vtepMac: '0a:00:00:00:00:02', nodeName: 'n2', gossipPort: 8473 });

    store.put(net(2), weft(2), 3_600);
    await clock.advance(0);
    expect(snapshots).toHaveLength(1);
    store.remove(net(3));
    store.put(net(6), weft(6), 3_600);
    await clock.advance(0);
    expect(snapshots.map((s) => [...s.keys()])).toEqual([['10.244.2.0-24', '10.244.3.0-24'], ['10.244.2.0-24'], ['10.244.2.0-24', '10.244.6.0-24']]);

    watcher.setOwnKey(store.keyOf(net(2)));
    expect([...watcher.snapshot().keys()]).toEqual(['10.244.1.0-24', '10.244.6.0-24']);
    await watcher.close();
  });

  it('lists again after an outage and publishes what changed meanwhile', async () => {
    const { clock, store, watcher } = await watching();
    store.down();
    store.remove(net(2));
    store.put(net(7), weft(7), 3_600);
    await clock.advance(0);
    expect([...watcher.snapshot().keys()]).toEqual(['10.244.2.0-24', '10.244.3.0-24']);
    store.up();
    await clock.advance(0);
    expect([...watcher.snapshot().keys()]).toEqual(['10.244.3.0-24', '10.244.7.0-24']);
    await watcher.close();
  });

  it('tells change subscribers only what changed: one lease per event, and a diff marked resync after an outage', async () => {
    const { clock, store, watcher } = await watching();
    const changes: PeerChanges[] = [];
    watcher.onPeerChanges((c) => changes.push(c));
    const keys = (c: PeerChanges): unknown => ({ upserted: c.upserted.map((p) => p.subnetKey), removed: c.removed, resync: c.resync });

    store.put(net(2), weft(2), 3_600);
    store.put(net(6), weft(6), 3_600);
    await clock.advance(0);
    store.remove(net(3));
    await clock.advance(0);
    expect(changes.map(keys)).toEqual([
      { upserted: ['10.244.6.0-24'], removed: [], resync: false },
      { upserted: [], removed: ['10.244.3.0-24'], resync: false },
    ]);
    watcher.setOwnKey(store.keyOf(net(2)));
    expect(keys(changes[2])).toEqual({ upserted: ['10.244.1.0-24'], removed: ['10.244.2.0-24'], resync: false });

    store.down();
    store.remove(net(6));
    store.put(net(7), weft(7), 3_600);
    store.put(net(1), encodeLeaseValue({ publicIp: '198.18.0.99', vni: 1, vtepMac: '0a:00:00:00:00:01', gossipPort: 8473, nodeName: 'n1' }), 3_600);
    await clock.advance(0);
    store.up();
    await clock.advance(0);
    expect(keys(changes[3])).toEqual({ upserted: ['10.244.1.0-24', '10.244.7.0-24'], removed: ['10.244.6.0-24'], resync: true });
    expect(changes).toHaveLength(4);
    expect([...watcher.snapshot().keys()]).toEqual(['10.244.1.0-24', '10.244.7.0-24']);
    await watcher.close();
  });
});
