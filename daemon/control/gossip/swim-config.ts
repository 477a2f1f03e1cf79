// SWIM timing and fan-out. Defaults are tuned for a LAN/loopback cluster: a new member is known by
// all within about 1 s, a killed one is declared dead by all within about 3 s (probe, indirect
// probes, then suspicion), and gossip stays well under a few KB/s per member.
import { WeftError } from '../../errors.js';

export interface SwimConfig {
  /** Time between two probes of one member (jittered). */
  probeIntervalMs: number;
  /** How long a direct ping may take before indirect probes start. */
  probeTimeoutMs: number;
  /** Members asked to probe a target that did not answer (SWIM's k). */
  indirectChecks: number;
  /**
   * Floor of the suspicion timeout; it grows as suspicionMult × log10(n) × gossipIntervalMs, that
   * is with the time a refutation takes to reach every member (about log n dissemination rounds).
   */
  suspicionTimeoutMs: number;
  suspicionMult: number;
  /**
   * An unconfirmed suspicion waits suspicionMaxMult × the timeout above; each distinct member that
   * confirms it shortens the wait, down to the timeout itself after indirectChecks confirmations
   * (Lifeguard's dynamic suspicion: a lone, possibly overloaded accuser cannot kill a member fast).
   */
  suspicionMaxMult: number;
  /** Time between two dissemination rounds while updates are pending. */
  gossipIntervalMs: number;
  /** Members each dissemination round sends to. */
  gossipFanout: number;
  /**
   * Seeds a starting member contacts at once (the next ones only if none answers); also the
   * expected number of members of a cluster that contact a seed added later (setSeeds).
   */
  joinFanout: number;
  /** Members a newly joined member tells about itself directly. */
  announceFanout: number;
  /** Dissemination also targets members declared dead this recently (memberlist's GossipToTheDeadTime). */
  gossipToTheDeadMs: number;
  /** An update is retransmitted at most retransmitMult × ⌈log10(n + 1)⌉ times (SWIM's λ log n). */
  retransmitMult: number;
  /** Updates piggybacked on one message. */
  maxPiggyback: number;
  /**
   * Time between two anti-entropy full-state exchanges with a random member (jittered), up to
   * pushPullScaleThreshold members; stretched beyond (see pushPullIntervalFor).
   */
  pushPullIntervalMs: number;
  /** Cluster size above which the push-pull interval grows with log2 n (0: never). */
  pushPullScaleThreshold: number;
  /** While no other member is alive, seeds are retried this often (jittered). */
  joinRetryMs: number;
  /** Deadline of one push-pull or gossip RPC. */
  rpcTimeoutMs: number;
  /** Dead and left members are forgotten after this long (and the oldest beyond maxDeadMembers). */
  deadRetentionMs: number;
  maxDeadMembers: number;
  /** Highest local-health score: probing slows down at most (1 + awarenessMax) times. */
  awarenessMax: number;
  /** Fraction of jitter applied to periodic timers. */
  jitter: number;
}

export const DEFAULT_SWIM_CONFIG: Readonly<SwimConfig> = Object.freeze({
  probeIntervalMs: 500,
  probeTimeoutMs: 150,
  indirectChecks: 3,
  suspicionTimeoutMs: 1_500,
  suspicionMult: 4,
  suspicionMaxMult: 3,
  gossipIntervalMs: 150,
  gossipFanout: 3,
  joinFanout: 3,
  announceFanout: 16,
  gossipToTheDeadMs: 10_000,
  retransmitMult: 6,
  maxPiggyback: 16,
  pushPullIntervalMs: 5_000,
  pushPullScaleThreshold: 32,
  joinRetryMs: 1_000,
  rpcTimeoutMs: 1_000,
  deadRetentionMs: 24 * 3600_000,
  maxDeadMembers: 1_024,
  awarenessMax: 8,
  jitter: 0.1,
});

/** Defaults overridden by `overrides`, every field checked. */
export function swimConfig(overrides: Partial<SwimConfig> = {}): Readonly<SwimConfig> {
  const c: SwimConfig = { ...DEFAULT_SWIM_CONFIG, ...overrides };
  for (const [k, v] of Object.entries(c)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new WeftError('WEFT_ERR_CONFIG', `gossip: ${k} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    throw new WeftError('WEFT_ERR_CONFIG', `gossip: probeTimeoutMs (${c.probeTimeoutMs}) must be below probeIntervalMs (${c.probeIntervalMs})`);
  }
  if (c.jitter >= 1) throw new WeftError('WEFT_ERR_CONFIG', `gossip: jitter must be below 1, got ${c.jitter}`);
  return Object.freeze(c);
}

/**
 * The push-pull interval at `members` members (this one included): memberlist's pushPullScale,
 * pushPullIntervalMs × (⌈log2 n − log2 threshold⌉ + 1) above the threshold. One exchange carries
 * the full state (~70 B per member each way), so a fixed interval would make every member's
 * anti-entropy traffic grow linearly with n; this makes it grow as n / log n.
 */
export function pushPullIntervalFor(c: Readonly<SwimConfig>, members: number): number {
  const t = c.pushPullScaleThreshold;
  if (t < 1 || members <= t) return c.pushPullIntervalMs;
  return c.pushPullIntervalMs * (Math.ceil(Math.log2(members) - Math.log2(t)) + 1);
}
