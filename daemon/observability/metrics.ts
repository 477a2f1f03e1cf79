// Prometheus metrics for /metrics. Nothing is counted here: every weft metric is read from a
// *source* (a function returning a plain snapshot of counters the subsystem already keeps, such
// as the data plane's typed arrays) when Prometheus scrapes, so the packet path pays nothing.
// render() calls each source once per scrape (awaiting it if it returns a promise, e.g. a data
// plane in a worker thread), then formats. A private Registry (never prom-client's global one)
// also carries the default process metrics.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Traffic with one peer since the data plane started (monotonic). */
export interface PeerTraffic {
  /** Node name, or the public IP when the name is unknown (a Flannel node). */
  readonly peer: string;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface DataplaneSnapshot {
  readonly peers: readonly PeerTraffic[];
  /** Drop reason → packets dropped (monotonic). */
  readonly drops: Readonly<Record<string, number>>;
  /** Entries in the route table the data plane uses now. */
  readonly routes: number;
  /** Route tables installed since start. */
  readonly routeSwaps: number;
}

export interface LeaseSnapshot {
  readonly renewals: number;
  readonly failures: number;
}

export interface GossipSnapshot {
  /** Member state (alive, suspect, dead) → members known in that state. */
  readonly members: Readonly<Record<string, number>>;
  /** Message type → messages sent / received (monotonic). */
  readonly sent: Readonly<Record<string, number>>;
  readonly received: Readonly<Record<string, number>>;
  /** Reject reason → messages dropped (monotonic). */
  readonly rejected: Readonly<Record<string, number>>;
}

export interface EtcdSnapshot {
  readonly up: boolean;
}

export interface IdentitySnapshot {
  /** Kind (node_name, public_ip) → distinct conflicts with another live weftd found (monotonic). */
  readonly conflicts: Readonly<Record<string, number>>;
}

type Source<T> = () => T | Promise<T>;

/**
 * Each source is called once per render(). A missing source, or one that throws or rejects
 * (counted in weft_metrics_source_errors_total), leaves its labelled metrics without samples and
 * its unlabelled ones at 0.
 */
export interface MetricsSources {
  dataplane?: Source<DataplaneSnapshot>;
  lease?: Source<LeaseSnapshot>;
  gossip?: Source<GossipSnapshot>;
  etcd?: Source<EtcdSnapshot>;
  identity?: Source<IdentitySnapshot>;
}

interface Snapshots {
  dataplane?: DataplaneSnapshot;
  lease?: LeaseSnapshot;
  gossip?: GossipSnapshot;
  etcd?: EtcdSnapshot;
  identity?: IdentitySnapshot;
}

export interface WeftMetrics {
  readonly registry: Registry;
  /** Value for the Content-Type header of /metrics. */
  readonly contentType: string;
  /** Adds or replaces sources (subsystems start after the health server). */
  setSources(sources: MetricsSources): void;
  /** Reads every source, then returns the exposition text: call this, not registry.metrics(). */
  render(): Promise<string>;
  /** render() with its content type: the shape HealthServer.setMetrics() takes. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Also export prom-client's process_* and nodejs_* metrics (default true). */
  readonly defaultMetrics?: boolean;
}

export function createMetrics(initial: MetricsSources = {}, opts: MetricsOptions = {}): WeftMetrics {
  const registry = new Registry();
  const sources: MetricsSources = { ...initial };
  const registers = [registry];
  let snap: Snapshots = {};

  const sourceErrors = new Counter({
    name: 'weft_metrics_source_errors_total',
    help: 'Scrapes in which a metrics source threw, by source',
    labelNames: ['source'] as const,
    registers,
  });

  type Labels = Record<string, string>;
  type Samples = Iterable<readonly [Labels, number]>;
  // Counters and gauges whose samples are recomputed from the snapshots at every collect().
  const counter = (name: string, help: string, labelNames: readonly string[], samples: () => Samples): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, n] of samples()) this.inc(labels, n);
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: readonly string[], samples: () => Samples): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, n] of samples()) this.set(labels, n);
      },
    });
  };
  const one = (n: number | undefined): Samples => (n === undefined ? [] : [[{}, n]]);
  const byKey = (label: string, rec: Readonly<Record<string, number>> | undefined, extra: Labels = {}): Samples =>
    Object.entries(rec ?? {}).map(([k, n]) => [{ [label]: k, ...extra }, n] as const);
  const perPeer = (inOf: (p: PeerTraffic) => number, outOf: (p: PeerTraffic) => number): Samples =>
    (snap.dataplane?.peers ?? []).flatMap((p) => [
      [{ direction: 'in', peer: p.peer }, inOf(p)] as const,
      [{ direction: 'out', peer: p.peer }, outOf(p)] as const,
    ]);

  counter('weft_packets_total', 'Overlay packets exchanged with each peer (in = decapsulated to the TUN, out = encapsulated to the peer)',
    ['direction', 'peer'], () => perPeer((p) => p.packetsIn, (p) => p.packetsOut));
  counter('weft_bytes_total', 'Inner IP bytes exchanged with each peer', ['direction', 'peer'], () => perPeer((p) => p.bytesIn, (p) => p.bytesOut));
  counter('weft_drops_total', 'Packets the data plane dropped, by reason', ['reason'], () => byKey('reason', snap.dataplane?.drops));
  gauge('weft_routes', 'Entries in the route table the data plane uses', [], () => one(snap.dataplane?.routes));
  counter('weft_route_swaps_total', 'Route tables installed in the data plane', [], () => one(snap.dataplane?.routeSwaps));
  counter('weft_lease_renewals_total', 'Subnet lease renewals that succeeded', [], () => one(snap.lease?.renewals));
  counter('weft_lease_failures_total', 'Subnet lease acquisitions or renewals that failed', [], () => one(snap.lease?.failures));
  gauge('weft_gossip_members', 'Gossip members known, by state', ['state'], () => byKey('state', snap.gossip?.members));
  counter('weft_gossip_messages_total', 'Gossip messages sent (out) and received (in), by type', ['type', 'direction'], () => [
    ...byKey('type', snap.gossip?.sent, { direction: 'out' }),
    ...byKey('type', snap.gossip?.received, { direction: 'in' }),
  ]);
  counter('weft_gossip_rejected_total', 'Gossip messages dropped (unauthenticated, forged, stale, malformed), by reason', ['reason'],
    () => byKey('reason', snap.gossip?.rejected));
  counter('weft_identity_conflicts_total', 'Another live weftd found claiming this node\'s name or public IP (each distinct conflict once), by kind', ['kind'],
    () => byKey('kind', snap.identity?.conflicts));
  gauge('weft_etcd_up', '1 while etcd answers, 0 while it does not (or before the first check)', [],
    () => one(snap.etcd === undefined ? undefined : snap.etcd.up ? 1 : 0));

  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  return {
    registry,
    contentType: registry.contentType,
    setSources(more) {
      Object.assign(sources, more);
    },
    async render() {
      const next: Snapshots = {};
      const names = Object.keys(sources) as (keyof MetricsSources)[];
      await Promise.all(
        names.map(async (name) => {
          try {
            const value = await sources[name]?.();
            (next as Record<string, unknown>)[name] = value;
          } catch {
            sourceErrors.inc({ source: name });
          }
        }),
      );
      snap = next;
      return registry.metrics();
    },
    async scrape() {
      return { contentType: registry.contentType, body: await this.render() };
    },
  };
}
