// The data plane on its own thread (dataplane-worker.ts). Measured in the lab (2 weft nodes, 200
// pings 10 ms apart, quiet machine): with the engine on weftd's main thread, gossip, gRPC, etcd and
// HTTP work shares the event loop with packets and ping RTT averaged 0.32–0.45 ms with a tail of
// 2–9 ms; the bare engine without a control plane averaged 0.21 ms. This moves it off the main
// thread, and by default runs that thread at SCHED_FIFO priority 1: kernel VXLAN does its work in
// softirq, ahead of every process, while a data plane thread at normal priority waits behind busy
// pods for a CPU (measured under load: ping p99 46–96 ms at normal priority, nice −10 or a short
// EEVDF slice; 0.46 ms at SCHED_FIFO 1; bench/README.md). Same contract as Dataplane, except that
// open() and close() are asynchronous and stats() returns the worker's latest snapshot (refreshed
// every STATS_INTERVAL_MS while packets flow; its peers only those with traffic). Routes cross as numbers: a whole table
// (setRoutes: start, resync) or one change at a time (applyRoutes: O(1) each, on both threads).
import { Worker } from 'node:worker_threads';
import { WeftError, type WeftErrorCode } from '../errors.js';
import { peersOfWire, type DataplaneOptions, type DataplaneStats, type DataplaneStatsWire } from './dataplane.js';
import type { RouteDelta, RouteTable } from './route-table.js';
import type { WorkerOptions, WorkerRequest } from './dataplane-worker.js';
import type { WarmUpResult } from './warm-up.js';

type WorkerReply =
  | { type: 'ready'; tunName: string; mtu: number; reattached: boolean; stats: DataplaneStatsWire; realtimeError: string | undefined; routes: number; warmUp: WarmUpResult }
  | { type: 'error'; code: WeftErrorCode; message: string; causeCode: string | undefined }
  | { type: 'stats'; stats: DataplaneStatsWire }
  | { type: 'routes-applied'; seq: number; routes: number }
  | { type: 'pong'; id: number }
  | { type: 'closed'; stats: DataplaneStatsWire };

export interface ThreadedDataplaneOptions extends DataplaneOptions {
  /** SCHED_FIFO priority of the data plane thread (default 1; 0 = normal scheduling). */
  readonly realtimePriority?: number;
}

export class ThreadedDataplane {
  private latest: DataplaneStatsWire;
  private formatted: DataplaneStats | undefined;
  private closing: Promise<void> | undefined;
  private readonly pongs = new Map<number, () => void>();
  private nextPing = 0;
  private routesSent = 0;
  private applied: { seq: number; routes: number };

  private constructor(
    private readonly worker: Worker,
    readonly tunName: string,
    readonly mtu: number,
    readonly reattached: boolean,
    stats: DataplaneStatsWire,
    /** Why the thread could not be made real-time (it then runs at normal priority); undefined when it is, or was not asked to be. */
    readonly realtimeError: string | undefined,
    routes: number,
    /** What the thread's JIT warm-up took, or why it was skipped (warm-up.ts). */
    readonly warmUp: WarmUpResult,
  ) {
    this.latest = stats;
    this.applied = { seq: 0, routes };
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'stats' || m.type === 'closed') {
        this.latest = m.stats;
        this.formatted = undefined;
      }
      else if (m.type === 'routes-applied') this.applied = { seq: m.seq, routes: m.routes };
      else if (m.type === 'pong') this.pongs.get(m.id)?.();
    });
    // Crash-only: a data plane thread that dies takes weftd down, and the restart reattaches the
    // persistent TUN (a half-alive daemon that stopped forwarding would look ready).
    const die = (what: string): void => {
      if (this.closing) return;
      process.nextTick(() => {
        throw new WeftError('WEFT_ERR_NATIVE', `the data plane thread ${what}; weftd exits so that its supervisor restarts it`);
      });
    };
    worker.on('error', (err) => die(`failed: ${err.message}`));
    worker.on('exit', (code) => die(`exited (${code})`));
  }

  /** Opens the TUN and socket on a new worker thread; rejects with the WeftError Dataplane.open would throw. */
  static open(opts: ThreadedDataplaneOptions): Promise<ThreadedDataplane> {
    const { routes, realtimePriority, ...rest } = opts;
    const workerData: WorkerOptions = { ...rest, routes: routes?.toWire(), realtimePriority: realtimePriority ?? 1 };
    const worker = new Worker(new URL('./dataplane-worker.js', import.meta.url), { workerData });
    return new Promise((resolve, reject) => {
      const fail = (err: Error): void => {
        void worker.terminate();
        reject(err);
      };
      worker.once('error', (err) => fail(new WeftError('WEFT_ERR_NATIVE', `data plane thread failed: ${err.message}`, { cause: err })));
      worker.once('message', (m: WorkerReply) => {
        if (m.type === 'ready') return resolve(new ThreadedDataplane(worker, m.tunName, m.mtu, m.reattached, m.stats, m.realtimeError, m.routes, m.warmUp));
        if (m.type === 'error') return fail(new WeftError(m.code, m.message, { cause: { code: m.causeCode } }));
        fail(new WeftError('WEFT_ERR_NATIVE', `data plane thread answered ${m.type} before ready`));
      });
    });
  }

  /** Swaps the route table (a snapshot, O(peers)); its peers cross to the worker as numbers (RouteWire), taken before its next batch. */
  setRoutes(table: RouteTable): void {
    this.post({ type: 'routes', wire: table.toWire() });
  }

  /** Sends route changes (peers as numbers, validated by a PeerEncoder), applied in order before the worker's next batch. */
  applyRoutes(deltas: readonly RouteDelta[]): void {
    if (deltas.length > 0) this.post({ type: 'route-deltas', deltas });
  }

  /** Peers the worker's table routes, as of the last route message it applied. */
  get routes(): number {
    return this.applied.routes;
  }

  /** Route messages sent and not yet applied by the worker (0: its table is what was last sent). */
  get routesPending(): number {
    return this.routesSent - this.applied.seq;
  }

  private post(req: WorkerRequest): void {
    if (this.closing) return;
    this.routesSent++;
    this.worker.postMessage(req);
  }

  /**
   * The worker's latest counters (at most STATS_INTERVAL_MS old while packets flow); `peers` lists
   * the peers that carried traffic (a routed peer absent from it has all counters at 0).
   */
  stats(): DataplaneStats {
    this.formatted ??= { ...this.latest, peers: peersOfWire(this.latest.peers) };
    return this.formatted;
  }

  /**
   * Round trip in ms of one message to the thread (how long its event loop took to get to it),
   * or undefined if none came within timeoutMs (a stuck thread) or the thread is closing. Sent on
   * demand (a /metrics scrape), so an idle thread is woken by nothing periodic.
   */
  probe(timeoutMs: number): Promise<number | undefined> {
    if (this.closing) return Promise.resolve(undefined);
    const id = this.nextPing++;
    const sentAt = performance.now();
    return new Promise((resolve) => {
      const done = (rtt: number | undefined): void => {
        clearTimeout(timer);
        this.pongs.delete(id);
        resolve(rtt);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs).unref();
      this.pongs.set(id, () => done(performance.now() - sentAt));
      this.worker.postMessage({ type: 'ping', id } satisfies WorkerRequest);
    });
  }

  /** Milliseconds the thread's event loop spent running code (active) and waiting (idle) since it started. */
  loopTime(): { active: number; idle: number } {
    return this.worker.performance.eventLoopUtilization();
  }

  /** Stops forwarding and closes the fds (the TUN persists unless removeTun); resolves when the thread is gone. Idempotent. */
  close(opts: { readonly removeTun?: boolean } = {}): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close', removeTun: opts.removeTun ?? false } satisfies WorkerRequest);
    });
    return this.closing;
  }
}
