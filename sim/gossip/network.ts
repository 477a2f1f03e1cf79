// The simulated underlay between gossip members: one-way delay per packet = the link's own base
// latency (fixed per pair of members, spread around latencyMs) + uniform jitter; each packet is
// lost with probability `loss`; a packet between members in different partition groups, or to a
// member whose process is down, is never delivered. Slow members (overloaded nodes) run every timer
// and handle every inbound message late by a uniform delay in [0, slowLagMs).
import { pairHash } from './random.js';

export interface NetworkOptions {
  /** Mean one-way base latency of a link (ms). */
  latencyMs: number;
  /** Links' base latencies spread uniformly over latencyMs × [1 − spread, 1 + spread]. */
  latencySpread: number;
  /** Per-packet extra delay, uniform in [0, jitterMs). */
  jitterMs: number;
  /** Probability that one packet (a request or a reply) is lost. */
  loss: number;
  /** Extra delay of a slow member's timers and inbound messages, uniform in [0, slowLagMs). */
  slowLagMs: number;
  seed: number;
}

export const DEFAULT_NETWORK: Readonly<NetworkOptions> = Object.freeze({ latencyMs: 0.25, latencySpread: 0.5, jitterMs: 0.1, loss: 0, slowLagMs: 250, seed: 1 });

export class Network {
  /** 1 while the member's process runs. */
  readonly up: Uint8Array;
  /** 1 for slow members. */
  readonly slow: Uint8Array;
  /** Partition group of each member; packets cross groups only while `partitioned` is false. */
  readonly group: Uint8Array;
  partitioned = false;
  /** Packets dropped, by cause. */
  readonly dropped = { loss: 0, partition: 0, down: 0 };

  constructor(
    capacity: number,
    readonly opts: Readonly<NetworkOptions>,
    private readonly random: () => number,
  ) {
    this.up = new Uint8Array(capacity);
    this.slow = new Uint8Array(capacity);
    this.group = new Uint8Array(capacity);
  }

  /** Base one-way latency of the link a–b (the same both ways, fixed for the run). */
  linkLatency(a: number, b: number): number {
    const o = this.opts;
    return o.latencyMs * (1 - o.latencySpread + 2 * o.latencySpread * pairHash(a, b, o.seed));
  }

  /** True when a packet from a can reach b now (both up, same side of any partition). */
  reachable(a: number, b: number): boolean {
    return this.up[a] === 1 && this.up[b] === 1 && (!this.partitioned || this.group[a] === this.group[b]);
  }

  /**
   * One-way delay of a packet sent now from a to b, or -1 when it is lost. Whether the receiver is
   * up and on the same side is decided at arrival (see `reachable`).
   */
  delay(a: number, b: number): number {
    if (this.opts.loss > 0 && this.random() < this.opts.loss) {
      this.dropped.loss++;
      return -1;
    }
    return this.linkLatency(a, b) + this.opts.jitterMs * this.random();
  }

  /** Extra lateness of one timer or inbound message at member i (0 unless slow). */
  lag(i: number): number {
    return this.slow[i] === 1 ? this.opts.slowLagMs * this.random() : 0;
  }
}
