// The one status source: GET /status (which `weftd status` prints) and every /metrics source read
// the daemon's live parts through here, at the moment they are asked, so the two never disagree.
// Peers are composed by status-compose.ts from the routes the peer router merged, the gossip view
// and the data plane's counters.
import type { Config } from './config/config.js';
import type { Underlay } from './config/underlay.js';
import { gossipCounters } from './control/gossip/index.js';
import type { IdentityConflicts } from './control/identity-conflicts.js';
import type { EtcdHealth } from './control/etcd/etcd-health.js';
import { formatCidr } from './net/ipv4.js';
import { formatCidr6 } from './net/ipv6.js';
import type { NetworkConfig } from './control/lease/network-config.js';
import type { ConfigReads } from './control/lease/network-config-source.js';
import type { HeldLease, LeaseKeeper } from './control/lease/lease-keeper.js';
import type { Overlay } from './control/overlay.js';
import type { DataplaneStats } from './dataplane/index.js';
import type { DataplaneSnapshot, DataplaneThreadSnapshot, MetricsSources } from './observability/metrics.js';
import type { Readiness } from './observability/readiness.js';
import { composePeers } from './observability/status-compose.js';
import { STATUS_VERSION, type NodeStatus, type PeerStatus, type WeftStatus } from './observability/status-types.js';

/** A data plane thread that does not answer a probe within this long is reported down. */
export const DATAPLANE_PROBE_TIMEOUT_MS = 1_000;

/** What the daemon holds now; each part is undefined until it exists (and the overlay while it moves). */
export interface LiveParts {
  readonly network: NetworkConfig | undefined;
  /** Inner MTU (FLANNEL_MTU). */
  readonly mtu: number | undefined;
  readonly keeper: Pick<LeaseKeeper, 'current' | 'stats'> | undefined;
  readonly overlay: Overlay | undefined;
  /** NodeLease.configChecks; 0 before the lease. */
  readonly configChecks: number;
}

export interface StatusSourceOptions {
  readonly cfg: Readonly<Config>;
  readonly underlay: Underlay;
  readonly vtepMac: string;
  readonly readiness: Readiness;
  readonly health: Pick<EtcdHealth, 'state'>;
  readonly identity: Pick<IdentityConflicts, 'counts' | 'refusals'>;
  /** Reads of the network config at start, counted by waitForNetworkConfig. */
  readonly configReads: Readonly<ConfigReads>;
  readonly live: () => LiveParts;
}

export class StatusSource {
  constructor(private readonly o: StatusSourceOptions) {}

  /** The /status document. */
  status(): WeftStatus {
    const { cfg, underlay, vtepMac, readiness } = this.o;
    const { network, mtu, keeper, overlay } = this.o.live();
    const lease = keeper?.current;
    const missing = readiness.missing();
    return {
      version: STATUS_VERSION,
      generatedAt: new Date().toISOString(),
      node: {
        name: cfg.nodeName,
        ...subnetStatus(network, lease),
        publicIP: underlay.publicIp,
        ...(network?.ipv6 ? { publicIPv6: underlay.ipv6?.publicIp ?? null } : {}),
        vtepMAC: vtepMac,
        leaseExpiry: lease ? new Date(lease.expiresAt).toISOString() : null,
        mtu: mtu ?? null,
        ipMasq: cfg.ipMasq,
        ready: missing.length === 0,
        notReady: missing,
        etcdUp: this.etcdUp(),
      },
      peers: overlay ? peerStatus(overlay) : [],
      drops: overlay ? Object.fromEntries(Object.entries(overlay.dataplane.stats().drops).filter(([, n]) => n > 0)) : {},
    };
  }

  /** The /metrics sources, each read once per scrape. */
  metricsSources(): MetricsSources {
    const live = this.o.live;
    return {
      lease: () => {
        const keeper = live().keeper;
        return { ...(keeper?.stats() ?? { renewals: 0, failures: 0 }), expiresAt: keeper?.current?.expiresAt };
      },
      etcd: () => ({ up: this.etcdUp() }),
      readiness: () => ({ ready: this.o.readiness.ready }),
      dataplane: () => {
        const overlay = live().overlay;
        return overlay ? dataplaneSnapshot(overlay) : { totals: { packetsIn: 0, packetsOut: 0, bytesIn: 0, bytesOut: 0 }, peers: [], drops: {}, routes: 0, routeSwaps: 0, busyPolls: { answered: 0, expired: 0 }, replayed: { in: 0, out: 0 } };
      },
      gossip: () => {
        const overlay = live().overlay;
        return overlay ? gossipCounters(overlay.gossip, overlay.refusals) : { members: {}, sent: {}, received: {}, rejected: {}, streams: {} };
      },
      dataplaneThread: () => {
        const overlay = live().overlay;
        return overlay && dataplaneThreadSnapshot(overlay);
      },
      identity: () => ({ conflicts: this.o.identity.counts, refusals: this.o.identity.refusals }),
      checks: () => {
        const { configChecks, overlay } = live();
        return { configReads: { ...this.o.configReads }, configChecks, resyncChecks: overlay?.resyncChecks() ?? {} };
      },
    };
  }

  private etcdUp(): boolean {
    return this.o.health.state === 'reachable';
  }
}

/** Peers with their gossip state and traffic. */
function peerStatus(overlay: Overlay): PeerStatus[] {
  const { peers, withdrawn } = overlay.router.current;
  const members = overlay.gossip.status().members.map((m) => ({ name: m.name, lastSeen: new Date(m.lastSeen ?? m.stateSince) }));
  return composePeers([...peers, ...withdrawn], members, overlay.dataplane.stats().peers);
}

function dataplaneSnapshot(overlay: Overlay, stats: DataplaneStats = overlay.dataplane.stats()): DataplaneSnapshot {
  return {
    totals: { packetsIn: stats.totals.rxPackets, packetsOut: stats.totals.txPackets, bytesIn: stats.totals.rxBytes, bytesOut: stats.totals.txBytes },
    peers: stats.peers.map((p) => ({ peer: p.nodeName ?? '', publicIp: p.publicIp, packetsIn: p.rxPackets, packetsOut: p.txPackets, bytesIn: p.rxBytes, bytesOut: p.txBytes })),
    drops: stats.drops,
    routes: overlay.dataplane.routes,
    routeSwaps: overlay.router.routeSwaps,
    busyPolls: { answered: stats.io.busyPollAnswers ?? 0, expired: (stats.io.busyPolls ?? 0) - (stats.io.busyPollAnswers ?? 0) },
    replayed: { in: stats.io.replayedIn ?? 0, out: stats.io.replayedOut ?? 0 },
  };
}

/** The data plane thread's liveness and lag: one probe, answered within DATAPLANE_PROBE_TIMEOUT_MS or counted as down. */
async function dataplaneThreadSnapshot(overlay: Overlay): Promise<DataplaneThreadSnapshot> {
  const rttMs = await overlay.dataplane.probe(DATAPLANE_PROBE_TIMEOUT_MS);
  return { up: rttMs !== undefined, lagSeconds: (rttMs ?? DATAPLANE_PROBE_TIMEOUT_MS) / 1000, busySeconds: overlay.dataplane.loopTime().active / 1000 };
}

/** The node's subnets and networks for /status: IPv4, and IPv6 with EnableIPv6; the IPv6 ones alone on an IPv6-only node. */
function subnetStatus(network: NetworkConfig | undefined, lease: HeldLease | undefined): Pick<NodeStatus, 'subnet' | 'network' | 'subnet6' | 'network6'> {
  const subnet6 = lease?.subnet6 ? formatCidr6(lease.subnet6) : null;
  const network6 = network?.ipv6 ? formatCidr6(network.ipv6.network) : undefined;
  if (network?.ipv6Only) return { subnet: subnet6, network: network6 ?? null, subnet6, network6 };
  const v4 = { subnet: lease ? formatCidr(lease.subnet) : null, network: network ? formatCidr(network.network) : null };
  return network6 === undefined ? v4 : { ...v4, subnet6, network6 };
}
