// A running gossip member: gRPC transport + SWIM membership on the real clock.
//
//   const node = await startGossip({ self, key, port: 8473, seeds, logger });
//   node.subscribe(() => routes.update(mergeRoutes(leases, node.members())));
//   node.setSeeds(seedsFromLeases(leases));            // whenever the lease registry changes
//   await node.close();                                // SIGTERM: leave gracefully, then stop
import type { Logger } from 'pino';
import type { AuthOptions } from './auth.js';
import { realClock, type Clock } from './clock.js';
import { GrpcTransport, type TransportLimits } from './grpc-transport.js';
import { Membership, type MemberChange, type MembershipCounters } from './membership.js';
import { DEFAULT_GOSSIP_PORT } from './seeds.js';
import { newGossipStats, type GossipStats } from './stats.js';
import { swimConfig, type SwimConfig } from './swim-config.js';
import type { MemberInfo, MemberRecord, MemberView } from './types.js';
import { LogEvent } from '../../observability/log-events.js';

export interface GossipNodeOptions {
  /** What this member announces; gossipPort is the port actually bound. */
  self: Omit<MemberInfo, 'gossipPort'>;
  /** Interface to listen on (default "0.0.0.0"). */
  host?: string;
  /** Port to listen on (default 8473; 0 = any free port, for tests). */
  port?: number;
  /** Cluster key (see cluster-key.ts); every member must hold the same. During a rotation, the keys (the first signs, all verify). */
  key: Buffer | readonly Buffer[];
  /** "host:port" of members to join through. */
  seeds?: readonly string[];
  logger: Logger;
  swim?: Partial<SwimConfig>;
  auth?: AuthOptions;
  /** Limits of the gossip port (defaults: DEFAULT_LIMITS in grpc-transport.ts). */
  limits?: Partial<TransportLimits>;
  /** Probe over UDP where the member answers there (udp-probes.ts); default true. */
  udpProbes?: boolean;
  incarnation?: number;
  clock?: Clock;
  /** See MembershipOptions.onNameConflict. */
  onNameConflict?: (other: MemberRecord) => void;
}

export interface MemberStatus extends MemberRecord {
  /** ISO time of the last ack or message from it; null if never heard directly. */
  lastSeen: string | null;
  lastSeenAgoMs: number | null;
  stateSince: string;
}

export interface GossipStatus {
  self: MemberRecord;
  /** Members alive or suspect, this one included. */
  size: number;
  members: MemberStatus[];
  counters: MembershipCounters;
  stats: GossipStats;
}

export interface GossipNode {
  readonly name: string;
  /** The bound gossip port. */
  readonly port: number;
  /** Other members (including dead and left ones until forgotten). */
  members(): MemberView[];
  self(): MemberRecord;
  /** Called after every membership change; returns an unsubscribe. */
  subscribe(fn: (c: MemberChange) => void): () => void;
  setSeeds(seeds: readonly string[]): void;
  status(): GossipStatus;
  readonly stats: GossipStats;
  readonly counters: MembershipCounters;
  /** Leaves gracefully (LEFT is sent to every live member, at most `leaveTimeoutMs`), then stops. Idempotent. */
  close(leaveTimeoutMs?: number): Promise<void>;
  /** Stops at once without telling anyone (as a crash would). */
  destroy(): Promise<void>;
}

export async function startGossip(opts: GossipNodeOptions): Promise<GossipNode> {
  const config = swimConfig(opts.swim);
  const clock = opts.clock ?? realClock;
  const stats = newGossipStats();
  const transport = await GrpcTransport.listen({
    host: opts.host ?? '0.0.0.0',
    port: opts.port ?? DEFAULT_GOSSIP_PORT,
    key: opts.key,
    sender: opts.self.name,
    stats,
    logger: opts.logger,
    auth: opts.auth,
    limits: opts.limits,
    udpProbes: opts.udpProbes ?? true,
  });
  const membership = new Membership({
    self: { ...opts.self, gossipPort: transport.port },
    incarnation: opts.incarnation,
    config,
    clock,
    transport,
    logger: opts.logger,
    onNameConflict: opts.onNameConflict,
  });
  transport.setHandler(membership);
  membership.start(opts.seeds ?? []);
  opts.logger.info({ event: LogEvent.gossipListening, port: transport.port, seeds: opts.seeds ?? [] }, `gossip: ${opts.self.name} listening on port ${transport.port}`);

  let closing: Promise<void> | undefined;
  const toWall = (t: number): number => Date.now() - (clock.now() - t);
  return {
    name: opts.self.name,
    port: transport.port,
    members: () => membership.members(),
    self: () => membership.selfRecord(),
    subscribe: (fn) => membership.subscribe(fn),
    setSeeds: (seeds) => membership.setSeeds(seeds),
    stats,
    counters: membership.counters,
    status() {
      const members = membership.members().sort((a, b) => a.name.localeCompare(b.name));
      return {
        self: membership.selfRecord(),
        size: 1 + members.filter((m) => m.state === 'alive' || m.state === 'suspect').length,
        members: members.map(({ lastSeen, stateSince, ...m }) => ({
          ...m,
          lastSeen: lastSeen > 0 ? new Date(toWall(lastSeen)).toISOString() : null,
          lastSeenAgoMs: lastSeen > 0 ? Math.round(clock.now() - lastSeen) : null,
          stateSince: new Date(toWall(stateSince)).toISOString(),
        })),
        counters: { ...membership.counters },
        stats: structuredClone(stats),
      };
    },
    close(leaveTimeoutMs = 500) {
      closing ??= (async () => {
        await membership.leave(leaveTimeoutMs);
        await transport.close();
        opts.logger.info(`gossip: ${opts.self.name} left`);
      })();
      return closing;
    },
    destroy() {
      closing ??= (async () => {
        membership.stop();
        await transport.close(0);
      })();
      return closing;
    },
  };
}
