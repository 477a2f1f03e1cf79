// Two live processes with one node name: each refutes the other's records forever. Membership
// reports it once the other side has answered a refutation (a stale record of this member's own
// earlier run is refuted once and never comes back higher).
import { describe, expect, it } from 'vitest';
import { Membership } from '../../../../daemon/control/gossip/membership.js';
import type { Transport } from '../../../../daemon/control/gossip/messages.js';
import { swimConfig } from '../../../../daemon/control/gossip/swim-config.js';
import type { MemberRecord } from '../../../../daemon/control/gossip/types.js';
import { FakeClock, quietLogger } from '../../../fakes/gossip-net.js';

const silent = (): Promise<never> => new Promise<never>(() => undefined);
const nowhere: Transport = { ping: silent, pingReq: silent, pushPull: silent, gossip: silent };
const info = { name: 'twin', publicIp: '198.18.0.1', gossipPort: 8473, subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:01', vni: 1 };
const other = (incarnation: number, extra: Partial<MemberRecord> = {}): MemberRecord => ({ ...info, publicIp: '198.18.0.9', subnet: '10.244.9.0/24', vtepMac: '02:00:00:00:00:09', incarnation, state: 'alive', ...extra });

function member(): { m: Membership; conflicts: MemberRecord[] } {
  const conflicts: MemberRecord[] = [];
  const m = new Membership({ self: info, config: swimConfig(), clock: new FakeClock(), transport: nowhere, logger: quietLogger, onNameConflict: (r) => conflicts.push(r) });
  m.start([]);
  return { m, conflicts };
}

describe('name conflict', () => {
  it('is reported when another process answers this member\'s refutation with its own info', () => {
    const { m, conflicts } = member();
    m.mergeAll([other(0)]);
    expect(m.selfRecord().incarnation).toBe(1);
    expect(conflicts).toEqual([]);
    m.mergeAll([other(2)]);
    expect(conflicts).toEqual([expect.objectContaining({ publicIp: '198.18.0.9', subnet: '10.244.9.0/24', incarnation: 2 })]);
    expect(m.selfRecord()).toMatchObject({ publicIp: '198.18.0.1', incarnation: 3, state: 'alive' });
    m.stop();
  });

  it('is not reported for a stale record of an earlier run, nor for suspicion of this member', () => {
    const { m, conflicts } = member();
    m.mergeAll([other(4)]);
    m.mergeAll([other(3), other(5, { state: 'suspect', publicIp: info.publicIp, subnet: info.subnet, vtepMac: info.vtepMac })]);
    expect(conflicts).toEqual([]);
    expect(m.selfRecord().incarnation).toBe(6);
    m.stop();
  });
});
