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
}

interface Snapshots {
  dataplane?: DataplaneSnapshot;
  lease?: LeaseSnapshot;
  gossip?: GossipSnapshot;
  etcd?: EtcdSnapshot;
}

export interface WeftMetrics {
  readonly registry: Registry;
  /** Value for the Content-Type header of /metrics. */
  readonly contentType: string;
  /** Adds or replaces sources (subsystems start after the health server). */
  setSources(sources: MetricsSources): void;
  /** Reads every source, then returns the exposition text: call this, not registry.metrics(). */
  render(): Promise<string>;
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

  new Counter({
    name: 'weft_packets_total',
    help: 'Overlay packets exchanged with each peer (in = decapsulated to the TUN, out = encapsulated to the peer)',
    labelNames: ['direction', 'peer'] as const,
    registers,
    collect() {
      this.reset();
      for (const p of snap.dataplane?.peers ?? []) {
        this.inc({ direction: 'in', peer: p.peer }, p.packetsIn);
        this.inc({ direction: 'out', peer: p.peer }, p.packetsOut);
      }
    },
  });
  new Counter({
    name: 'weft_bytes_total',
    help: 'Inner IP bytes exchanged with each peer',
    labelNames: ['direction', 'peer'] as const,
    registers,
    collect() {
      this.reset();
      for (const p of snap.dataplane?.peers ?? []) {
        this.inc({ direction: 'in', peer: p.peer }, p.bytesIn);
        this.inc({ direction: 'out', peer: p.peer }, p.bytesOut);
      }
    },
  });
  new Counter({
    name: 'weft_drops_total',
    help: 'Packets the data plane dropped, by reason',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      const drops = snap.dataplane?.drops ?? {};
      for (const [reason, n] of Object.entries(drops)) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'weft_routes',
    help: 'Entries in the route table the data plane uses',
    registers,
    collect() {
      this.reset();
      const s = snap.dataplane;
      if (s) this.set(s.routes);
    },
  });
  new Counter({
    name: 'weft_route_swaps_total',
    help: 'Route tables installed in the data plane',
    registers,
    collect() {
      this.reset();
      const s = snap.dataplane;
      if (s) this.inc(s.routeSwaps);
    },
  });
  new Counter({
    name: 'weft_lease_renewals_total',
    help: 'Subnet lease renewals that succeeded',
    registers,
    collect() {
      this.reset();
      const s = snap.lease;
      if (s) this.inc(s.renewals);
    },
  });
  new Counter({
    name: 'weft_lease_failures_total',
    help: 'Subnet lease acquisitions or renewals that failed',
    registers,
    collect() {
      this.reset();
      const s = snap.lease;
      if (s) this.inc(s.failures);
    },
  });
  new Gauge({
    name: 'weft_gossip_members',
    help: 'Gossip members known, by state',
    labelNames: ['state'] as const,
    registers,
    collect() {
      this.reset();
      const s = snap.gossip;
      for (const [state, n] of Object.entries(s?.members ?? {})) this.set({ state }, n);
    },
  });
  new Counter({
    name: 'weft_gossip_messages_total',
    help: 'Gossip messages sent (out) and received (in), by type',
    labelNames: ['type', 'direction'] as const,
    registers,
    collect() {
      this.reset();
      const s = snap.gossip;
      if (!s) return;
      for (const [type, n] of Object.entries(s.sent)) this.inc({ type, direction: 'out' }, n);
      for (const [type, n] of Object.entries(s.received)) this.inc({ type, direction: 'in' }, n);
    },
  });
  new Counter({
    name: 'weft_gossip_rejected_total',
    help: 'Gossip messages dropped (unauthenticated, forged, stale, malformed), by reason',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(snap.gossip?.rejected ?? {})) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'weft_etcd_up',
    help: '1 while etcd answers, 0 while it does not',
    registers,
    collect() {
      this.reset();
      const s = snap.etcd;
      if (s) this.set(s.up ? 1 : 0);
    },
  });

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
  };
}
