// Worker-thread entry of ThreadedDataplane: opens a Dataplane on this thread's event loop, so that
// nothing the main thread does (gossip, gRPC, etcd, HTTP) delays a packet. Messages:
//   in  { type: 'routes', peers }              → setRoutes(RouteTable.build(...)) on this thread
//   in  { type: 'close', removeTun }           → close, then 'closed' once libuv released the fds
//   in  { type: 'ping', id }                   → { type: 'pong', id } at once (liveness and lag probe)
//   out { type: 'ready', tunName, mtu, reattached, stats } | { type: 'error', code, message, causeCode }
//   out { type: 'stats', stats }               every STATS_INTERVAL_MS, and after each route swap
import { parentPort, workerData } from 'node:worker_threads';
import { WeftError } from '../errors.js';
import { Dataplane, type DataplaneOptions } from './dataplane.js';
import { RouteTable, type PeerSpec } from './route-table.js';

export const STATS_INTERVAL_MS = 500;

export type WorkerRequest = { type: 'routes'; peers: readonly PeerSpec[] } | { type: 'ping'; id: number } | { type: 'close'; removeTun: boolean };

const port = parentPort;
if (!port) throw new Error('dataplane-worker.js runs only as a worker thread (see threaded-dataplane.ts)');
const opts = workerData as DataplaneOptions;
const build = (peers: readonly PeerSpec[]): RouteTable => RouteTable.build({ network: opts.network, subnetLen: opts.subnetLen, localSubnet: opts.localSubnet, peers });

let dp: Dataplane | undefined;
try {
  dp = Dataplane.open({ ...opts, routes: build(opts.routes?.peers ?? []) });
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
  const timer = setInterval(() => port.postMessage({ type: 'stats', stats: open.stats() }), STATS_INTERVAL_MS);
  port.postMessage({ type: 'ready', tunName: open.tunName, mtu: open.mtu, reattached: open.reattached, stats: open.stats() });
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
