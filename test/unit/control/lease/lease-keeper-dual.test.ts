// The lease keeper with EnableIPv6, on the in-memory store and a fake clock: both subnets are taken
// as one lease under one key, renewed together, reused after a restart (by public IP, or from the
// previous subnet file), taken back together when the key is lost; a v4-only lease of ours is
// replaced when IPv6 is turned on, keeping its IPv4 subnet.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeLeaseValue, type OwnLeaseAttrs } from '../../../../daemon/control/lease/lease-codec.js';
import { LeaseKeeper, type KeeperEvent } from '../../../../daemon/control/lease/lease-keeper.js';
import { parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { parseSubnet, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { parseSubnet6, type Subnet6 } from '../../../../daemon/net/ipv6.js';
import { FakeClock } from '../../../fakes/clock.js';
import { FakeLeaseStore } from '../../../fakes/lease-store.js';

const TTL_MS = 60_000;
const MARGIN_MS = 10_000;
const network = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
const self: OwnLeaseAttrs = { publicIp: '198.18.0.1', vni: 1, vtepMac: '0a:00:00:00:00:01', gossipPort: 8473, nodeName: 'n1', v6: { publicIp: 'fd00:198:18::1', vtepMac: '0a:00:00:00:06:01' } };
const s4 = (c: string): Subnet4 => parseSubnet(c)!;
const s6 = (c: string): Subnet6 => parseSubnet6(c)!;

function setup(o: { previousSubnet?: Subnet4; previousSubnet6?: Subnet6; store?: FakeLeaseStore; clock?: FakeClock } = {}) {
  const clock = o.clock ?? new FakeClock();
  const store = o.store ?? new FakeLeaseStore(clock);
  const keeper = new LeaseKeeper({ store, clock, log: pino({ level: 'silent' }), network, attrs: self, ttlMs: TTL_MS, renewMarginMs: MARGIN_MS, previousSubnet: o.previousSubnet, previousSubnet6: o.previousSubnet6 });
  const events: KeeperEvent[] = [];
  keeper.onEvent((e) => events.push(e));
  return { clock, store, keeper, events };
}

describe('lease keeper, dual-stack', () => {
  it('acquires both subnets under one dual-stack key and renews them together', async () => {
    const { clock, store, keeper, events } = setup();
    const held = await keeper.acquire();
    keeper.start();
    expect(held.how).toBe('random');
    expect(held.subnet6).toBeDefined();
    expect(held.key).toMatch(/^\/coreos\.com\/network\/subnets\/10\.244\.\d+\.0-24&fd00:10:244:[0-9a-f]+::-64$/);
    expect(store.entries().map((e) => e.key)).toEqual([held.key]);
    expect(store.get(held)).toMatchObject({ value: encodeLeaseValue(self), lease: held.leaseId });
    await clock.advance(TTL_MS - MARGIN_MS);
    expect(events.map((e) => e.type)).toEqual(['renewed']);
    expect(keeper.current).toMatchObject({ subnet: held.subnet, subnet6: held.subnet6, key: held.key });
    expect(store.liveLeases()).toEqual([keeper.current!.leaseId]);
    await keeper.close();
  });

  it('reuses both subnets after a restart: by public IP, else from the previous subnet file', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    const first = setup({ clock, store });
    const held = await first.keeper.acquire();
    await first.keeper.close();

    const again = setup({ clock, store });
    expect(await again.keeper.acquire()).toMatchObject({ subnet: held.subnet, subnet6: held.subnet6, key: held.key, how: 'reuse-public-ip' });
    await again.keeper.close();

    const fresh = setup({ previousSubnet: s4('10.244.7.0/24'), previousSubnet6: s6('fd00:10:244:7::/64') });
    expect(await fresh.keeper.acquire()).toMatchObject({ subnet: s4('10.244.7.0/24'), subnet6: s6('fd00:10:244:7::/64'), key: '/coreos.com/network/subnets/10.244.7.0-24&fd00:10:244:7::-64', how: 'previous-subnet' });
    await fresh.keeper.close();
  });

  it('replaces our IPv4-only lease when IPv6 is turned on, keeping the IPv4 subnet', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    const { v6: _v6, ...v4attrs } = self;
    store.put(s4('10.244.9.0/24'), encodeLeaseValue(v4attrs), 60);
    const { keeper } = setup({ clock, store, previousSubnet: s4('10.244.9.0/24') });
    const held = await keeper.acquire();
    expect(held).toMatchObject({ subnet: s4('10.244.9.0/24'), how: 'previous-subnet' });
    expect(store.entries().map((e) => e.key)).toEqual([held.key]);
    expect(held.key).toMatch(/10\.244\.9\.0-24&fd00:10:244:[0-9a-f]+::-64$/);
    await keeper.close();
  });

  it('never takes an IPv6 subnet that a Flannel IPv6-only or dual-stack lease holds', async () => {
    const clock = new FakeClock();
    const store = new FakeLeaseStore(clock);
    const flannel = (v6: string): string => `{"PublicIP":"0.0.0.0","PublicIPv6":"${v6}","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"ce:7a:05:2e:91:0b"}}`;
    store.put({ subnet: { base: 0, len: 0 }, subnet6: s6('fd00:10:244:7::/64') }, flannel('fd00:198:18::7'));
    store.put({ subnet: s4('10.244.8.0/24'), subnet6: s6('fd00:10:244:8::/64') }, flannel('fd00:198:18::8'));
    const { keeper } = setup({ clock, store, previousSubnet: s4('10.244.7.0/24'), previousSubnet6: s6('fd00:10:244:7::/64') });
    const held = await keeper.acquire();
    expect(held.subnet).toEqual(s4('10.244.7.0/24'));
    expect(held.subnet6).not.toEqual(s6('fd00:10:244:7::/64'));
    expect(held.subnet6).not.toEqual(s6('fd00:10:244:8::/64'));
    await keeper.close();
  });

  it('takes both subnets back when its key is deleted', async () => {
    const { clock, store, keeper, events } = setup();
    const held = await keeper.acquire();
    keeper.start();
    await clock.advance(0);
    store.remove(held);
    await clock.advance(0);
    await clock.advance(0);
    expect(events.map((e) => e.type)).toEqual(['lost', 'acquired']);
    expect(keeper.current).toMatchObject({ subnet: held.subnet, subnet6: held.subnet6, key: held.key, how: 'previous-subnet' });
    await keeper.close();
  });
});
