// Real gossip endpoints on loopback (gRPC, HMAC, default SWIM timers), in one process: convergence,
// join latency, graceful leave (and the metrics that show it), and a forged member refused by
// mergeRoutes. "Stays so" is checked after each member has run two more probe rounds (its ping
// counter), not after a fixed time.
import { afterEach, describe, expect, it } from 'vitest';
import { mergeRoutes } from '../../daemon/control/gossip/merge.js';
import { gossipCounters } from '../../daemon/control/gossip/metrics.js';
import type { GossipNode } from '../../daemon/control/gossip/node.js';
import { startGossip } from '../../daemon/control/gossip/node.js';
import { createMetrics } from '../../daemon/observability/metrics.js';
import { clusterKey, quiet, seedOf, startCluster, startMember } from '../../lab/gossip-members.js';
import { converged, viewsOf, waitFor } from '../fixtures/gossip/cluster.js';

let nodes: GossipNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.destroy()));
  nodes = [];
});

describe('gossip on loopback', () => {
  it('8 members converge to the same view, and a new member is known by all within 1 s', async () => {
    const key = clusterKey();
    nodes = await startCluster(8, key);
    await waitFor('8 members to converge', () => converged(nodes), 3_000);
    const view = (n: GossipNode): string[] => [n.self(), ...n.members()].map((m) => `${m.name}:${m.state}:${m.incarnation}`).sort();
    expect(view(nodes[0])).toHaveLength(8);
    for (const n of nodes) expect(view(n)).toEqual(view(nodes[0]));
    for (const n of nodes) expect(n.status().size).toBe(8);

    const started = performance.now();
    const newcomer = await startMember(8, key, [seedOf(nodes[3])]);
    nodes.push(newcomer);
    await waitFor('all members to see n8 alive', () => viewsOf(nodes, 'n8').every((s) => s === 'alive'), 1_000);
    const joinMs = performance.now() - started;
    expect(joinMs).toBeLessThan(1_000);
    const rejected = nodes.reduce((sum, n) => sum + Object.values(n.stats.rejected).reduce((a, b) => a + b, 0), 0);
    expect(rejected).toBe(0);
  });

  it('close() leaves gracefully: all others see it left at once, without suspecting it', async () => {
    nodes = await startCluster(5, clusterKey());
    await waitFor('5 members to converge', () => converged(nodes), 3_000);
    const leaver = nodes[4];
    const rest = nodes.slice(0, 4);
    const failures = leaver.stats.callFailures;
    await leaver.close();
    // at once: told directly, each member had it when close() returned (no gossip round needed)
    expect(leaver.stats.callFailures).toBe(failures);
    expect(viewsOf(rest, 'n4')).toEqual(['left', 'left', 'left', 'left']);
    const pings = rest.map((n) => n.stats.sent.Ping);
    await waitFor('each member to probe twice more', () => rest.every((n, i) => n.stats.sent.Ping >= pings[i] + 2), 5_000);
    expect(viewsOf(rest, 'n4')).toEqual(['left', 'left', 'left', 'left']);
    expect(rest.every((n) => n.counters.suspicions === 0)).toBe(true);
    const text = await createMetrics({ gossip: () => gossipCounters(rest[0]) }, { defaultMetrics: false }).render();
    expect(text).toMatch(/weft_gossip_members\{state="alive"\} 4/);
    expect(text).toMatch(/weft_gossip_members\{state="left"\} 1/);
    expect(text).toMatch(/weft_gossip_messages_total\{type="ping",direction="out"\} [1-9]/);
    expect(text).toMatch(/weft_gossip_rejected_total\{reason="bad_hmac"\} 0/);
    const s = rest[0].status().members.find((m) => m.name === 'n4');
    expect(s).toMatchObject({ state: 'left', incarnation: 0, publicIp: '127.0.0.1', subnet: '10.244.4.0/24' });
    expect(s?.lastSeen).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('a member with the cluster key claiming a leased subnet is gossiped, but refused by mergeRoutes', async () => {
    const key = clusterKey();
    nodes = await startCluster(3, key);
    const forger = await startGossip({
      self: { name: 'forger', publicIp: '127.0.0.9', subnet: '10.244.1.0/24', vtepMac: '02:66:66:66:66:66', vni: 1 },
      host: '127.0.0.1',
      port: 0,
      key,
      seeds: [seedOf(nodes[0])],
      logger: quiet,
    });
    nodes.push(forger);
    await waitFor('all to know the forger', () => viewsOf(nodes.slice(0, 3), 'forger').every((s) => s === 'alive'), 2_000);
    const leases = [0, 1, 2].map((i) => ({ subnet: `10.244.${i}.0/24`, publicIp: '127.0.0.1', vtepMac: `02:00:00:00:00:0${i}`, nodeName: `n${i}` }));
    const routes = mergeRoutes(leases, nodes[0].members(), { localSubnet: '10.244.0.0/24' });
    expect(routes.peers.map((p) => `${p.subnet}→${p.publicIp}`).sort()).toEqual(['10.244.1.0/24→127.0.0.1', '10.244.2.0/24→127.0.0.1']);
    expect(routes.refused).toEqual([expect.objectContaining({ member: 'forger', reason: 'lease-conflict' })]);
  });
});
