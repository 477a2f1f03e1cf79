// Prometheus metrics for /metrics. Nothing is counted here: every weft metric is read from a
// *source* (a function returning a plain snapshot of counters the subsystem already keeps, such
// as the data plane's typed arrays) when Prometheus scrapes, so the packet path pays nothing.
// render() calls each source once per scrape (awaiting it if it returns a promise, e.g. a data
// plane in a worker thread), then formats. A private Registry (never prom-client's global one)
// also carries the default process metrics.
//
// Naming rules (promtool-clean; `promtool check metrics` on a live weftd prints nothing, tested):
// - Names: weft_<subsystem>_<what>[_<unit>], base units only (_seconds, _bytes). Counters end in
//   _total; nothing else does. Points in time are gauges named _timestamp_seconds (Unix seconds).
//   Constant facts are an _info gauge with value 1 and the facts as labels (weft_build_info).
// - Label names and label values are snake_case. Sources keep their own spellings (noRoute,
//   PushPull, route-lease-conflict); labelValue() maps them here, so the data plane never pays
//   for a rename and a new reason needs no extra step.
// - Label values come from closed sets (reasons, states, types), except `peer`, which is bounded
//   by the cluster size. Never a per-packet or per-request value.
// - A new metric goes into the README's metrics table; deploy/grafana/weft.json and
//   deploy/prometheus/weft-rules.yaml may only use names weftd exports (tested against a scrape).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Period of the event-loop lag sampler (nodejs_eventloop_lag_*). */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/** Traffic with one routed peer since it was routed (monotonic while it stays routed). */
export interface PeerTraffic {
  /** The peer's node name ('' for a Flannel node, whose lease names none). */
  readonly peer: string;
  readonly publicIp: string;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** Overlay traffic of this node in all (monotonic). */
export interface TrafficTotals {
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface DataplaneSnapshot {
  readonly totals: TrafficTotals;
  /** The peers routed now (read only with MetricsOptions.perPeer). */
  readonly peers: readonly PeerTraffic[];
  /** Drop reason → packets dropped (monotonic). */
  readonly drops: Readonly<Record<string, number>>;
  /** Entries in the route table the data plane uses now. */
  readonly routes: number;
  /** Route tables installed since start. */
  readonly routeSwaps: number;
  /** Busy polls of the data plane thread (--busy-poll) by result: answered (a wake-up saved) or expired (monotonic). */
  readonly busyPolls: Readonly<Record<'answered' | 'expired', number>>;
  /** Packets forwarded by the decision cache (--decision-cache), by direction (monotonic). */
  readonly replayed: Readonly<Record<'in' | 'out', number>>;
}

export interface LeaseSnapshot {
  readonly renewals: number;
  readonly failures: number;
  /** When the held lease expires unless renewed (ms since the epoch); undefined while none is held. */
  readonly expiresAt?: number;
}

export interface GossipSnapshot {
  /** Member state (alive, suspect, dead) → members known in that state. */
  readonly members: Readonly<Record<string, number>>;
  /** Message type → messages sent / received (monotonic). */
  readonly sent: Readonly<Record<string, number>>;
  readonly received: Readonly<Record<string, number>>;
  /** Reject reason → messages dropped (monotonic). */
  readonly rejected: Readonly<Record<string, number>>;
  /** Gossip streams opened (to peers), accepted (from peers), and requests sent again unary when one ended (monotonic). */
  readonly streams?: Readonly<Record<string, number>>;
  /** Probes over UDP: event (sent, acked, timeout, fallback, check, oversize, unmatched) → count (monotonic). */
  readonly udp?: Readonly<Record<string, number>>;
}

export interface EtcdSnapshot {
  readonly up: boolean;
}

export interface ReadinessSnapshot {
  /** Same answer as /readyz. */
  readonly ready: boolean;
}

/** The data plane's worker thread, probed at scrape time (see ThreadedDataplane.probe). */
export interface DataplaneThreadSnapshot {
  /** Whether the thread answered the probe in time. */
  readonly up: boolean;
  /** Probe round trip in seconds; when !up, the time waited (a lower bound). */
  readonly lagSeconds: number;
  /** Time the thread's event loop spent running code since it started (monotonic). */
  readonly busySeconds: number;
}

/** Facts about this build, exported as labels of weft_build_info. */
export interface BuildInfo {
  readonly version: string;
  readonly nodeVersion: string;
}

export interface IdentitySnapshot {
  /** Kind (node_name, public_ip) → distinct conflicts with another live weftd found (monotonic). */
  readonly conflicts: Readonly<Record<string, number>>;
  /** Kind → lease attempts refused for such a conflict, every attempt (monotonic). */
  readonly refusals?: Readonly<Record<string, number>>;
}

/** Control-plane checks that run whether or not they change anything (to see that they ran). */
export interface ChecksSnapshot {
  /** Outcome (found, missing, invalid, unreadable, unreachable) → reads of `<prefix>/config` at start (monotonic). */
  readonly configReads: Readonly<Record<string, number>>;
  /** Comparisons of the network config in etcd with the running one while running (monotonic). */
  readonly configChecks: number;
  /** What (TUN, iptables rules) → periodic state checks finished since the overlay started. */
  readonly resyncChecks: Readonly<Record<string, number>>;
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
  readiness?: Source<ReadinessSnapshot>;
  /** undefined while there is no data plane (before the lease, while the overlay moves). */
  dataplaneThread?: Source<DataplaneThreadSnapshot | undefined>;
  identity?: Source<IdentitySnapshot>;
  checks?: Source<ChecksSnapshot>;
}

interface Snapshots {
  dataplane?: DataplaneSnapshot;
  lease?: LeaseSnapshot;
  gossip?: GossipSnapshot;
  etcd?: EtcdSnapshot;
  readiness?: ReadinessSnapshot;
  dataplaneThread?: DataplaneThreadSnapshot;
  identity?: IdentitySnapshot;
  checks?: ChecksSnapshot;
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
  /** Exported as weft_build_info{version,node_version} 1 (default: unknown, this process's Node). */
  readonly build?: BuildInfo;
  /**
   * Also export traffic per routed peer (weft_peer_packets_total, weft_peer_bytes_total): 4 series
   * per peer on every node, 4·N·(N−1) in a cluster, so off by default (--metrics-per-peer).
   */
  readonly perPeer?: boolean;
}

/**
 * A label value in snake_case: noRoute → no_route, PushPull → push_pull, PingReq → ping_req,
 * route-lease-conflict → route_lease_conflict, badL4Checksum → bad_l4_checksum; bad_hmac stays.
 */
export function labelValue(s: string): string {
  return s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toLowerCase();
}

/** prom-client default gauges whose names end in _total, which promtool rejects; each has a twin without the suffix. */
const NON_COUNTER_TOTALS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

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
  // Unlabelled metrics read 0 without a sample, unless `absent`: then they have no sample at all
  // (a timestamp of 0 or a thread "down" before there is a thread would be a lie).
  const counter = (name: string, help: string, labelNames: readonly string[], samples: () => Samples, absent = false): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        let none = true;
        for (const [labels, n] of samples()) {
          this.inc(labels, n);
          none = false;
        }
        if (none && absent) this.remove({});
      },
    });
  };
  const gauge = (name: string, help: string, labelNames: readonly string[], samples: () => Samples, absent = false): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        let none = true;
        for (const [labels, n] of samples()) {
          this.set(labels, n);
          none = false;
        }
        if (none && absent) this.remove({});
      },
    });
  };
  const one = (n: number | undefined): Samples => (n === undefined ? [] : [[{}, n]]);
  const byKey = (label: string, rec: Readonly<Record<string, number>> | undefined, extra: Labels = {}): Samples =>
    Object.entries(rec ?? {}).map(([k, n]) => [{ [label]: labelValue(k), ...extra }, n] as const);
  const inOut = (t: TrafficTotals | undefined, packets: boolean): Samples =>
    t === undefined ? [] : [[{ direction: 'in' }, packets ? t.packetsIn : t.bytesIn], [{ direction: 'out' }, packets ? t.packetsOut : t.bytesOut]];

  // Node totals: two series per metric, whatever the cluster size.
  counter('weft_packets_total', 'Overlay packets of this node (in = decapsulated to the TUN, out = encapsulated to a peer)',
    ['direction'], () => inOut(snap.dataplane?.totals, true));
  counter('weft_bytes_total', 'Inner IP bytes of this node (in = decapsulated, out = encapsulated)', ['direction'], () => inOut(snap.dataplane?.totals, false));
  // Per peer only when asked (--metrics-per-peer): 4 series per routed peer, gone once it is not routed.
  if (opts.perPeer) {
    const perPeer = (packets: boolean): Samples =>
      (snap.dataplane?.peers ?? []).flatMap((p) => [
        [{ direction: 'in', peer: p.peer, public_ip: p.publicIp }, packets ? p.packetsIn : p.bytesIn] as const,
        [{ direction: 'out', peer: p.peer, public_ip: p.publicIp }, packets ? p.packetsOut : p.bytesOut] as const,
      ]);
    counter('weft_peer_packets_total', 'Overlay packets exchanged with each routed peer (peer: its node name, empty for a Flannel node)',
      ['direction', 'peer', 'public_ip'], () => perPeer(true));
    counter('weft_peer_bytes_total', 'Inner IP bytes exchanged with each routed peer', ['direction', 'peer', 'public_ip'], () => perPeer(false));
  }
  counter('weft_dataplane_busy_polls_total', 'Wake-ups of the data plane thread out of silence that polled for the answer (--busy-poll), by result: answered (forwarded while polling: a thread wake-up saved) or expired',
    ['result'], () => byKey('result', snap.dataplane?.busyPolls));
  counter('weft_dataplane_replayed_packets_total', 'Packets the data plane thread forwarded by replaying the decision JavaScript made for the same key (--decision-cache), without calling into JavaScript, by direction: out (TUN to peers) or in (peers to TUN)',
    ['direction'], () => byKey('direction', snap.dataplane?.replayed));
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
  counter('weft_gossip_streams_total', 'Long-lived gossip streams opened to peers (opened) and from peers (accepted); requests sent again as unary calls because their stream ended (fallback)', ['event'],
    () => byKey('event', snap.gossip?.streams));
  counter('weft_gossip_udp_probes_total', 'Probes over UDP: pings sent, acked, unanswered (timeout: the member is probed over gRPC again), sent again over gRPC after half the timeout (fallback), checks sent alongside gRPC probes, pings sent over gRPC for not fitting a datagram (oversize), acks for no ping in flight (unmatched)', ['event'],
    () => byKey('event', snap.gossip?.udp));
  counter('weft_identity_conflicts_total', 'Another live weftd found claiming this node\'s name or public IP (each distinct conflict once), by kind', ['kind'],
    () => byKey('kind', snap.identity?.conflicts));
  counter('weft_identity_refusals_total', 'Lease attempts this weftd gave up because another live weftd holds its name or public IP (every attempt; the conflict is logged once), by kind', ['kind'],
    () => byKey('kind', snap.identity?.refusals));
  counter('weft_network_config_reads_total', 'Reads of <prefix>/config while waiting for a valid network config at start, by result', ['result'],
    () => byKey('result', snap.checks?.configReads));
  counter('weft_network_config_checks_total', 'Comparisons of the network config in etcd with the running one (each change seen while running, each listing)', [],
    () => one(snap.checks?.configChecks));
  counter('weft_resync_checks_total', 'Periodic state checks finished (--link-resync: tun, --iptables-resync: iptables_rules), since the overlay last started', ['what'],
    () => byKey('what', snap.checks?.resyncChecks));
  gauge('weft_etcd_up', '1 while etcd answers, 0 while it does not (or before the first check)', [],
    () => one(snap.etcd === undefined ? undefined : snap.etcd.up ? 1 : 0));

  gauge('weft_ready', '1 while /readyz answers 200 (lease held, subnet file written, TUN up), else 0', [],
    () => one(snap.readiness === undefined ? undefined : snap.readiness.ready ? 1 : 0));
  gauge('weft_lease_expiry_timestamp_seconds', 'When the held subnet lease expires unless renewed (Unix seconds); absent while no lease is held', [],
    () => one(snap.lease?.expiresAt === undefined ? undefined : snap.lease.expiresAt / 1000), true);
  gauge('weft_dataplane_thread_up', '1 while the data plane thread answers a probe within a second, 0 when it does not; absent while there is no data plane', [],
    () => one(snap.dataplaneThread === undefined ? undefined : snap.dataplaneThread.up ? 1 : 0), true);
  gauge('weft_dataplane_thread_lag_seconds', 'Round trip of a probe message to the data plane thread at scrape time (its event loop lag); the time waited when it did not answer', [],
    () => one(snap.dataplaneThread?.lagSeconds), true);
  counter('weft_dataplane_thread_busy_seconds_total', 'Time the data plane thread spent running code (not waiting for packets); rate() is its utilization', [],
    () => one(snap.dataplaneThread?.busySeconds), true);
  const build = opts.build ?? { version: 'unknown', nodeVersion: process.version };
  gauge('weft_build_info', 'Always 1; the labels say which weftd this is', ['version', 'node_version'],
    () => [[{ version: build.version, node_version: build.nodeVersion }, 1]]);

  if (opts.defaultMetrics !== false) {
    // The event-loop lag histogram samples with a timer of this period: prom-client's default (10 ms)
    // woke an idle weftd 100 times a second. One second still shows a blocked loop.
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
  }

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
            sourceErrors.inc({ source: labelValue(name) });
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
