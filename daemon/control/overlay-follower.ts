// The overlay follows the held lease: started on it, and moved (TUN address, gossip identity)
// when a lost lease comes back as another subnet.
//
//   follow(lease) ──▶ running on subnet S ──acquired S'≠S──▶ close old, start on S' ──▶ running on S'
//                          │ acquired S (same subnet): nothing to do
//                          └ a start that fails: onFailure (weftd exits; it cannot route)
//
// Moves are serialised. The keeper's events are listened to from construction, before the first
// start, so a lease lost meanwhile (e.g. one taken from the state cache that etcd no longer has)
// is not missed. close() waits for a move in flight and closes what it started.
import { errorMessage } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { formatCidr } from '../net/ipv4.js';
import type { HeldLease, KeeperEvent } from './lease/lease-keeper.js';
import { LogEvent } from '../observability/log-events.js';

export interface Closable<C> {
  close(opts?: C): Promise<void>;
}

export interface OverlayFollowerOptions<T extends Closable<C>, C> {
  /** The lease keeper (its events). */
  readonly keeper: { onEvent(fn: (e: KeeperEvent) => void): () => void };
  /** Starts the overlay on `lease`. */
  readonly start: (lease: HeldLease) => Promise<T>;
  /** Told false while the overlay moves, true once it runs again (readiness "tun"). */
  readonly onUp: (up: boolean) => void;
  /** A move whose start failed: the node has no overlay and will not get one. */
  readonly onFailure: (err: unknown) => void;
  readonly log: Logger;
}

export class OverlayFollower<T extends Closable<C>, C = undefined> {
  private running: T | undefined;
  private subnet: string | undefined;
  private moves: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: OverlayFollowerOptions<T, C>) {
    this.unsubscribe = o.keeper.onEvent((e) => {
      if (e.type !== 'acquired' || this.closed || formatCidr(e.lease.subnet) === this.subnet) return;
      o.log.warn({ event: LogEvent.overlayMoved, from: this.subnet ?? null, to: formatCidr(e.lease.subnet) }, 'subnet changed; restarting the overlay');
      this.move(e.lease).catch((err: unknown) => {
        o.log.fatal({ err: errorMessage(err) }, 'cannot restart the overlay on the new subnet; exiting');
        o.onFailure(err);
      });
    });
  }

  /** The overlay running now; undefined before the first start and while it moves. */
  get current(): T | undefined {
    return this.running;
  }

  /** Starts the overlay on `lease` (undefined: wait for the keeper's next acquisition). Rejects if that start fails. */
  follow(lease: HeldLease | undefined): Promise<void> {
    return lease ? this.move(lease) : Promise.resolve();
  }

  /** Stops following; waits for a move in flight, then closes the overlay with `opts`. */
  async close(opts?: C): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    await this.moves.catch(() => undefined);
    const last = this.running;
    this.running = undefined;
    await last?.close(opts);
  }

  private move(lease: HeldLease): Promise<void> {
    this.subnet = formatCidr(lease.subnet);
    this.moves = this.moves.catch(() => undefined).then(async () => {
      if (this.closed) return;
      this.o.onUp(false);
      const old = this.running;
      this.running = undefined;
      await old?.close();
      this.running = await this.o.start(lease);
      this.o.onUp(true);
    });
    return this.moves;
  }
}
