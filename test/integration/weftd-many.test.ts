// 16 weftd processes started at the same moment against one etcd all get distinct subnets
// (create-if-absent transactions plus re-listing on a lost race), and each one's subnet.env
// names its own subnet. Each daemon runs in its own host namespace on a test underlay, etcd on
// the underlay switch; the namespaces are made first, so the daemons still start together.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { eventsOf, startWeftd, waitForEvent } from '../helpers/weftd.js';
import { LogEvent } from '../../daemon/observability/log-events.js';

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];

useTestbed('many', async (bed) => {
  ({ etcd, dir } = bed);
  for (let i = 0; i < 16; i++) hosts.push(await bed.underlay.addHost(`m${i}`, `198.18.3.${i + 1}`));
});

describe('16 daemons at once', () => {
  it('get 16 distinct subnets, even when the network leaves only 20 to choose from', async () => {
    const prefix = '/m/network';
    // SubnetMin..SubnetMax spans 20 /24s, so random picks collide often and races must be retried.
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","SubnetMin":"10.244.1.0","SubnetMax":"10.244.20.0","Backend":{"Type":"vxlan"}}');
    const daemons = Array.from({ length: 16 }, (_, i) => startWeftd({ host: hosts[i], etcd, prefix, node: `m${i}`, dir }));
    try {
      const ready = await Promise.all(daemons.map((d) => waitForEvent(d, LogEvent.ready, { timeoutMs: 30_000 })));
      const subnets = ready.map((l) => String(l.subnet));
      expect(new Set(subnets).size).toBe(16);
      const races = daemons.reduce((n, d) => n + eventsOf(d, LogEvent.leaseRaceLost).length, 0);
      console.log(`16 daemons ready; ${races} lost create races were retried`);
      const keys = (await etcd.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).split('\n').filter(Boolean);
      expect(keys.sort()).toEqual(subnets.map((s) => `${prefix}/subnets/${s.replace('/', '-')}`).sort());
      for (let i = 0; i < 16; i++) {
        const expected = subnets[i].replace(/\.0\/24$/, '.1/24');
        expect(readFileSync(daemons[i].subnetFile, 'utf8')).toContain(`FLANNEL_SUBNET=${expected}\n`);
        expect(await etcd.etcdctl('get', '--print-value-only', `${prefix}/subnets/${subnets[i].replace('/', '-')}`)).toContain(`"PublicIP":"198.18.3.${i + 1}"`);
      }
    } finally {
      const exits = await Promise.all(daemons.map((d) => d.stop('SIGTERM')));
      expect(exits.every((e) => e.code === 0)).toBe(true);
    }
  });
});
