// The etcd3 client weftd uses, with its fault handling replaced.
//
// etcd3 1.1.2 wraps every call in cockatiel policies: a global retry(3) and, per host, a circuit
// breaker that opens for 5 s after 3 consecutive failures. After an outage the breaker keeps
// refusing calls for up to 5 s once etcd is back, and the hidden retries multiply failure
// latency. weftd owns retry timing itself (Backoff + EtcdHealth: one log line per state change,
// renewal as soon as etcd answers), so both policies are pass-through here: a call is tried once,
// fails fast while etcd is down (the channel is reset on each failure, so the next call dials
// afresh), and succeeds on the first call after etcd returns. Unary calls carry a deadline so a
// hung connection cannot stall the keeper; watch streams reconnect after 100 ms..2 s.
//
// A hung etcd (process stopped, TCP still open) fails no call on its own: weftd's watch stream
// just goes quiet. HTTP/2 keepalive pings on the channel find it: a ping unanswered within
// KEEPALIVE_TIMEOUT_MS closes the connection, the watch reports the disconnect and EtcdHealth
// marks etcd unreachable, at most KEEPALIVE_TIME_MS + KEEPALIVE_TIMEOUT_MS (10 s) after it hung.
// Pings go only while a call is open (the watch stream, always open once the lease is held):
// etcd's server (grpc-go, --grpc-keepalive-min-time 5 s, PermitWithoutStream false) answers pings
// more often than every 5 s, or pings without an open stream, with GOAWAY too_many_pings, after
// which grpc-js doubles the ping interval for good.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Etcd3, type IOptions } from 'etcd3';
import type { Config } from '../../config/config.js';

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type Policy = NonNullable<FaultHandling['global']>;
type WatchBackoff = NonNullable<FaultHandling['watchBackoff']>;

/** Deadline of every unary etcd call. */
export const ETCD_CALL_TIMEOUT_MS = 5_000;
/** Keepalive ping interval on the etcd channel; above etcd's default minimum of 5 s. */
export const KEEPALIVE_TIME_MS = 6_000;
/** How long a keepalive ping may go unanswered before the connection counts as dead. */
export const KEEPALIVE_TIMEOUT_MS = 4_000;

const noEvent = (() => ({ dispose: () => undefined })) as unknown as Policy['onSuccess'];

/** A policy that runs the call once, as it is. */
function passThrough(): Policy {
  const signal = new AbortController().signal;
  const policy = {
    onSuccess: noEvent,
    onFailure: noEvent,
    execute: async <T>(fn: (ctx: { signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> => fn({ signal }),
  };
  return policy as unknown as Policy;
}

/** Watch-stream reconnect delays: 100 ms doubling to 2 s, ±20 % jitter. */
function watchBackoff(delayMs = 100): WatchBackoff {
  const duration = Math.round(delayMs * (0.8 + Math.random() * 0.4));
  return { duration, next: () => watchBackoff(Math.min(2_000, delayMs * 2)) } as unknown as WatchBackoff;
}

export function createEtcdClient(cfg: Readonly<Config>): Etcd3 {
  const options: IOptions = {
    hosts: [...cfg.etcdEndpoints],
    faultHandling: { host: () => passThrough(), global: passThrough(), watchBackoff: watchBackoff() },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + ETCD_CALL_TIMEOUT_MS }),
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
      'grpc.keepalive_permit_without_calls': 0,
    },
  };
  if (cfg.etcdCafile || cfg.etcdCertfile) {
    options.credentials = {
      // without --etcd-cafile, the system's trusted roots (as for an https:// endpoint alone)
      rootCertificate: cfg.etcdCafile ? readFileSync(cfg.etcdCafile) : Buffer.from(rootCertificates.join('\n')),
      privateKey: cfg.etcdKeyfile ? readFileSync(cfg.etcdKeyfile) : undefined,
      certChain: cfg.etcdCertfile ? readFileSync(cfg.etcdCertfile) : undefined,
    };
  }
  if (cfg.etcdUsername !== undefined && cfg.etcdPassword !== undefined) {
    options.auth = { username: cfg.etcdUsername, password: cfg.etcdPassword };
  }
  return new Etcd3(options);
}
