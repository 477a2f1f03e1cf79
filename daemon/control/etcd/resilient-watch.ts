// A key or prefix in etcd followed without gaps: list (with its revision) → watch from
// revision + 1 → on compaction, stream failure or etcd outage, list again and hand the sink the
// full state, which the sink diffs against what it knew. Flannel does the same on ErrCompacted
// (flannel-io/flannel#125); weft also re-lists after any stream failure instead of trusting a
// resumed stream, so no event in a gap can be missed. A prefix is listed in pages of LIST_PAGE keys
// at the revision of the first page (one response holding every lease of a large cluster would
// pass gRPC's 4 MiB message limit at about 16,000 leases).
import { LogEvent } from '../../observability/log-events.js';
import { Range, type Etcd3, type IKeyValue, type IWatchResponse, type Watcher } from 'etcd3';
import type { Logger } from '../../observability/logger.js';
import { errorMessage } from '../../errors.js';
import { Backoff, sleep } from './backoff.js';
import { isUnreachableError, type EtcdHealth } from './etcd-health.js';

export interface KvChange {
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** Empty for deletes. */
  readonly value: string;
  /** etcd lease ID as a decimal string, "0" when none. */
  readonly lease: string;
  readonly modRevision: string;
}

export interface WatchSink {
  /** The complete current state at `revision`; replaces everything known before. */
  reset(kvs: readonly KvChange[], revision: string): void;
  /** Changes after the last reset or apply, in etcd order. */
  apply(changes: readonly KvChange[]): void;
}

export type WatchTarget = { readonly prefix: string } | { readonly key: string };

export interface ResilientWatchHooks {
  /** Test seam: runs once, after the first listing and before the watch starts. */
  readonly afterFirstList?: () => Promise<void>;
}

/** Keys per listing page (a page of leases is about 250 KB). */
export const LIST_PAGE = 1_000;

/** Every key under `prefix` at one revision, LIST_PAGE at a time. */
export async function listPrefix(client: Etcd3, prefix: string): Promise<{ kvs: IKeyValue[]; revision: string }> {
  const { end } = Range.prefix(prefix);
  const kvs: IKeyValue[] = [];
  let start = Buffer.from(prefix);
  let revision: string | undefined;
  for (;;) {
    const page = client.getAll().inRange({ start, end }).limit(LIST_PAGE);
    const res = await (revision === undefined ? page : page.revision(revision)).exec();
    revision ??= res.header.revision;
    kvs.push(...res.kvs);
    if (!res.more || res.kvs.length === 0) return { kvs, revision };
    start = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
  }
}

function toChange(type: 'put' | 'delete', kv: IKeyValue): KvChange {
  return { type, key: kv.key.toString('utf8'), value: type === 'put' ? kv.value.toString('utf8') : '', lease: String(kv.lease ?? '0'), modRevision: String(kv.mod_revision) };
}

export class ResilientWatch {
  private readonly closed = new AbortController();
  private watcher: Watcher | undefined;
  private wake: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private firstListDone: (() => void) | undefined;

  constructor(
    private readonly client: Etcd3,
    private readonly target: WatchTarget,
    private readonly sink: WatchSink,
    private readonly health: EtcdHealth,
    private readonly log: Logger,
    private readonly hooks: ResilientWatchHooks = {},
  ) {}

  /** Starts following; resolves once the first listing has reached the sink (or on close). */
  start(): Promise<void> {
    const first = new Promise<void>((resolve) => (this.firstListDone = resolve));
    const unsubscribe = this.health.onReachable(() => this.wake?.abort());
    this.loop = this.run().finally(() => {
      unsubscribe();
      this.firstListDone?.();
    });
    return first;
  }

  async close(): Promise<void> {
    this.closed.abort();
    this.wake?.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff({ initialMs: 100, maxMs: 2_000 });
    let hook = this.hooks.afterFirstList;
    let lastProblem = '';
    while (!this.closed.signal.aborted) {
      try {
        const t = this.target;
        const res = await this.health.run(async () => {
          if ('prefix' in t) return listPrefix(this.client, t.prefix);
          const one = await this.client.get(t.key).exec();
          return { kvs: one.kvs, revision: one.header.revision };
        });
        lastProblem = '';
        this.sink.reset(res.kvs.map((kv) => toChange('put', kv)), res.revision);
        this.firstListDone?.();
        this.firstListDone = undefined;
        if (hook) {
          await hook();
          hook = undefined;
        }
        const reason = await this.watchFrom(BigInt(res.revision) + 1n);
        if (this.closed.signal.aborted) return;
        this.log.debug({ target: this.target, reason }, 'watch ended; listing again');
        if (reason === 'ran') backoff.reset();
      } catch (err) {
        const message = errorMessage(err);
        if (isUnreachableError(err) || message === lastProblem) this.log.debug({ target: this.target, err: message }, 'listing failed; retrying');
        else this.log.warn({ target: this.target, err: message }, 'etcd refused a listing; retrying');
        lastProblem = message;
      }
      this.wake = new AbortController();
      await sleep(backoff.next(), AbortSignal.any([this.closed.signal, this.wake.signal]));
    }
  }

  /** Watches until the stream fails or close(); says whether it delivered anything. */
  private watchFrom(revision: bigint): Promise<'ran' | 'failed'> {
    return new Promise((resolve) => {
      const builder = this.client.watch();
      const w = ('prefix' in this.target ? builder.prefix(this.target.prefix) : builder.key(this.target.key)).startRevision(revision.toString()).watcher();
      this.watcher = w;
      let delivered = false;
      const finish = (reason: 'ran' | 'failed', err?: unknown): void => {
        if (this.watcher !== w) return;
        this.watcher = undefined;
        this.closed.signal.removeEventListener('abort', onClose);
        if (err !== undefined) this.log.debug({ target: this.target, err: errorMessage(err) }, 'watch stream failed');
        w.removeAllListeners();
        w.on('error', () => undefined);
        w.cancel().catch(() => undefined);
        resolve(reason);
      };
      const onClose = (): void => finish('ran');
      this.closed.signal.addEventListener('abort', onClose, { once: true });
      w.on('data', (res: IWatchResponse) => {
        if (res.events.length === 0) return;
        delivered = true;
        this.sink.apply(res.events.map((e) => toChange(e.type === 'Put' ? 'put' : 'delete', e.kv)));
      });
      w.on('connected', () => this.health.ok());
      w.on('disconnected', (err: unknown) => {
        this.health.failed(err);
        finish(delivered ? 'ran' : 'failed', err);
      });
      w.on('error', (err: unknown) => {
        // etcd cancels a watch whose start revision was compacted; etcd3 passes on only the
        // (empty) cancel reason, not compact_revision.
        if (/^Watcher canceled/.test(errorMessage(err))) this.log.info({ event: LogEvent.watchRelisted, target: this.target, revision: revision.toString(), reason: errorMessage(err) }, 'watch canceled by etcd (compacted revision); listing again');
        finish(delivered ? 'ran' : 'failed', err);
      });
      w.on('end', () => finish(delivered ? 'ran' : 'failed'));
    });
  }
}
