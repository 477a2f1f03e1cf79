// Real gossip members on loopback for integration tests and the gossip benchmark: in-process
// nodes, child-process members (killable), and a poller that measures how long a condition took.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startGossip, type GossipNode } from '../../daemon/control/gossip/node.js';
import type { SwimConfig } from '../../daemon/control/gossip/swim-config.js';
import type { MemberState } from '../../daemon/control/gossip/types.js';
import { spawnTracked, type TrackedChild } from '../helpers/processes.js';

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

/** What every node in `nodes` believes about `name`. */
export function viewsOf(nodes: readonly GossipNode[], name: string): (MemberState | undefined)[] {
  return nodes.filter((n) => n.name !== name).map((n) => n.members().find((m) => m.name === name)?.state);
}

/** True when every node sees every other node of `nodes` alive. */
export function converged(nodes: readonly GossipNode[]): boolean {
  return nodes.every((n) => {
    const alive = new Set(n.members().filter((m) => m.state === 'alive').map((m) => m.name));
    return nodes.every((o) => o === n || alive.has(o.name));
  });
}

/** Polls `cond` every `stepMs`; resolves with the ms it took, rejects after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs: number, stepMs = 10): Promise<number> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return performance.now() - start;
}

const FIXTURE = fileURLToPath(new URL('../../dist/test/fixtures/gossip/member.js', import.meta.url).href.replace('/dist/dist/', '/dist/'));

/** A member in a child process (see test/fixtures/gossip/member.ts); resolves once it listens. */
export async function spawnMember(name: string, subnet: string, key: Buffer, seeds: string[], port = 0, env?: NodeJS.ProcessEnv): Promise<{ child: TrackedChild; port: number }> {
  const child = spawnTracked(process.execPath, [FIXTURE, name, subnet, key.toString('base64'), seeds.join(','), String(port)], env ? { env: { ...process.env, ...env } } : {});
  const m = await child.waitForOutput(/ready (\d+)/, 10_000);
  return { child, port: Number(m[1]) };
}
