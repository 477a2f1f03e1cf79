// Where weftd starts from: etcd's network config, or, when etcd has not answered within
// `graceMs` and the state cache holds an unexpired lease, the state cache (the lease keeper then
// verifies the lease with etcd in the background). Without a usable cache weftd keeps waiting for
// etcd, as Flannel does.
import type { Logger } from '../../observability/logger.js';
import type { NetworkConfig } from './network-config.js';
import type { CachedState, StateCache } from './state-cache.js';
import { LogEvent } from '../../observability/log-events.js';

/** How long weftd waits for etcd at start before it uses the state cache. */
export const ETCD_START_GRACE_MS = 2_500;

export type StartSource =
  | { readonly mode: 'etcd'; readonly network: NetworkConfig }
  | { readonly mode: 'state-cache'; readonly network: NetworkConfig; readonly state: CachedState; readonly savedAt: string };

export interface StartSourceOptions {
  /** Waits for etcd's network config; resolves undefined once `signal` aborts. */
  readonly waitForEtcd: (signal: AbortSignal) => Promise<NetworkConfig | undefined>;
  /** Whether etcd has answered any call (then weftd waits for it: the config is merely missing). */
  readonly etcdAnswered: () => boolean;
  readonly cache: StateCache;
  readonly graceMs?: number;
  readonly log: Logger;
  readonly signal: AbortSignal;
}

/** Resolves undefined if `signal` aborts first. */
export async function chooseStartSource(o: StartSourceOptions): Promise<StartSource | undefined> {
  const graceMs = o.graceMs ?? ETCD_START_GRACE_MS;
  const giveUp = new AbortController();
  let answered: StartSource | undefined;
  const fromEtcd = o.waitForEtcd(AbortSignal.any([o.signal, giveUp.signal])).then((network): StartSource | undefined => (answered = network ? { mode: 'etcd', network } : undefined));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const first = await Promise.race([fromEtcd, late]);
  clearTimeout(timer);
  if (first !== 'late' || o.signal.aborted) return fromEtcd;
  if (o.etcdAnswered()) return fromEtcd;
  const cached = o.cache.load();
  if (!cached.state) {
    o.log.warn({ reason: cached.reason }, `etcd has not answered in ${graceMs} ms and there is no usable state cache; waiting for etcd`);
    return fromEtcd;
  }
  // An etcd call in flight may hang until its deadline: let it end in the background.
  giveUp.abort();
  fromEtcd.catch(() => undefined);
  if (answered) return answered;
  o.log.warn({ event: LogEvent.stateCacheStart, file: o.cache.file, savedAt: cached.savedAt, graceMs }, 'etcd has not answered; starting from the state cache (lease, network config, peers)');
  return { mode: 'state-cache', network: cached.state.network, state: cached.state, savedAt: cached.savedAt };
}
