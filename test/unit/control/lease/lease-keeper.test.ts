// The lease keeper on an in-memory store and a fake clock: acquisition (through outages and the
// identity guard), renewal before expiry, loss and re-acquisition, etcd down or hanging, an
// outage longer than the TTL, a lease adopted from the state cache, and close().
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ETCD_CALL_TIMEOUT_MS } from '../../../../daemon/control/etcd/etcd-client.js';
import type { IdentityGuard } from '../../../../daemon/control/lease/identity-guard.js';
import { formatCidr, parseSubnet, type Subnet4 } from '../../../../daemon/net/ipv4.js';
import { encodeLeaseValue, type OwnLeaseAttrs } from '../../../../daemon/control/lease/lease-codec.js';
import { LeaseKeeper, type HeldLease, type KeeperEvent } from '../../../../daemon/control/lease/lease-keeper.js';
import { parseNetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import { FakeClock } from '../../../fakes/clock.js';
import { FakeLeaseStore } from '../../../fakes/lease-store.js';

const TTL_MS = 60_000;
const MARGIN_MS = 10_000;
const network = parseNetworkConfig('{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
const self: OwnLeaseAttrs = { publicIp: '198.18.0.1', vni: 1, vtepMac: '0a:00:00:00:00:01', gossipPort: 8473, nodeName: 'n1' };
const other: OwnLeaseAttrs = { publicIp: '198.18.0.2', vni: 1, vtepMac: '0a:00:00:00:00:02', gossipPort: 8473, nodeName: 'n2' };

function subnet(cidr: string): Subnet4 {
  const p = parseSubnet(cidr);
  if (!p) throw new Error(cidr);
  return { base: p.base, len: p.len };
}

function setup(o: { previousSubnet?: Subnet4; identity?: IdentityGuard } = {}) {
  const clock = new FakeClock();
  const store = new FakeLeaseStore(clock);
  const keeper = new LeaseKeeper({ store, clock, log: pino({ level: 'silent' }), network, attrs: self, ttlMs: TTL_MS, renewMarginMs: MARGIN_MS, previousSubnet: o.previousSubnet, identity: o.identity });
  const events: KeeperEvent[] = [];
  keeper.onEvent((e) => events.push(e));
  const types = (): string[] => events.map((e) => e.type);
  return { clock, store, keeper, events, types };
}

/** Settles `p` as far as `clock` allows; 'pending' if it has not. */
async function state<T>(p: Promise<T>, clock: FakeClock): Promise<T | 'pending'> {
  let result: T | 'pending' = 'pending';
  void p.then((v) => (result = v));
  await clock.advance(0);
  return result;
}

describe('lease keeper', () => {
  it('acquires a free subnet, renews it renewMarginMs before expiry, and releases the etcd lease it replaced', async () => {
    const { clock, store, keeper, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    expect(held.how).toBe('random');
    expect(store.get(held.subnet)).toMatchObject({ value: encodeLeaseValue(self), lease: held.leaseId, modRevision: held.modRevision });
    expect(held.expiresAt).toBe(TTL_MS);

    await clock.advance(TTL_MS - MARGIN_MS - 1);
    expect(types()).toEqual([]);
    await clock.advance(1);
    expect(types()).toEqual(['renewed']);
    const renewed = keeper.current!;
    expect(renewed.leaseId).not.toBe(held.leaseId);
    expect(store.get(held.subnet)).toMatchObject({ lease: renewed.leaseId, modRevision: renewed.modRevision });
    expect(store.liveLeases()).toEqual([renewed.leaseId]);

    await clock.advance(TTL_MS - MARGIN_MS);
    expect(types()).toEqual(['renewed', 'renewed']);
    expect(keeper.stats()).toEqual({ renewals: 2, failures: 0 });
    await keeper.close();
  });

  it('prefers the lease holding its public IP, then the previous subnet, then a random free one', async () => {
    const previous = subnet('10.244.7.0/24');
    const a = setup({ previousSubnet: previous });
    expect(await a.keeper.acquire()).toMatchObject({ subnet: previous, how: 'previous-subnet' });

    const b = setup({ previousSubnet: previous });
    const mine = b.store.put(subnet('10.244.9.0/24'), encodeLeaseValue({ ...self, nodeName: 'renamed' }), 30);
    const held = await b.keeper.acquire();
    expect(held).toMatchObject({ subnet: subnet('10.244.9.0/24'), how: 'reuse-public-ip' });
    expect(b.store.liveLeases()).not.toContain(mine.lease);
  });

  it('re-acquires the same subnet at once when its key is deleted', async () => {
    const { clock, store, keeper, events, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.remove(held.subnet);
    await clock.advance(0);
    expect(types()).toEqual(['lost', 'acquired']);
    const acquired = events[1] as Extract<KeeperEvent, { type: 'acquired' }>;
    expect(acquired.previous?.subnet).toEqual(held.subnet);
    expect(acquired.lease.subnet).toEqual(held.subnet);
    expect(store.get(held.subnet)?.value).toBe(keeper.leaseValue);
    await keeper.close();
  });

  it('moves to another subnet when another node took its key over, found at the next renewal', async () => {
    const { clock, store, keeper, events, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.put(held.subnet, encodeLeaseValue(other), 3_600);
    await clock.advance(0);
    expect(types()).toEqual([]);
    expect(keeper.current?.subnet).toEqual(held.subnet);

    await clock.advance(TTL_MS - MARGIN_MS);
    expect(types()).toEqual(['lost', 'acquired']);
    const now = (events[1] as Extract<KeeperEvent, { type: 'acquired' }>).lease;
    expect(formatCidr(now.subnet)).not.toBe(formatCidr(held.subnet));
    expect(store.get(held.subnet)?.value).toBe(encodeLeaseValue(other));
    expect(store.get(now.subnet)?.value).toBe(keeper.leaseValue);
    await keeper.close();
  });

  it('keeps the lease through etcd being down at renewal, and renews as soon as etcd answers', async () => {
    const { clock, store, keeper, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.down();
    await clock.advance(TTL_MS - MARGIN_MS + 5_000);
    expect(keeper.stats().failures).toBeGreaterThan(1);
    expect(types()).toEqual([]);
    expect(keeper.current).toEqual(held);

    store.up();
    await clock.advance(0);
    expect(types()).toEqual(['renewed']);
    expect(store.get(held.subnet)?.lease).toBe(keeper.current?.leaseId);
    await keeper.close();
  });

  it('keeps the lease while etcd hangs (calls fail at their deadline), and renews once etcd answers', async () => {
    const { clock, store, keeper, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.hang();
    await clock.advance(TTL_MS - MARGIN_MS);
    expect(store.calls.at(-1)).toBe('replace');
    expect(keeper.stats().failures).toBe(0);
    await clock.advance(ETCD_CALL_TIMEOUT_MS);
    expect(keeper.stats().failures).toBe(1);
    expect(keeper.current).toEqual(held);

    store.up();
    await clock.advance(ETCD_CALL_TIMEOUT_MS);
    expect(types()).toEqual(['renewed']);
    await keeper.close();
  });

  it('re-acquires its subnet when etcd answers after an outage longer than the TTL (etcd expired the key)', async () => {
    const { clock, store, keeper, events, types } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.down();
    await clock.advance(TTL_MS + 1_000);
    expect(store.get(held.subnet)).toBeUndefined();
    expect(types()).toEqual([]);

    store.up();
    await clock.advance(0);
    expect(types()).toEqual(['lost', 'acquired']);
    expect((events[1] as Extract<KeeperEvent, { type: 'acquired' }>).lease.subnet).toEqual(held.subnet);
    expect(store.get(held.subnet)?.value).toBe(keeper.leaseValue);
    await keeper.close();
  });

  it('waits through an outage at start and acquires once etcd answers', async () => {
    const { clock, store, keeper } = setup();
    store.down();
    const p = keeper.acquire();
    await clock.advance(30_000);
    expect(await state(p, clock)).toBe('pending');
    expect(keeper.stats().failures).toBeGreaterThan(1); // each failed attempt counted (weft_lease_failures_total)
    store.up();
    const held = await state(p, clock);
    expect(held).not.toBe('pending');
    expect(store.get((held as HeldLease).subnet)?.value).toBe(keeper.leaseValue);
  });

  it('does not take the lease of a live node with its public IP, and takes it once that node is gone', async () => {
    let alive = true;
    const refused: string[] = [];
    const { clock, store, keeper } = setup({ identity: { alive: async () => alive, refused: (kind) => void refused.push(kind) } });
    const theirs = subnet('10.244.3.0/24');
    store.put(theirs, encodeLeaseValue({ ...other, publicIp: self.publicIp }), 3_600);
    const p = keeper.acquire();
    await clock.advance(10_000);
    expect(await state(p, clock)).toBe('pending');
    expect(refused.length).toBeGreaterThan(1);
    expect(keeper.stats().failures).toBe(refused.length);
    expect(new Set(refused)).toEqual(new Set(['public_ip']));
    alive = false;
    await clock.advance(5_000);
    expect(await state(p, clock)).toMatchObject({ subnet: theirs, how: 'reuse-public-ip' });
  });

  it('renews a lease adopted from the state cache at once, and re-acquires it when etcd no longer has it', async () => {
    const kept = setup();
    const entry = kept.store.put(subnet('10.244.4.0/24'), kept.keeper.leaseValue, 60);
    kept.keeper.adopt({ subnet: subnet('10.244.4.0/24'), key: entry.key, leaseId: entry.lease, modRevision: entry.modRevision, expiresAt: TTL_MS, how: 'previous-subnet' });
    kept.keeper.start();
    await kept.clock.advance(0);
    expect(kept.types()).toEqual(['renewed']);
    await kept.keeper.close();

    const gone = setup();
    gone.keeper.adopt({ subnet: subnet('10.244.4.0/24'), key: gone.store.keyOf(subnet('10.244.4.0/24')), leaseId: '77', modRevision: '5', expiresAt: TTL_MS, how: 'previous-subnet' });
    gone.keeper.start();
    await gone.clock.advance(0);
    expect(gone.types()).toEqual(['lost', 'acquired']);
    expect(gone.keeper.current?.subnet).toEqual(subnet('10.244.4.0/24'));
    await gone.keeper.close();
  });

  it('close() ends a retry at once, stops renewing and leaves the lease in the store', async () => {
    const { clock, store, keeper } = setup();
    const held = await keeper.acquire();
    keeper.start();
    store.down();
    await clock.advance(TTL_MS - MARGIN_MS + 1);
    expect(await state(keeper.close(), clock)).toBeUndefined();
    const calls = store.calls.length;
    store.up();
    await clock.advance(MARGIN_MS - 2);
    expect(store.calls.length).toBe(calls);
    expect(store.get(held.subnet)?.value).toBe(encodeLeaseValue(self));
  });
});
