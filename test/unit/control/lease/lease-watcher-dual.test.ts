// The peer lease watcher with dual-stack and IPv6-only leases: a dual-stack peer is routed by its
// IPv4 subnet as before and carries its IPv6 VTEP (subnet, PublicIPv6, BackendV6Data) for the IPv6
// data path; a lease with a broken IPv6 half keeps its IPv4 route; an IPv6-only lease is left out
// (logged), never a 0.0.0.0/0 peer; a change of the IPv6 VTEP alone is a new snapshot.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeLeaseValue } from '../../../../daemon/control/lease/lease-codec.js';
import { LeaseWatcher, type PeerSnapshot } from '../../../../daemon/control/lease/lease-watcher.js';
import { parseSubnet, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6 } from '../../../../daemon/net/ipv6.js';
import { NO_SUBNET4 } from '../../../../daemon/net/subnet-key.js';
import { FakeClock } from '../../../fakes/clock.js';
import { FakeLeaseStore } from '../../../fakes/lease-store.js';

const net = (n: number): Subnet4 => parseSubnet(`10.244.${n}.0/24`)!;
const net6 = (n: number) => parseSubnet6(`fd00:10:244:${n}::/64`)!;
const dual = (n: number, mac6 = `0a:00:00:00:06:0${n}`): string =>
  encodeLeaseValue({ publicIp: `198.18.0.${n}`, vni: 1, vtepMac: `0a:00:00:00:00:0${n}`, gossipPort: 8473, nodeName: `n${n}`, v6: { publicIp: `fd00:198:18::${n}`, vtepMac: mac6 } });
const FLANNEL_V6_ONLY = '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::9","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0b"}}';

describe('lease watcher, dual-stack', () => {
  it('carries the IPv6 VTEP of dual-stack peers, keeps IPv4 routing when the IPv6 half is broken, leaves IPv6-only leases out', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    store.put({ subnet: net(1), subnet6: net6(1) }, dual(1), 3_600);
    store.put({ subnet: net(2), subnet6: net6(2) }, dual(2), 3_600);
    store.put({ subnet: net(3), subnet6: net6(3) }, dual(3, 'not-a-mac'), 3_600);
    store.put({ subnet: NO_SUBNET4, subnet6: net6(9) }, FLANNEL_V6_ONLY, 3_600);
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => (warnings.push((JSON.parse(c.toString()) as { msg: string }).msg), cb()) }));
    const watcher = new LeaseWatcher({ store, log, ownKey: store.keyOf({ subnet: net(1), subnet6: net6(1) }) });
    const snapshots: PeerSnapshot[] = [];
    watcher.onChange((s) => snapshots.push(s));
    await watcher.start();

    expect([...watcher.snapshot().keys()]).toEqual(['10.244.2.0-24&fd00:10:244:2::-64', '10.244.3.0-24&fd00:10:244:3::-64']);
    expect(watcher.snapshot().get('10.244.2.0-24&fd00:10:244:2::-64')).toMatchObject({
      subnet: net(2),
      publicIp: '198.18.0.2',
      vtepMac: '0a:00:00:00:00:02',
      v6: { subnet: net6(2), publicIp: 'fd00:198:18::2', vni: 1, vtepMac: '0a:00:00:00:06:02' },
    });
    expect(watcher.snapshot().get('10.244.3.0-24&fd00:10:244:3::-64')).toMatchObject({ subnet: net(3), vtepMac: '0a:00:00:00:00:03' });
    expect(watcher.snapshot().get('10.244.3.0-24&fd00:10:244:3::-64')?.v6).toBeUndefined();
    expect(warnings).toEqual([expect.stringMatching(/^ignoring lease: IPv6-only lease/)]);

    store.put({ subnet: net(2), subnet6: net6(2) }, dual(2, '0a:00:00:00:06:22'), 3_600);
    await clock.advance(0);
    expect(snapshots.at(-1)?.get('10.244.2.0-24&fd00:10:244:2::-64')?.v6?.vtepMac).toBe('0a:00:00:00:06:22');
    await watcher.close();
  });
});
