// The lease keeper with an IPv6-only config (EnableIPv4 false), on the in-memory store and a fake
// clock: the lease is Flannel's IPv6-only key (`0.0.0.0-0&<v6>-<len>`) and value (PublicIP 0.0.0.0,
// BackendV6Data, weft's fields alone in BackendData), renewed, reused after a restart by the node's
// PublicIPv6 (never another IPv6-only node's lease, though all have PublicIP 0.0.0.0) or from the
// previous subnet file, taken back when lost; a lease of ours that no longer fits is replaced.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeLeaseValue, type OwnLeaseAttrs } from '../../../../daemon/control/lease/lease-codec.js';
import { LeaseKeeper, type KeeperEvent } from '../../../../daemon/control/lease/lease-keeper.js';
import { parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6, type Subnet6 } from '../../../../daemon/net/ipv6.js';
import { NO_SUBNET4 } from '../../../../daemon/net/subnet-key.js';
import { FakeClock } from '../../../fakes/clock.js';
import { FakeLeaseStore } from '../../../fakes/lease-store.js';

const TTL_MS = 60_000;
const MARGIN_MS = 10_000;
const network = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
const MAC6 = '0a:00:00:00:06:01';
const self: OwnLeaseAttrs = { publicIp: '0.0.0.0', vni: 1, vtepMac: MAC6, gossipPort: 8473, nodeName: 'n1', v6: { publicIp: 'fd00:198:18::1', vtepMac: MAC6 }, ipv6Only: true };
const other: OwnLeaseAttrs = { ...self, nodeName: 'n2', v6: { publicIp: 'fd00:198:18::2', vtepMac: '0a:00:00:00:06:02' } };
const s6 = (c: string): Subnet6 => parseSubnet6(c)!;

function setup(o: { previousSubnet6?: Subnet6; store?: FakeLeaseStore; clock?: FakeClock; attrs?: OwnLeaseAttrs } = {}) {
  const clock = o.clock ?? new FakeClock();
  const store = o.store ?? new FakeLeaseStore(clock);
  const keeper = new LeaseKeeper({ store, clock, log: pino({ level: 'silent' }), network, attrs: o.attrs ?? self, ttlMs: TTL_MS, renewMarginMs: MARGIN_MS, previousSubnet: undefined, previousSubnet6: o.previousSubnet6 });
  const events: KeeperEvent[] = [];
  keeper.onEvent((e) => events.push(e));
  return { clock, store, keeper, events };
}

describe('lease keeper, IPv6-only', () => {
  it("acquires Flannel's IPv6-only key and value and renews it", async () => {
    const { clock, store, keeper, events } = setup();
    const held = await keeper.acquire();
    keeper.start();
    expect(held).toMatchObject({ how: 'random', subnet: NO_SUBNET4 });
    expect(held.key).toMatch(/^\/coreos\.com\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:[0-9a-f]+::-64$/);
    expect(store.get(held)?.value).toBe(
      `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan","BackendData":{"WeftGossipPort":8473,"WeftNodeName":"n1"},"BackendV6Data":{"VNI":1,"VtepMAC":"${MAC6}"}}`,
    );
    await clock.advance(TTL_MS - MARGIN_MS);
    expect(events.map((e) => e.type)).toEqual(['renewed']);
    expect(keeper.current).toMatchObject({ subnet6: held.subnet6, key: held.key });
    await keeper.close();
  });

  it("reuses its own lease after a restart by PublicIPv6, never another IPv6-only node's", async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    store.put({ subnet: NO_SUBNET4, subnet6: s6('fd00:10:244:2::/64') }, encodeLeaseValue(other), 60);
    const flannel = `{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:198:18::3","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0b"}}`;
    store.put({ subnet: NO_SUBNET4, subnet6: s6('fd00:10:244:3::/64') }, flannel, 60);
    const first = setup({ clock, store });
    const held = await first.keeper.acquire();
    await first.keeper.close();
    expect(held.how).toBe('random');
    expect([s6('fd00:10:244:2::/64'), s6('fd00:10:244:3::/64')]).not.toContainEqual(held.subnet6);

    const again = setup({ clock, store });
    expect(await again.keeper.acquire()).toMatchObject({ subnet6: held.subnet6, key: held.key, how: 'reuse-public-ip' });
    await again.keeper.close();
    expect(store.entries()).toHaveLength(3);
  });

  it('takes the previous subnet file\'s IPv6 subnet when free, else a random one', async () => {
    const fresh = setup({ previousSubnet6: s6('fd00:10:244:7::/64') });
    expect(await fresh.keeper.acquire()).toMatchObject({ subnet6: s6('fd00:10:244:7::/64'), key: '/coreos.com/network/subnets/0.0.0.0-0&fd00:10:244:7::-64', how: 'previous-subnet' });
    await fresh.keeper.close();

    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    store.put({ subnet: NO_SUBNET4, subnet6: s6('fd00:10:244:7::/64') }, encodeLeaseValue(other), 60);
    const taken = setup({ clock, store, previousSubnet6: s6('fd00:10:244:7::/64') });
    const held = await taken.keeper.acquire();
    expect(held.how).toBe('random');
    expect(held.subnet6).not.toEqual(s6('fd00:10:244:7::/64'));
    await taken.keeper.close();
  });

  it('replaces our lease that no longer fits (IPv6Network changed) and never takes an IPv4 subnet', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    store.put({ subnet: NO_SUBNET4, subnet6: s6('fd00:10:245:9::/64') }, encodeLeaseValue(self), 60);
    store.put({ subnet: parseSubnet('10.244.8.0/24')!, subnet6: s6('fd00:10:244:8::/64') }, encodeLeaseValue({ ...other, publicIp: '198.18.0.8', ipv6Only: false }), 60);
    const { keeper } = setup({ clock, store, previousSubnet6: s6('fd00:10:244:8::/64') });
    const held = await keeper.acquire();
    expect(held).toMatchObject({ subnet: NO_SUBNET4, how: 'random' });
    expect(held.key).toMatch(/^\/coreos\.com\/network\/subnets\/0\.0\.0\.0-0&fd00:10:244:/);
    expect(held.subnet6).not.toEqual(s6('fd00:10:244:8::/64'));
    expect(store.entries().map((e) => e.key).sort()).toEqual([held.key, '/coreos.com/network/subnets/10.244.8.0-24&fd00:10:244:8::-64'].sort());
    await keeper.close();
  });

  it('takes its subnet back when its key is deleted', async () => {
    const { clock, store, keeper, events } = setup();
    const held = await keeper.acquire();
    keeper.start();
    await clock.advance(0);
    store.remove(held);
    await clock.advance(0);
    await clock.advance(0);
    expect(events.map((e) => e.type)).toEqual(['lost', 'acquired']);
    expect(keeper.current).toMatchObject({ subnet6: held.subnet6, key: held.key, how: 'previous-subnet' });
    await keeper.close();
  });
});
