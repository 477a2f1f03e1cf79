// Rotating the cluster key without a gossip split (README, "Rotating the cluster key"): at each
// step of the procedure the members holding the two key lists of that step converge, with no
// message rejected; a member holding only the new key cannot talk to one holding only the old.
import { afterEach, describe, expect, it } from 'vitest';
import type { GossipNode } from '../../daemon/control/gossip/node.js';
import { clusterKey, seedOf, startMember } from '../../lab/gossip-members.js';
import { converged, waitFor } from '../fixtures/gossip/cluster.js';

let nodes: GossipNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.destroy()));
  nodes = [];
});

const rejected = (n: GossipNode): number => Object.values(n.stats.rejected).reduce((a, b) => a + b, 0);

describe('cluster key rotation', () => {
  const oldKey = clusterKey();
  const newKey = clusterKey();
  const steps: [string, Buffer[], Buffer[]][] = [
    ['1: the new key added second', [oldKey], [oldKey, newKey]],
    ['2: the new key first', [oldKey, newKey], [newKey, oldKey]],
    ['3: the old key removed', [newKey, oldKey], [newKey]],
  ];
  for (const [step, before, after] of steps) {
    it(`step ${step}: restarted and not yet restarted members converge`, async () => {
      nodes = [await startMember(0, before, [])];
      for (const [i, keys] of [after, before, after].entries()) nodes.push(await startMember(i + 1, keys, [seedOf(nodes[i])]));
      await waitFor('4 members to converge', () => converged(nodes), 3_000);
      expect(nodes.map(rejected)).toEqual([0, 0, 0, 0]);
    });
  }

  it('members holding only the old and only the new key reject each other', async () => {
    nodes = [await startMember(0, [oldKey], [])];
    nodes.push(await startMember(1, [newKey], [seedOf(nodes[0])]));
    await waitFor('the old-key member to reject the new one', () => nodes[0].stats.rejected.bad_hmac > 0, 3_000);
    expect(nodes[0].members()).toEqual([]);
  });
});
