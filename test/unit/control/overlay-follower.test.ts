// The overlay following the lease, with a stand-in overlay: started on the held lease, left alone
// when the lease comes back on the same subnet, moved (old closed first, readiness down meanwhile)
// when it comes back on another, moves serialised, a failed move reported, close() waiting for a
// move in flight.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseSubnet } from '../../../daemon/net/ipv4.js';
import type { HeldLease, KeeperEvent } from '../../../daemon/control/lease/lease-keeper.js';
import { OverlayFollower } from '../../../daemon/control/overlay-follower.js';

function lease(n: number): HeldLease {
  return { subnet: { base: parseSubnet(`10.244.${n}.0/24`)!.base, len: 24 }, key: `/coreos.com/network/subnets/10.244.${n}.0-24`, leaseId: String(n), modRevision: String(n), expiresAt: 0, how: 'random' };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

class StandIn {
  closedWith: unknown = 'open';
  constructor(
    readonly lease: HeldLease,
    private readonly trace: string[],
  ) {}
  async close(opts?: { removeTun?: boolean }): Promise<void> {
    this.trace.push(`close ${this.lease.leaseId}${opts ? ` ${JSON.stringify(opts)}` : ''}`);
    this.closedWith = opts;
  }
}

function setup(o: { gate?: (l: HeldLease) => Promise<void> } = {}) {
  const trace: string[] = [];
  const listeners = new Set<(e: KeeperEvent) => void>();
  const failures: unknown[] = [];
  const follower = new OverlayFollower<StandIn, { removeTun?: boolean }>({
    keeper: { onEvent: (fn) => (listeners.add(fn), () => listeners.delete(fn)) },
    start: async (l) => {
      trace.push(`start ${l.leaseId}`);
      await o.gate?.(l);
      if (l.leaseId === '9') throw new Error('TUN busy');
      return new StandIn(l, trace);
    },
    onUp: (up) => trace.push(up ? 'up' : 'down'),
    onFailure: (err) => failures.push(err),
    log: pino({ level: 'silent' }),
  });
  const acquired = (l: HeldLease, previous?: HeldLease): void => {
    for (const fn of listeners) fn({ type: 'acquired', lease: l, previous });
  };
  return { trace, follower, acquired, failures, listeners };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('overlay follower', () => {
  it('starts on the held lease and stays when the lease comes back on the same subnet', async () => {
    const { trace, follower, acquired } = setup();
    await follower.follow(lease(1));
    acquired({ ...lease(1), leaseId: '1b' }, lease(1));
    await settle();
    expect(trace).toEqual(['down', 'start 1', 'up']);
    expect(follower.current?.lease.leaseId).toBe('1');
  });

  it('moves to a new subnet: down, the old overlay closed, the new one started, up', async () => {
    const { trace, follower, acquired } = setup();
    await follower.follow(lease(1));
    const first = follower.current;
    acquired(lease(2), lease(1));
    await settle();
    expect(trace).toEqual(['down', 'start 1', 'up', 'down', 'close 1', 'start 2', 'up']);
    expect(first?.closedWith).toBeUndefined();
    expect(follower.current?.lease.leaseId).toBe('2');
  });

  it('serialises moves, and follows a lease changed while the first start runs', async () => {
    const gate = deferred();
    const { trace, follower, acquired } = setup({ gate: (l) => (l.leaseId === '1' ? gate.promise : Promise.resolve()) });
    const first = follower.follow(lease(1));
    acquired(lease(2), lease(1));
    acquired(lease(3), lease(2));
    await settle();
    expect(trace).toEqual(['down', 'start 1']);
    gate.resolve();
    await first;
    await settle();
    expect(trace).toEqual(['down', 'start 1', 'up', 'down', 'close 1', 'start 2', 'up', 'down', 'close 2', 'start 3', 'up']);
  });

  it('reports a move that cannot start the overlay', async () => {
    const { follower, acquired, failures } = setup();
    await follower.follow(lease(1));
    acquired(lease(9), lease(1));
    await settle();
    expect(failures).toHaveLength(1);
    expect(follower.current).toBeUndefined();
  });

  it('close() waits for a move in flight, closes what it started with the options given, and stops listening', async () => {
    const gate = deferred();
    const { trace, follower, acquired, listeners } = setup({ gate: (l) => (l.leaseId === '2' ? gate.promise : Promise.resolve()) });
    await follower.follow(lease(1));
    acquired(lease(2), lease(1));
    await settle();
    const closing = follower.close({ removeTun: true });
    expect(listeners.size).toBe(0);
    gate.resolve();
    await closing;
    expect(trace.slice(-2)).toEqual(['up', 'close 2 {"removeTun":true}']);
    expect(follower.current).toBeUndefined();
  });
});
