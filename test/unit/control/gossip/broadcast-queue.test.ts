// The piggyback queue: least-sent first, refutations (ALIVE) ahead of suspicions sent as often,
// each update at most `limit` times.
import { describe, expect, it } from 'vitest';
import { BroadcastQueue } from '../../../../daemon/control/gossip/broadcast-queue.js';
import type { MemberRecord, MemberState } from '../../../../daemon/control/gossip/types.js';

const rec = (name: string, state: MemberState): MemberRecord => ({ name, publicIp: '198.18.0.1', gossipPort: 8473, subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:01', vni: 1, incarnation: 1, state });

describe('broadcast queue', () => {
  it('sends an ALIVE update before newer suspicions and deaths sent as often, and each at most limit times', () => {
    const q = new BroadcastQueue();
    q.enqueue(rec('refuted', 'alive'));
    for (let i = 0; i < 20; i++) q.enqueue(rec(`s${i}`, i % 2 === 0 ? 'suspect' : 'dead'));
    expect(q.take(4, 2).map((r) => r.name)).toEqual(['refuted', 's19', 's18', 's17']);
    // the refutation, sent once, now waits for the 17 not yet sent at all
    expect(q.take(17, 2).map((r) => r.name)).not.toContain('refuted');
    expect(q.take(1, 2).map((r) => r.name)).toEqual(['refuted']);
    expect(q.transmits('refuted')).toBeUndefined();
  });
});
