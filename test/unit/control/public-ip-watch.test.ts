// PublicIpWatch: a live member announcing this node's public IP under another name is reported
// once it stayed live past the confirmation time; a record that dies first (this node's own
// earlier run under another name) is not.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MemberView } from '../../../daemon/control/gossip/index.js';
import { IdentityConflicts } from '../../../daemon/control/identity-conflicts.js';
import { PublicIpWatch } from '../../../daemon/control/public-ip-watch.js';
import { quietLogger } from '../../fakes/gossip-net.js';

const view = (name: string, publicIp: string, state: MemberView['state']): MemberView => ({ name, publicIp, gossipPort: 8473, subnet: '10.244.9.0/24', vtepMac: '02:00:00:00:00:09', vni: 1, incarnation: 1, state, lastSeen: 0, stateSince: 0 });

describe('PublicIpWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function watch(members: () => MemberView[]): { w: PublicIpWatch; conflicts: IdentityConflicts } {
    const conflicts = new IdentityConflicts(quietLogger);
    const w = new PublicIpWatch({ self: { name: 'node1', publicIp: '198.18.0.1', subnet: '10.244.1.0/24' }, members, conflicts, confirmMs: 1_000 });
    return { w, conflicts };
  }

  it('reports a claim that stays live (even flapping to suspect), once', () => {
    let members = [view('node9', '198.18.0.1', 'alive'), view('node2', '198.18.0.2', 'alive')];
    const { w, conflicts } = watch(() => members);
    w.update();
    vi.advanceTimersByTime(500);
    members = [view('node9', '198.18.0.1', 'suspect'), members[1]];
    w.update();
    expect(conflicts.counts.public_ip).toBe(0);
    vi.advanceTimersByTime(600);
    expect(conflicts.counts).toEqual({ node_name: 0, public_ip: 1 });
    w.update();
    vi.advanceTimersByTime(5_000);
    expect(conflicts.counts.public_ip).toBe(1);
    w.close();
  });

  it('does not report a record at our IP that goes dead or left before the confirmation time', () => {
    let members = [view('node1-old', '198.18.0.1', 'alive')];
    const { w, conflicts } = watch(() => members);
    w.update();
    vi.advanceTimersByTime(800);
    members = [view('node1-old', '198.18.0.1', 'dead')];
    w.update();
    vi.advanceTimersByTime(5_000);
    expect(conflicts.counts.public_ip).toBe(0);
    w.close();
  });
});
