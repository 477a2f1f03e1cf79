// Gossip members in child processes next to in-process ones on loopback, default timers: SIGKILL
// is detected within 5 s and a restart is alive again within 1 s; SIGTERM leaves at once; a
// process with the wrong cluster key cannot join or change anyone's view.
import { afterEach, describe, expect, it } from 'vitest';
import type { GossipNode } from '../../daemon/control/gossip/node.js';
import type { TrackedChild } from '../../lab/processes.js';
import { clusterKey, seedOf, startCluster } from '../../lab/gossip-members.js';
import { converged, spawnMember, viewsOf, waitFor } from '../fixtures/gossip/cluster.js';

let nodes: GossipNode[] = [];
let children: TrackedChild[] = [];
afterEach(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')));
  await Promise.all(nodes.map((n) => n.destroy()));
  nodes = [];
  children = [];
});

describe('gossip members in other processes', () => {
  it('a SIGKILLed member is dead on all others within 5 s, and alive again within 1 s of restarting', async () => {
    const key = clusterKey();
    nodes = await startCluster(5, key);
    const seeds = [seedOf(nodes[0]), seedOf(nodes[1])];
    const first = await spawnMember('victim', '10.244.50.0/24', key, seeds);
    children.push(first.child);
    await waitFor('all to see the victim alive', () => viewsOf(nodes, 'victim').every((s) => s === 'alive'), 2_000);

    first.child.proc.kill('SIGKILL');
    const deadMs = await waitFor('all to see the victim dead', () => viewsOf(nodes, 'victim').every((s) => s === 'dead'), 5_000);
    expect(deadMs).toBeLessThan(5_000);
    const deadIncarnation = nodes[0].members().find((m) => m.name === 'victim')!.incarnation;

    const spawned = performance.now();
    const again = await spawnMember('victim', '10.244.50.0/24', key, seeds);
    children.push(again.child);
    const readyMs = performance.now() - spawned;
    const aliveMs = await waitFor('all to see the victim alive again', () => viewsOf(nodes, 'victim').every((s) => s === 'alive'), 1_000);
    expect(aliveMs).toBeLessThan(1_000);
    for (const n of nodes) expect(n.members().find((m) => m.name === 'victim')).toMatchObject({ incarnation: deadIncarnation + 1, gossipPort: again.port });
    console.log(`gossip: SIGKILL → dead on all in ${Math.round(deadMs)} ms; restart → listening in ${Math.round(readyMs)} ms, alive on all ${Math.round(aliveMs)} ms later`);
  });

  it('SIGTERM leaves gracefully: the process exits at once and all others see it left', async () => {
    const key = clusterKey();
    nodes = await startCluster(4, key);
    const m = await spawnMember('leaver', '10.244.51.0/24', key, [seedOf(nodes[0])]);
    children.push(m.child);
    await waitFor('all to see the leaver alive', () => viewsOf(nodes, 'leaver').every((s) => s === 'alive'), 2_000);
    const started = performance.now();
    m.child.proc.kill('SIGTERM');
    const exit = await m.child.exited;
    expect(exit.code).toBe(0);
    expect(performance.now() - started).toBeLessThan(1_500);
    await waitFor('all to see the leaver left', () => viewsOf(nodes, 'leaver').every((s) => s === 'left'), 300);
  });

  it('a process with the wrong cluster key cannot join or change membership; its messages are rejected', async () => {
    const key = clusterKey();
    nodes = await startCluster(4, key);
    await waitFor('4 members to converge', () => converged(nodes), 3_000);
    const before = nodes.map((n) => JSON.stringify(n.members().map((m) => [m.name, m.state, m.incarnation])));
    // It claims the name and subnet of n1, as an attacker would.
    const intruder = await spawnMember('n1', '10.244.1.0/24', clusterKey(), nodes.map(seedOf));
    children.push(intruder.child);
    // two join rounds (each a push-pull with every seed) refused by every member
    await waitFor('every member to refuse the intruder twice', () => nodes.every((n) => n.stats.rejected.bad_hmac >= 2), 10_000);
    expect(nodes.map((n) => JSON.stringify(n.members().map((m) => [m.name, m.state, m.incarnation])))).toEqual(before);
    expect(nodes.every((n) => n.members().every((m) => m.gossipPort !== intruder.port))).toBe(true);
    expect(nodes.every((n) => n.counters.refutations === 0)).toBe(true);
    // Nor does it learn anything: it saw no membership change.
    expect(intruder.child.output()).not.toMatch(/change /);
  });
});
