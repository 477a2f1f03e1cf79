// identityRefusal: which leases the keeper asks about before taking one, and what it refuses.
import { describe, expect, it } from 'vitest';
import { identityRefusal, type IdentityGuard, type LeaseHolder } from '../../../../daemon/control/lease/identity-guard.js';
import { parseSubnet } from '../../../../daemon/net/ipv4.js';
import type { StoredLease } from '../../../../daemon/control/lease/lease-store.js';

const self = { publicIp: '198.18.0.1', vni: 1, vtepMac: '02:00:00:00:00:01', gossipPort: 8473, nodeName: 'node1' };
const stored = (subnet: string, publicIp: string, nodeName?: string): StoredLease => ({
  key: `/coreos.com/network/subnets/${subnet.replace('/', '-')}`,
  subnet: parseSubnet(subnet)!,
  attrs: { publicIp, backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:99', gossipPort: nodeName ? 8473 : undefined, nodeName, csumElision: false },
  value: '',
  lease: '1',
  modRevision: '1',
});

/** A guard whose holders listed in `live` answer; records whom it was asked about. */
function guard(live: string[]): IdentityGuard & { asked: string[] } {
  const asked: string[] = [];
  return { asked, alive: async (h: LeaseHolder) => (asked.push(`${h.name}@${h.publicIp}`), live.includes(`${h.name}@${h.publicIp}`)), refused: () => undefined };
}

describe('identityRefusal', () => {
  it('asks nobody on a restart: the lease naming us at our IP is ours', async () => {
    const g = guard(['node1@198.18.0.1']);
    const leases = [stored('10.244.1.0/24', '198.18.0.1', 'node1')];
    expect(await identityRefusal(leases, self, { subnet: parseSubnet('10.244.1.0/24')! }, g)).toBeUndefined();
    expect(g.asked).toEqual([]);
  });

  it('reuses the lease of our public IP under another name when its holder does not answer (a rename)', async () => {
    const g = guard([]);
    expect(await identityRefusal([stored('10.244.1.0/24', '198.18.0.1', 'old-name')], self, { subnet: parseSubnet('10.244.1.0/24')! }, g)).toBeUndefined();
    expect(g.asked).toEqual(['old-name@198.18.0.1']);
  });

  it('refuses it when the holder answers (public_ip), and refuses our name held alive elsewhere (node_name)', async () => {
    const ip = await identityRefusal([stored('10.244.1.0/24', '198.18.0.1', 'other')], self, { subnet: parseSubnet('10.244.1.0/24')! }, guard(['other@198.18.0.1']));
    expect(ip).toEqual({ kind: 'public_ip', holder: { name: 'other', publicIp: '198.18.0.1', gossipPort: 8473, subnet: '10.244.1.0/24' } });
    const name = await identityRefusal([stored('10.244.7.0/24', '198.18.0.7', 'node1')], self, undefined, guard(['node1@198.18.0.7']));
    expect(name).toMatchObject({ kind: 'node_name', holder: { publicIp: '198.18.0.7', subnet: '10.244.7.0/24' } });
  });

  it('cannot ask a Flannel node (no gossip port) and reuses its lease as Flannel would', async () => {
    const g = guard([]);
    expect(await identityRefusal([stored('10.244.1.0/24', '198.18.0.1')], self, { subnet: parseSubnet('10.244.1.0/24')! }, g)).toBeUndefined();
    expect(g.asked).toEqual([]);
  });
});
