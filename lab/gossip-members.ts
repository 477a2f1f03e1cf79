// Gossip members on loopback in this process, for the integration tests and bench:gossip: real
// gRPC endpoints on 127.0.0.1, each with a name, subnet and VtepMAC derived from its index.
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { startGossip, type GossipNode } from '../daemon/control/gossip/node.js';
import type { SwimConfig } from '../daemon/control/gossip/swim-config.js';

export const quiet = pino({ level: 'silent' });

export function clusterKey(): Buffer {
  return randomBytes(32);
}

export function seedOf(node: GossipNode): string {
  return `127.0.0.1:${node.port}`;
}

export function startMember(i: number, key: Buffer | readonly Buffer[], seeds: string[], swim?: Partial<SwimConfig>): Promise<GossipNode> {
  return startGossip({
    self: { name: `n${i}`, publicIp: '127.0.0.1', subnet: `10.244.${i % 256}.0/24`, vtepMac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i % 256).toString(16).padStart(2, '0')}`, vni: 1 },
    host: '127.0.0.1',
    port: 0,
    key,
    seeds,
    logger: quiet,
    swim,
  });
}

/** Starts n members, each joining through the first. */
export async function startCluster(n: number, key: Buffer, swim?: Partial<SwimConfig>): Promise<GossipNode[]> {
  const first = await startMember(0, key, [], swim);
  const rest = await Promise.all(Array.from({ length: n - 1 }, (_, i) => startMember(i + 1, key, [seedOf(first)], swim)));
  return [first, ...rest];
}
