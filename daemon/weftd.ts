// One weftd, from a validated config and its underlay: its parts constructed, started in order
// and closed in reverse.
//   constructor: readiness, etcd client and health, health server, status source, metrics
//   start: health server → start source (etcd's network config, or the state cache while etcd is
//          away) → cluster key → node lease (acquire or resume, subnet.env, keeper, peer watcher)
//          → overlay following the lease (data plane, gossip, routes, ip-masq) → ready
//   close: overlay (TUN kept unless --remove-tun-on-exit) → lease (kept in etcd) → etcd → server
import type { Etcd3 } from 'etcd3';
import { realClock } from './clock.js';
import type { Config } from './config/config.js';
import type { Underlay } from './config/underlay.js';
import { resolveClusterKey } from './control/cluster-key-source.js';
import { createEtcdClient } from './control/etcd/etcd-client.js';
import { EtcdHealth } from './control/etcd/etcd-health.js';
import { gossipAnswers } from './control/gossip/index.js';
import { IdentityConflicts, leaseIdentityGuard } from './control/identity-conflicts.js';
import { EtcdLeaseStore } from './control/lease/etcd-lease-store.js';
import type { LeaseHolder } from './control/lease/identity-guard.js';
import { leaseOwnerIp, NO_PUBLIC_IP, type OwnLeaseAttrs } from './control/lease/lease-codec.js';
import type { NetworkConfig } from './control/lease/network-config.js';
import { noConfigReads, waitForNetworkConfig } from './control/lease/network-config-source.js';
import { NodeLease, type NodeLeaseOptions } from './control/lease/node-lease.js';
import { chooseStartSource, type StartSource } from './control/lease/start-source.js';
import { StateCache } from './control/lease/state-cache.js';
import { deriveVtepMac } from './control/lease/vtep-mac.js';
import { Overlay } from './control/overlay.js';
import { OverlayFollower } from './control/overlay-follower.js';
import { OVERHEAD } from './dataplane/constants.js';
import { WeftError, errorMessage } from './errors.js';
import { formatCidr, formatIpv4 } from './net/ipv4.js';
import { formatCidr6 } from './net/ipv6.js';
import { HealthServer } from './observability/health-server.js';
import { subsystemLogger, type Logger } from './observability/logger.js';
import { createMetrics } from './observability/metrics.js';
import { Readiness } from './observability/readiness.js';
import { StatusSource } from './status-source.js';
import { LogEvent } from './observability/log-events.js';

type Follower = OverlayFollower<Overlay, { readonly removeTun?: boolean }>;

interface LeaseStart {
  readonly source: StartSource;
  /** Inner MTU (FLANNEL_MTU). */
  readonly mtu: number;
  readonly cache: StateCache;
  readonly log: Logger;
  /** Whether a live weftd answers gossip as the holder of a lease this node would take. */
  readonly alive: (holder: LeaseHolder) => Promise<boolean>;
}

export class Weftd {
  private readonly readiness = new Readiness();
  private readonly leaseReady = this.readiness.register('lease');
  private readonly fileReady = this.readiness.register('subnet-file');
  private readonly tunReady = this.readiness.register('tun');
  private readonly etcd: Etcd3;
  private readonly health: EtcdHealth;
  private readonly identity: IdentityConflicts;
  private readonly server: HealthServer | undefined;
  private readonly vtepMac: string;
  private network: NetworkConfig | undefined;
  private mtu: number | undefined;
  private nodeLease: NodeLease | undefined;
  private readonly configReads = noConfigReads();
  private follower: Follower | undefined;

  constructor(
    private readonly cfg: Readonly<Config>,
    private readonly underlay: Underlay,
    private readonly log: Logger,
    version: string,
  ) {
    this.etcd = createEtcdClient(cfg);
    const etcd = this.etcd;
    this.health = new EtcdHealth(subsystemLogger(log, 'etcd'), cfg.etcdEndpoints, () => etcd.maintenance.status());
    // etcd down leaves the node ready: its data plane keeps forwarding on the held lease and known
    // routes, and weft-cni's STATUS follows /readyz, so failing it would mark every node's network
    // NotReady at once for a control-plane outage. /readyz says so instead.
    this.readiness.note(() => {
      const since = this.health.downSince;
      return since === undefined ? undefined : `etcd unreachable since ${new Date(since).toISOString()} (forwarding continues; lease renewal and peer changes wait for etcd)`;
    });
    this.identity = new IdentityConflicts(log);
    this.vtepMac = deriveVtepMac(cfg.nodeName, underlay.publicIp);
    const status = new StatusSource({
      cfg,
      underlay,
      vtepMac: this.vtepMac,
      readiness: this.readiness,
      health: this.health,
      identity: this.identity,
      configReads: this.configReads,
      live: () => ({ network: this.network, mtu: this.mtu, keeper: this.nodeLease?.keeper, overlay: this.follower?.current, configChecks: this.nodeLease?.configChecks ?? 0 }),
    });
    const metrics = createMetrics(status.metricsSources(), { build: { version, nodeVersion: process.version }, perPeer: cfg.metricsPerPeer });
    this.server = cfg.healthzPort === 0 ? undefined : new HealthServer({ host: cfg.healthzIp, port: cfg.healthzPort, readiness: this.readiness, status: () => status.status() });
    this.server?.setMetrics(() => metrics.scrape());
  }

  /**
   * Starts everything; resolves false if `stop` aborts before the node is ready. A failure to
   * move the overlay later on (a subnet change) aborts `stop`.
   */
  async start(stop: AbortController): Promise<boolean> {
    const { cfg, log } = this;
    await this.listen();
    const cache = new StateCache(cfg.stateDir);
    const leaseLog = subsystemLogger(log, 'lease');
    const source = await chooseStartSource({
      waitForEtcd: (signal) => waitForNetworkConfig(this.etcd, cfg.etcdPrefix, this.health, leaseLog, signal, this.configReads),
      etcdAnswered: () => this.health.state === 'reachable',
      cache,
      log: leaseLog,
      signal: stop.signal,
    });
    if (!source) return false;
    const network = source.network;
    this.network = network;
    const v4 = network.ipv6Only ? { network: null } : { network: formatCidr(network.network), subnetLen: network.subnetLen, subnetMin: formatIpv4(network.subnetMin), subnetMax: formatIpv4(network.subnetMax) };
    log.info({ ...v4, backend: network.backend }, 'network config');
    if (!network.ipv6Only && this.underlay.noIpv4) {
      throw new WeftError('WEFT_ERR_UNDERLAY', `the underlay interface ${this.underlay.iface} has no IPv4 address and the network config (${cfg.etcdPrefix}/config) enables IPv4; give it one, choose another with --iface, or set --public-ip`);
    }
    const mtu = (network.backend.mtu ?? this.underlay.mtu) - OVERHEAD;
    this.mtu = mtu;
    if (network.ipv6Only) {
      log.info({ ipv6Network: formatCidr6(network.ipv6!.network), ipv6SubnetLen: network.ipv6!.subnetLen, publicIPv6: this.underlay.ipv6?.publicIp ?? null }, 'EnableIPv4 false: an IPv6-only network, carried between all nodes (weft and Flannel) over the IPv6 underlay');
    } else if (network.ipv6) {
      log.info(
        { ipv6Network: formatCidr6(network.ipv6.network), ipv6SubnetLen: network.ipv6.subnetLen, publicIPv6: this.underlay.ipv6?.publicIp ?? null },
        'EnableIPv6: IPv6 pod traffic between weft nodes is carried over the IPv4 underlay; towards Flannel (kernel VXLAN) nodes over the IPv6 underlay, as their flannel-v6.1 expects',
      );
    }

    // Before the lease: the keeper asks, by gossip, whether a lease it would take is held by a live node.
    const gossipLog = subsystemLogger(log, 'gossip');
    const clusterKey = await resolveClusterKey({ keyFile: cfg.gossipKeyFile, etcd: this.etcd, prefix: cfg.etcdPrefix, stateDir: cfg.stateDir, log: gossipLog, cachedFirst: source.mode === 'state-cache' });
    const alive = (holder: LeaseHolder): Promise<boolean> => gossipAnswers({ key: clusterKey, sender: cfg.nodeName, logger: gossipLog }, holder);
    const node = await this.startLease({ source, mtu, cache, log: leaseLog, alive }, stop.signal);
    if (!node) return false;
    this.nodeLease = node;

    const follower: Follower = new OverlayFollower({
      keeper: node.keeper,
      start: (lease) => Overlay.start({ cfg, network, lease, underlay: this.underlay, vtepMac: this.vtepMac, vtepMac6: ownVtep6(network, this.underlay, cfg)?.vtepMac, mtu, watcher: node.watcher, clusterKey, log, identity: this.identity }),
      onUp: (up) => this.tunReady.set(up),
      onFailure: () => stop.abort(),
      log,
    });
    this.follower = follower;
    await follower.follow(node.lease);

    this.leaseReady.set(node.lease !== undefined);
    this.fileReady.set(true);
    log.info({ event: LogEvent.ready, subnet: node.lease ? (network.ipv6Only && node.lease.subnet6 ? formatCidr6(node.lease.subnet6) : formatCidr(node.lease.subnet)) : null, vtepMAC: this.vtepMac, publicIP: this.underlay.publicIp, startedFrom: source.mode }, source.mode === 'etcd' ? 'ready' : 'ready (started from the state cache while etcd is away)');
    return true;
  }

  /** Stops everything, each step even if an earlier one failed; the lease stays in etcd for the next start. */
  async close(): Promise<void> {
    const steps = [() => this.follower?.close({ removeTun: this.cfg.removeTunOnExit }), () => this.nodeLease?.close(), () => this.health.close(), () => this.server?.close(), () => this.etcd.close()];
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
  }

  private async listen(): Promise<void> {
    const { server, cfg } = this;
    if (!server) return;
    await server.listen().catch((err: Error) => {
      throw new Error(`cannot serve health on ${cfg.healthzIp}:${cfg.healthzPort} (${err.message}); choose another --healthz-port, or 0 to disable`);
    });
    this.log.info({ address: `${cfg.healthzIp}:${server.port}` }, 'health server listening (/healthz /readyz /status /metrics)');
  }

  /** Acquires the lease (or resumes the cached one while etcd is away); undefined if `signal` aborts first. */
  private async startLease(s: LeaseStart, signal: AbortSignal): Promise<NodeLease | undefined> {
    const { cfg, underlay } = this;
    const { source, log } = s;
    const network = source.network;
    const v6 = ownVtep6(network, underlay, cfg);
    const ipv6Only = network.ipv6Only === true;
    const attrs: OwnLeaseAttrs = { publicIp: ipv6Only ? NO_PUBLIC_IP : underlay.publicIp, vni: network.backend.vni, vtepMac: this.vtepMac, gossipPort: cfg.gossipPort, nodeName: cfg.nodeName, csumElision: cfg.csumElision, v6, ...(ipv6Only ? { ipv6Only } : {}) };
    const o: NodeLeaseOptions = {
      cfg,
      store: new EtcdLeaseStore({ client: this.etcd, prefix: cfg.etcdPrefix, health: this.health, log }),
      etcd: { client: this.etcd, health: this.health },
      clock: realClock,
      log,
      network,
      attrs,
      mtu: s.mtu,
      onHeld: (held) => this.leaseReady.set(held),
      cache: s.cache,
      identity: leaseIdentityGuard(this.identity, { name: cfg.nodeName, publicIp: leaseOwnerIp(attrs) }, s.alive),
    };
    return source.mode === 'state-cache' ? NodeLease.resume(o, source.state) : NodeLease.start(o, signal);
  }
}

/**
 * Dual-stack and IPv6-only: the IPv6 VTEP this node advertises (PublicIPv6 and BackendV6Data.VtepMAC, derived as
 * the IPv4 one from the node name and its IPv6 address); undefined without EnableIPv6. Throws
 * WEFT_ERR_UNDERLAY when EnableIPv6 is set and the underlay has no IPv6 address.
 */
function ownVtep6(network: NetworkConfig, underlay: Underlay, cfg: Readonly<Config>): OwnLeaseAttrs['v6'] {
  if (!network.ipv6) return undefined;
  if (!underlay.ipv6) {
    throw new WeftError('WEFT_ERR_UNDERLAY', `the network config (${cfg.etcdPrefix}/config) has EnableIPv6, but the underlay interface ${underlay.iface} has no global IPv6 address to advertise as PublicIPv6; give it one, choose another with --iface, or set --public-ipv6`);
  }
  return { publicIp: underlay.ipv6.publicIp, vtepMac: deriveVtepMac(cfg.nodeName, underlay.ipv6.publicIp) };
}
