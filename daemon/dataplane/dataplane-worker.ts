// Worker-thread entry of ThreadedDataplane: opens a Dataplane on this thread's event loop, so that
// nothing the main thread does (gossip, gRPC, etcd, HTTP) delays a packet. Messages:
//   in  { type: 'routes', peers }              → setRoutes(RouteTable.build(...)) on this thread
//   in  { type: 'close', removeTun }           → close, then 'closed' once libuv released the fds
//   in  { type: 'ping', id }                   → { type: 'pong', id } at once (liveness and lag probe)
//   out { type: 'ready', tunName, mtu, reattached, stats, realtimeError }
//       | { type: 'error', code, message, causeCode }
//   out { type: 'stats', stats }               every STATS_INTERVAL_MS while packets flow, and after
//                                              each route swap; none while idle (no wake-ups)
import { parentPort, workerData } from 'node:worker_threads';
import { WeftError } from '../errors.js';
import { Dataplane, type DataplaneOptions } from './dataplane.js';
import { loadNative } from './native.js';
import { RouteTable, type PeerSpec } from './route-table.js';

export const STATS_INTERVAL_MS = 500;
/** Intervals without a packet after which the stats timer stops until the next packet. */
const QUIET_TICKS = 2;

export type WorkerRequest = { type: 'routes'; peers: readonly PeerSpec[] } | { type: 'ping'; id: number } | { type: 'close'; removeTun: boolean };

/** DataplaneOptions as they cross to the thread: the route table as its peers only. */
export interface WorkerOptions extends Omit<DataplaneOptions, 'routes'> {
  readonly routes: { readonly peers: readonly PeerSpec[] } | undefined;
  /** SCHED_FIFO priority for this thread (0: normal scheduling). */
  readonly realtimePriority: number;
}

const port = parentPort;
if (!port) throw new Error('dataplane-worker.js runs only as a worker thread (see threaded-dataplane.ts)');
const opts = workerData as WorkerOptions;
const build = (peers: readonly PeerSpec[]): RouteTable => RouteTable.build({ network: opts.network, subnetLen: opts.subnetLen, localSubnet: opts.localSubnet, peers });

let dp: Dataplane | undefined;
try {
  const { routes, realtimePriority: _, ...dpOpts } = opts;
  dp = Dataplane.open({ ...dpOpts, routes: build(routes?.peers ?? []) });
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
      port.postMessage({ type: 'stats', stats: open.stats() });
      return;
    }
    if (++quiet < QUIET_TICKS) return;
    clearInterval(timer);
    timer = undefined;
    open.onNextPacket(arm);
  };
  open.onNextPacket(arm);
  port.postMessage({ type: 'ready', tunName: open.tunName, mtu: open.mtu, reattached: open.reattached, stats: open.stats(), realtimeError });
  port.on('message', (req: WorkerRequest) => {
    if (req.type === 'routes') {
      open.setRoutes(build(req.peers));
      port.postMessage({ type: 'stats', stats: open.stats() });
      return;
    }
    if (req.type === 'ping') return void port.postMessage({ type: 'pong', id: req.id });
    clearInterval(timer);
    const final = open.stats();
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
