// This node's place in the overlay, end to end: acquire the subnet lease (preferring the subnet
// of the previous subnet file), write subnet.env, keep renewing, rewrite subnet.env if a lost
// lease comes back as a different subnet, and follow the peers' leases. resume() starts from the
// state cache instead, while etcd is away; the keeper verifies the lease once etcd answers. Every
// change of the lease or the peers is saved to the state cache. A start that cannot keep the
// previous run's subnet (the network config changed, or another node holds it) says so, since the
// pods started on it are cut off; a network config changed while running is reported
// (network-config-watch.ts). Peer changes are saved at most once per PEER_SAVE_DELAY_MS (the file
// holds every peer: saving it per lease written would make each change cost O(peers)).
import type { Etcd3 } from 'etcd3';
import type { Clock, TimerHandle } from '../../clock.js';
import type { Config } from '../../config/config.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { EtcdHealth } from '../etcd/etcd-health.js';
import { formatCidr, sameSubnet, type Subnet4 } from '../../net/ipv4.js';
import { formatCidr6, sameSubnet6, type Subnet6 } from '../../net/ipv6.js';
import { sameSubnets } from './allocator.js';
import type { IdentityGuard } from './identity-guard.js';
import type { OwnLeaseAttrs } from './lease-codec.js';
import { LeaseKeeper, type HeldLease } from './lease-keeper.js';
import type { LeaseStore } from './lease-store.js';
import { LeaseWatcher } from './lease-watcher.js';
import { subnetFitsConfig, type NetworkConfig } from './network-config.js';
import { NetworkConfigWatch } from './network-config-watch.js';
import { snapshotOf, type CachedState, type StateCache } from './state-cache.js';
import { readPreviousSubnet, writeSubnetFile } from './subnet-file.js';
import { LogEvent } from '../../observability/log-events.js';

/** How long close() waits for etcd calls in flight. */
export const CLOSE_WAIT_MS = 500;
/** Peer changes within this long of each other are saved to the state cache together. */
export const PEER_SAVE_DELAY_MS = 1_000;

export interface NodeLeaseOptions {
  /** Read: etcdPrefix, subnetLeaseTtlMs, subnetLeaseRenewMarginMs, subnetFile, ipMasq. */
  readonly cfg: Readonly<Config>;
  readonly store: LeaseStore;
  /** Where `<prefix>/config` is followed (network-config-watch.ts). */
  readonly etcd: { readonly client: Etcd3; readonly health: EtcdHealth };
  readonly clock: Clock;
  readonly log: Logger;
  readonly network: NetworkConfig;
  readonly attrs: OwnLeaseAttrs;
  /** FLANNEL_MTU: the inner MTU (underlay or Backend.MTU − 50). */
  readonly mtu: number;
  /** Told false while the lease is lost and being re-acquired, true once it is held again. */
  readonly onHeld: (held: boolean) => void;
  /** Where the lease, network config and peers are saved on every change. */
  readonly cache: StateCache;
  /** Keeps this node from taking the lease of a live node that has its name or public IP. */
  readonly identity?: IdentityGuard;
}

export class NodeLease {
  /** The last state-cache write error, logged once until a write succeeds. */
  private saveError = '';
  /** A save of peer changes, due within PEER_SAVE_DELAY_MS. */
  private pendingSave: TimerHandle | undefined;

  private readonly configWatch: NetworkConfigWatch;

  private constructor(
    readonly keeper: LeaseKeeper,
    readonly watcher: LeaseWatcher,
    private readonly o: NodeLeaseOptions,
  ) {
    this.configWatch = new NetworkConfigWatch({ client: o.etcd.client, health: o.etcd.health, prefix: o.cfg.etcdPrefix, running: o.network, subnet: () => keeper.current?.subnet, log: o.log });
  }

  /** Times the network config in etcd was compared with the running one (NetworkConfigWatch.checks). */
  get configChecks(): number {
    return this.configWatch.checks;
  }

  /** The lease currently held; undefined while re-acquiring. */
  get lease(): HeldLease | undefined {
    return this.keeper.current;
  }

  /**
   * Acquires the lease (waiting through etcd outages and exhaustion), writes subnet.env and
   * starts renewal and the peer watcher. Resolves undefined if `signal` aborts first.
   */
  static async start(o: NodeLeaseOptions, signal: AbortSignal): Promise<NodeLease | undefined> {
    const previous = readPreviousSubnet(o.cfg.subnetFile);
    if (previous.problem) o.log.warn({ file: o.cfg.subnetFile }, `previous subnet file not reused: ${previous.problem}`);
    const keeper = keeperFor(o, previous.subnet, previous.subnet6);
    let watcher: LeaseWatcher | undefined;
    const stop = (): void => {
      void keeper.close();
      void watcher?.close();
    };
    signal.addEventListener('abort', stop, { once: true });
    const lease = signal.aborted ? undefined : await keeper.acquire().catch((err: unknown) => {
      if (signal.aborted) return undefined;
      throw err;
    });
    if (!lease) return undefined;
    reportMovedSubnet(o, previous, lease);
    await writeLeaseFile(o, lease);
    watcher = new LeaseWatcher({ store: o.store, log: o.log, ownKey: lease.key, ipv6Only: o.network.ipv6Only });
    const node = new NodeLease(keeper, watcher, o);
    node.follow(o);
    keeper.start();
    await watcher.start();
    signal.removeEventListener('abort', stop);
    if (signal.aborted) return undefined;
    void node.configWatch.start();
    node.save(o);
    o.log.info({ peers: watcher.snapshot().size }, 'watching peer leases');
    return node;
  }

  /**
   * Starts from the state cache without waiting for etcd: the cached lease is taken as held and
   * the cached peers are served until etcd's first listing; renewal (which verifies the lease)
   * and the peer watch retry until etcd answers.
   */
  static async resume(o: NodeLeaseOptions, cached: CachedState): Promise<NodeLease> {
    const keeper = keeperFor(o, cached.lease.subnet, cached.lease.subnet6);
    keeper.adopt(cached.lease);
    await writeLeaseFile(o, cached.lease);
    const watcher = new LeaseWatcher({ store: o.store, log: o.log, ownKey: cached.lease.key, initial: snapshotOf(cached.peers), ipv6Only: o.network.ipv6Only });
    const node = new NodeLease(keeper, watcher, o);
    node.follow(o);
    keeper.start();
    void watcher.start();
    void node.configWatch.start();
    o.log.info({ peers: cached.peers.length }, 'serving cached peer leases until etcd answers');
    return node;
  }

  /** Keeps subnet.env, readiness, the watcher's own key and the state cache in step with the keeper. */
  private follow(o: NodeLeaseOptions): void {
    this.keeper.onEvent((e) => {
      if (e.type === 'lost') return o.onHeld(false);
      this.save(o);
      if (e.type === 'renewed') return;
      this.watcher.setOwnKey(e.lease.key);
      if (e.previous && sameSubnets(e.previous, e.lease)) return o.onHeld(true);
      writeLeaseFile(o, e.lease).then(
        () => o.onHeld(true),
        (err: unknown) => o.log.error(errorMessage(err)),
      );
    });
    this.watcher.onPeerChanges(() => {
      this.pendingSave ??= o.clock.setTimer('state-cache-save', PEER_SAVE_DELAY_MS, () => this.save(o));
    });
  }

  private save(o: NodeLeaseOptions): void {
    this.pendingSave?.cancel();
    this.pendingSave = undefined;
    const lease = this.keeper.current;
    if (!lease) return;
    try {
      o.cache.save({ network: o.network, lease, peers: [...this.watcher.snapshot().values()] });
      this.saveError = '';
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this.saveError) o.log.warn({ file: o.cache.file, err: message }, 'cannot save the state cache; a restart while etcd is away will wait for etcd');
      this.saveError = message;
    }
  }

  /**
   * Stops renewal and watching; the lease stays in etcd for the next start. An etcd call still in
   * flight (etcd hanging: up to its deadline) is not waited for beyond CLOSE_WAIT_MS.
   */
  async close(): Promise<void> {
    if (this.pendingSave) this.save(this.o);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all([this.watcher.close(), this.keeper.close(), this.configWatch.close()]), late]);
    clearTimeout(timer);
  }
}

function keeperFor(o: NodeLeaseOptions, previousSubnet: Subnet4 | undefined, previousSubnet6: Subnet6 | undefined): LeaseKeeper {
  const { cfg } = o;
  return new LeaseKeeper({ store: o.store, clock: o.clock, log: o.log, network: o.network, attrs: o.attrs, ttlMs: cfg.subnetLeaseTtlMs, renewMarginMs: cfg.subnetLeaseRenewMarginMs, previousSubnet, previousSubnet6, identity: o.identity });
}

/** One line when the acquired subnet is not the previous run's: pods started on that one are cut off. */
function reportMovedSubnet(o: NodeLeaseOptions, previous: { subnet?: Subnet4; network?: Subnet4; subnet6?: Subnet6 }, lease: HeldLease): void {
  if (o.network.ipv6Only) return reportMovedSubnet6(o, previous.subnet6, lease);
  const old = previous.subnet;
  if (!old || sameSubnet(old, lease.subnet)) return;
  const fits = subnetFitsConfig(o.network, old);
  const why = fits
    ? `is held by another node (or another lease carries this node's public IP)`
    : `does not fit the network config now in etcd (Network ${formatCidr(o.network.network)}, SubnetLen ${o.network.subnetLen}${previous.network ? `; it was in ${formatCidr(previous.network)}` : ''})`;
  o.log.error(
    { event: LogEvent.subnetMoved, oldSubnet: formatCidr(old), newSubnet: formatCidr(lease.subnet), oldNetwork: previous.network ? formatCidr(previous.network) : null, network: formatCidr(o.network.network), file: o.cfg.subnetFile },
    `this node's previous subnet ${formatCidr(old)} (from ${o.cfg.subnetFile}) ${why}; it now has ${formatCidr(lease.subnet)}. ` +
      `Pods started before hold addresses in ${formatCidr(old)} that no longer route: re-create them ` +
      `(e.g. kubectl delete pod -A --field-selector spec.nodeName=${o.attrs.nodeName})`,
  );
}

/** reportMovedSubnet for an IPv6-only node: its one subnet is the IPv6 one. */
function reportMovedSubnet6(o: NodeLeaseOptions, old: Subnet6 | undefined, lease: HeldLease): void {
  if (!old || !lease.subnet6 || sameSubnet6(old, lease.subnet6)) return;
  const now = formatCidr6(lease.subnet6);
  o.log.error(
    { event: LogEvent.subnetMoved, oldSubnet6: formatCidr6(old), newSubnet6: now, network6: o.network.ipv6 ? formatCidr6(o.network.ipv6.network) : null, file: o.cfg.subnetFile },
    `this node's previous IPv6 subnet ${formatCidr6(old)} (from ${o.cfg.subnetFile}) is held by another node or does not fit the network config now in etcd; it now has ${now}. ` +
      `Pods started before hold addresses that no longer route: re-create them (e.g. kubectl delete pod -A --field-selector spec.nodeName=${o.attrs.nodeName})`,
  );
}

async function writeLeaseFile(o: NodeLeaseOptions, l: HeldLease): Promise<void> {
  const { subnetFile, ipMasq } = o.cfg;
  const ipv6 = o.network.ipv6 && l.subnet6 ? { network: o.network.ipv6.network, subnet: l.subnet6 } : undefined;
  const v4 = o.network.ipv6Only ? { network: undefined, subnet: undefined } : { network: o.network.network, subnet: l.subnet };
  await writeSubnetFile(subnetFile, { ...v4, ipv6, mtu: o.mtu, ipMasq });
  o.log.info({ file: subnetFile, ...(v4.subnet ? { subnet: formatCidr(v4.subnet) } : {}), ...(ipv6 ? { subnet6: formatCidr6(ipv6.subnet) } : {}), mtu: o.mtu, ipMasq }, 'subnet file written');
}
