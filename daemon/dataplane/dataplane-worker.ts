// Worker-thread entry of ThreadedDataplane: opens a Dataplane on this thread's event loop, so that
// nothing the main thread does (gossip, gRPC, etcd, HTTP) delays a packet. Messages:
//   in  { type: 'routes', wire }               → setRoutes(RouteTable.fromWire(wire)): a snapshot (start,
//                                              resync), peers as numbers, O(peers)
//   in  { type: 'route-deltas', deltas }       → applyRoutes(deltas): upserts and removals, O(1) each
//   in  { type: 'close', removeTun }           → close, then 'closed' once libuv released the fds
//   in  { type: 'ping', id }                   → { type: 'pong', id } at once (liveness and lag probe)
//   out { type: 'ready', tunName, mtu, reattached, stats, realtimeError, routes, warmUp }
//       | { type: 'error', code, message, causeCode }
//   out { type: 'routes-applied', seq, routes }  after each of the two route messages: its sequence
//                                              number (1, 2, …) and the peers the table now routes
//   out { type: 'stats', stats }               every STATS_INTERVAL_MS while packets flow; none while
//                                              idle (no wake-ups). stats is a DataplaneStatsWire: the
//                                              peers with traffic, as numbers (formatting 5,000 peers
//                                              here took 10-35 ms of this thread each time)
// Route messages are applied from this thread's message handler, which never runs inside a batch
// (a batch is one native callback), so each batch sees one consistent table.
import { parentPort, workerData } from 'node:worker_threads';
import { WeftError } from '../errors.js';
import { Dataplane, type DataplaneOptions } from './dataplane.js';
import { loadNative } from './native.js';
import { RouteTable, type RouteDelta, type RouteWire } from './route-table.js';

export const STATS_INTERVAL_MS = 500;
/** Intervals without a packet after which the stats timer stops until the next packet. */
const QUIET_TICKS = 2;

export type WorkerRequest =
  | { type: 'routes'; wire: RouteWire }
  | { type: 'route-deltas'; deltas: readonly RouteDelta[] }
  | { type: 'ping'; id: number }
  | { type: 'close'; removeTun: boolean };

/** DataplaneOptions as they cross to the thread: the route table as numbers. */
export interface WorkerOptions extends Omit<DataplaneOptions, 'routes'> {
  readonly routes: RouteWire | undefined;
  /** SCHED_FIFO priority for this thread (0: normal scheduling). */
  readonly realtimePriority: number;
}

const port = parentPort;
if (!port) throw new Error('dataplane-worker.js runs only as a worker thread (see threaded-dataplane.ts)');
const opts = workerData as WorkerOptions;

let dp: Dataplane | undefined;
try {
  const { routes, realtimePriority: _, ...dpOpts } = opts;
  dp = Dataplane.open({ ...dpOpts, routes: routes ? RouteTable.fromWire(routes) : RouteTable.build({ network: opts.network, subnetLen: opts.subnetLen, network6: opts.network6, subnetLen6: opts.subnetLen6, ipv6Only: opts.ipv6Only, peers: [] }) });
} catch (err) {
  const cause = (err as { cause?: { code?: unknown } }).cause;
  port.postMessage({
    type: 'error',
    code: err instanceof WeftError ? err.code : 'WEFT_ERR_NATIVE',
    message: (err as Error).message,
    causeCode: typeof cause?.code === 'string' ? cause.code : undefined,
  });
  port.close();
}

if (dp) {
  const open = dp;
  let realtimeError: string | undefined;
  if (opts.realtimePriority > 0) {
    try {
      loadNative().setRealtime(opts.realtimePriority);
    } catch (err) {
      realtimeError = (err as Error).message;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  let seen = open.packetsSeen();
  let quiet = 0;
  const arm = (): void => {
    timer ??= setInterval(tick, STATS_INTERVAL_MS);
  };
  const tick = (): void => {
    const now = open.packetsSeen();
    if (now !== seen) {
      seen = now;
      quiet = 0;
      port.postMessage({ type: 'stats', stats: open.statsWire() });
      return;
    }
    if (++quiet < QUIET_TICKS) return;
    clearInterval(timer);
    timer = undefined;
    open.onNextPacket(arm);
  };
  open.onNextPacket(arm);
  port.postMessage({ type: 'ready', tunName: open.tunName, mtu: open.mtu, reattached: open.reattached, stats: open.statsWire(), realtimeError, routes: open.routes.size, warmUp: open.warmUp });
  let seq = 0;
  port.on('message', (req: WorkerRequest) => {
    if (req.type === 'routes' || req.type === 'route-deltas') {
      if (req.type === 'routes') open.setRoutes(RouteTable.fromWire(req.wire));
      else open.applyRoutes(req.deltas);
      return void port.postMessage({ type: 'routes-applied', seq: ++seq, routes: open.routes.size });
    }
    if (req.type === 'ping') return void port.postMessage({ type: 'pong', id: req.id });
    clearInterval(timer);
    const final = open.statsWire();
    open.close({ removeTun: req.removeTun });
    // libuv closes the fds in the close phase of this loop turn; the second setImmediate follows it.
    setImmediate(() =>
      setImmediate(() => {
        port.postMessage({ type: 'closed', stats: final });
        port.close();
      }),
    );
  });
}
