// The state cache (what weftd needs to start while etcd is away) and the start-source choice:
// etcd when it answers in time, the cache when it does not and the cached lease is unexpired,
// else keep waiting for etcd.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseNetworkConfig, type NetworkConfig } from '../../../../daemon/control/lease/network-config.js';
import type { HeldLease } from '../../../../daemon/control/lease/lease-keeper.js';
import type { PeerLease } from '../../../../daemon/control/lease/lease-watcher.js';
import { chooseStartSource } from '../../../../daemon/control/lease/start-source.js';
import { snapshotOf, StateCache, STATE_CACHE_FILE, type CachedState } from '../../../../daemon/control/lease/state-cache.js';
import { createLogger } from '../../../../daemon/observability/logger.js';

const network = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
const subnet = (third: number) => ({ base: ((10 << 24) | (244 << 16) | (third << 8)) >>> 0, len: 24 });
const lease = (expiresAt: number): HeldLease => ({ subnet: subnet(1), key: '/coreos.com/network/subnets/10.244.1.0-24', leaseId: '7587', modRevision: '42', expiresAt, how: 'previous-subnet' });
const peer: PeerLease = { subnetKey: '10.244.2.0-24', subnet: subnet(2), publicIp: '198.18.0.2', vni: 1, vtepMac: '0a:00:00:00:00:02', gossipPort: 8473, nodeName: 'node2' };
const flannelPeer: PeerLease = { subnetKey: '10.244.3.0-24', subnet: subnet(3), publicIp: '198.18.0.3', vni: 1, vtepMac: '0a:00:00:00:00:03', gossipPort: undefined, nodeName: undefined };
const log = createLogger('silent');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('StateCache', () => {
  it('saves atomically (0600, no temp file left) and loads back what it saved', () => {
    const cache = new StateCache(join(dir, 'nested'));
    const state: CachedState = { network, lease: lease(Date.now() + 60_000), peers: [peer, flannelPeer] };
    cache.save(state);
    expect(readdirSync(join(dir, 'nested'))).toEqual([STATE_CACHE_FILE]);
    expect(statSync(cache.file).mode & 0o777).toBe(0o600);
    const loaded = cache.load();
    expect(loaded.state).toEqual(state);
    const snap = snapshotOf(loaded.state!.peers);
    expect([...snap.keys()]).toEqual(['10.244.2.0-24', '10.244.3.0-24']);
    expect(Object.isFrozen(snap.get('10.244.2.0-24'))).toBe(true);
  });

  it('keeps a dual-stack network and lease (their IPv6 bigints) across a save and a load', () => {
    const cache = new StateCache(dir);
    const dual = parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}');
    const subnet6 = { base: 0xfd000010024400010000000000000000n, len: 64 };
    const state: CachedState = { network: dual, lease: { ...lease(Date.now() + 60_000), subnet6, key: '/coreos.com/network/subnets/10.244.1.0-24&fd00:10:244:1::-64' }, peers: [peer] };
    cache.save(state);
    expect(cache.load().state).toEqual(state);
  });

  it('a later save replaces the earlier one', () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [peer] });
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [] });
    expect(cache.load().state?.peers).toEqual([]);
  });

  it('refuses a missing file, garbage, another version, a malformed body and an expired lease, saying why', () => {
    const cache = new StateCache(dir);
    expect(cache.load()).toMatchObject({ state: undefined, reason: expect.stringContaining('no ') });
    writeFileSync(cache.file, '{not json');
    expect(cache.load()).toMatchObject({ state: undefined, reason: expect.stringContaining('unreadable') });
    writeFileSync(cache.file, JSON.stringify({ version: 2 }));
    expect(cache.load()).toMatchObject({ state: undefined, reason: expect.stringContaining('version 1') });
    writeFileSync(cache.file, JSON.stringify({ version: 1, network, lease: { ...lease(Date.now() + 60_000), subnet: '10.244.1.0/24' }, peers: [] }));
    expect(cache.load()).toMatchObject({ state: undefined, reason: expect.stringContaining('malformed') });
    writeFileSync(cache.file, JSON.stringify({ version: 1, network, lease: lease(Date.now() + 60_000), peers: [{ subnetKey: 'x' }] }));
    expect(cache.load()).toMatchObject({ state: undefined, reason: expect.stringContaining('malformed') });
    cache.save({ network, lease: lease(1_000), peers: [] });
    expect(cache.load(2_000)).toMatchObject({ state: undefined, reason: expect.stringContaining('expired') });
    expect(cache.load(500).state).toBeDefined();
  });
});

describe('chooseStartSource', () => {
  const never = (signal: AbortSignal): Promise<NetworkConfig | undefined> => new Promise((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));

  function options(cache: StateCache, waitForEtcd: (s: AbortSignal) => Promise<NetworkConfig | undefined>, etcdAnswered = false) {
    return { waitForEtcd, etcdAnswered: () => etcdAnswered, cache, graceMs: 50, log, signal: new AbortController().signal };
  }

  it('etcd in time: etcd, whatever the cache holds', async () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [] });
    await expect(chooseStartSource(options(cache, async () => network))).resolves.toEqual({ mode: 'etcd', network });
  });

  it('etcd silent past the grace time with an unexpired cache: the cache, and the etcd wait is aborted', async () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [peer] });
    let aborted = false;
    const src = await chooseStartSource(
      options(cache, (signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return never(signal);
      }),
    );
    expect(src).toMatchObject({ mode: 'state-cache', network, state: { peers: [peer] } });
    expect(aborted).toBe(true);
  });

  it('etcd hanging (a call that ignores the abort until its deadline): the cache at the grace time, not at the deadline', async () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [] });
    let deadlinePassed = false;
    const src = await chooseStartSource(options(cache, () => new Promise((_, reject) => setTimeout(() => ((deadlinePassed = true), reject(new Error('deadline exceeded'))), 1_000))));
    expect(src?.mode).toBe('state-cache');
    expect(deadlinePassed).toBe(false);
  });

  it('etcd silent and no usable cache: keeps waiting for etcd', async () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() - 1), peers: [] });
    let answered = false;
    const src = await chooseStartSource(options(cache, () => new Promise((resolve) => setTimeout(() => ((answered = true), resolve(network)), 200))));
    expect(src).toEqual({ mode: 'etcd', network });
    expect(answered).toBe(true);
  });

  it('etcd answers but the config is missing: waits for etcd rather than using the cache', async () => {
    const cache = new StateCache(dir);
    cache.save({ network, lease: lease(Date.now() + 60_000), peers: [] });
    const src = await chooseStartSource(options(cache, () => new Promise((resolve) => setTimeout(() => resolve(network), 150)), true));
    expect(src).toEqual({ mode: 'etcd', network });
  });

  it('resolves undefined when stopped while waiting', async () => {
    const stop = new AbortController();
    const src = chooseStartSource({ ...options(new StateCache(dir), never), signal: stop.signal });
    setTimeout(() => stop.abort(), 100);
    await expect(src).resolves.toBeUndefined();
  });
});
