// weftd and the network config: a missing key gives the documented message once and is waited
// for; an invalid one names the field and is waited for too; a tiny network reports exhaustion
// clearly while /readyz says what is missing; a config changed while running is reported once,
// field by field, with what to do, and a restart that loses the node's subnet to a changed network
// says which subnet its pods are stranded in. Records are found by their event or code, and "once"
// is checked after /metrics shows the reads or comparisons that could have logged again. Every weftd runs in its own host namespace on a test
// underlay, etcd on the underlay switch.
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { readSubnetEnv } from '../../lab/weft-node.js';
import { metricValue, waitForMetric, weftdMetrics } from '../helpers/metrics.js';
import { eventsOf, httpGet, logLines, startWeftd, waitForCode, waitForEvent, withCode } from '../helpers/weftd.js';

let etcd: EtcdServer;
let dir: string;
const hosts = new Map<string, UnderlayHost>();

useTestbed(
  'netcfg',
  async (bed) => {
    ({ etcd, dir } = bed);
    hosts.set('a', await bed.underlay.addHost('a', '198.18.1.1'));
    // eth0 MTU 9000, so the MTU written can only be 1450 if Backend.MTU 1500 overrides the interface's
    hosts.set('b', await bed.underlay.addHost('b', '198.18.1.2', { mtu: 9000 }));
    for (let i = 1; i <= 4; i++) hosts.set(`c${i}`, await bed.underlay.addHost(`c${i}`, `198.18.2.${i}`));
    hosts.set('d', await bed.underlay.addHost('d', '198.18.3.1'));
  },
  { killDaemonsAfterEach: true },
);

function host(label: string): UnderlayHost {
  const h = hosts.get(label);
  if (!h) throw new Error(`no host ${label}`);
  return h;
}

describe('weftd network config', () => {
  it('says how to create a missing config, once, and proceeds when it appears', async () => {
    const prefix = '/n1/network';
    const port = 9180;
    const d = startWeftd({ host: host('a'), etcd, prefix, node: 'a', dir, healthzPort: port });
    const missing = await waitForEvent(d, LogEvent.networkConfigMissing);
    expect(missing.msg).toBe(
      `network config not found at ${prefix}/config; create it with: etcdctl put ${prefix}/config '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
    );
    // two more reads found it missing (one a second): still one line
    await waitForMetric(weftdMetrics(host('a'), port), 'weft_network_config_reads_total', { result: 'missing' }, (n) => (n ?? 0) >= 3, 10_000);
    expect(eventsOf(d, LogEvent.networkConfigMissing)).toHaveLength(1);
    expect(d.proc.exitCode).toBeNull();
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    await waitForEvent(d, LogEvent.ready);
    expect((await d.stop('SIGTERM')).code).toBe(0);
  });

  it('names the invalid field and proceeds once an operator fixes it', async () => {
    const prefix = '/n2/network';
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}');
    const d = startWeftd({ host: host('b'), etcd, prefix, node: 'b', dir });
    const bad = await waitForEvent(d, LogEvent.networkConfigInvalid);
    expect(bad.msg).toMatch(/^invalid network config: Backend.Type is "udp"; weft implements only the "vxlan" backend/);
    expect(bad.code).toBe('WEFT_ERR_NETWORK_CONFIG_INVALID');
    const n = logLines(d).length;
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","SubnetLen":31,"Backend":{"Type":"vxlan"}}');
    expect((await waitForEvent(d, LogEvent.networkConfigInvalid, { after: n })).msg).toMatch(/^invalid network config: SubnetLen is 31; SubnetLen must be less than \/31/);
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","SubnetLen":26,"Backend":{"Type":"vxlan","VNI":7,"MTU":1500}}');
    const ready = await waitForEvent(d, LogEvent.ready);
    expect(String(ready.subnet)).toMatch(/\/26$/);
    expect(readSubnetEnv(d.subnetFile)).toMatchObject({ subnet: ready.subnet, mtu: 1450 });
    expect((await d.stop('SIGTERM')).code).toBe(0);
  });

  it('reports exhaustion of a /28 split into /30s (3 usable subnets) and waits, not ready', async () => {
    const prefix = '/n3/network';
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
    const nodes = ['c1', 'c2', 'c3'].map((node) => startWeftd({ host: host(node), etcd, prefix, node, dir }));
    const subnets = await Promise.all(nodes.map(async (d) => String((await waitForEvent(d, LogEvent.ready)).subnet)));
    expect([...subnets].sort()).toEqual(['10.244.0.12/30', '10.244.0.4/30', '10.244.0.8/30']);

    const port = 9180;
    const late = startWeftd({ host: host('c4'), etcd, prefix, node: 'c4', dir, healthzPort: port });
    const err = await waitForCode(late, 'WEFT_ERR_SUBNETS_EXHAUSTED');
    expect(err.msg).toBe(
      `no free /30 left in 10.244.0.0/28 between SubnetMin 10.244.0.4 and SubnetMax 10.244.0.12 (3 leases held); widen Network or delete stale leases with etcdctl del ${prefix}/subnets/<subnet>`,
    );
    const readyz = await httpGet(host('c4'), `http://127.0.0.1:${port}/readyz`);
    expect([readyz.status, readyz.body]).toEqual([503, 'not ready: lease, subnet-file, tun\n']);

    // c1 leaves for good: stopped, and its (kept) lease deleted by the operator
    expect((await nodes[0].stop('SIGTERM')).code).toBe(0);
    await etcd.etcdctl('del', `${prefix}/subnets/${subnets[0].replace('/', '-')}`);
    const ready = await waitForEvent(late, LogEvent.ready, { timeoutMs: 10_000 });
    expect(ready.subnet).toBe(subnets[0]);
    expect(withCode(late, 'WEFT_ERR_SUBNETS_EXHAUSTED')).toHaveLength(1);
    await Promise.all([...nodes.slice(1), late].map(async (d) => expect((await d.stop('SIGTERM')).code).toBe(0)));
  });

  it('reports a config changed while running once, field by field, with what to do; and a restart that lost the subnet to it', async () => {
    const prefix = '/n4/network';
    const key = `${prefix}/config`;
    await etcd.etcdctl('put', key, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    const port = 9180;
    const metrics = weftdMetrics(host('d'), port);
    const checks = async (): Promise<number> => metricValue(await metrics(), 'weft_network_config_checks_total') ?? 0;
    const d = startWeftd({ host: host('d'), etcd, prefix, node: 'd', dir, healthzPort: port });
    const ready = await waitForEvent(d, LogEvent.ready);
    const subnet = String(ready.subnet);
    const changedText = '{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan","VNI":2}}';
    await etcd.etcdctl('put', key, changedText);
    const changed = await waitForEvent(d, LogEvent.networkConfigChanged);
    expect(changed.msg).toBe(
      'network config changed in etcd: Network 10.244.0.0/16 → 10.245.0.0/16, SubnetMin 10.244.1.0 → 10.245.1.0, SubnetMax 10.244.255.0 → 10.245.255.0, Backend.VNI 1 → 2; ' +
        'weftd keeps running on the config it started with; to apply the new one, restart weftd on every node at the same time (nodes on different Backend.VNI or Backend.Port cannot reach each other); ' +
        `this node's subnet ${subnet} does not fit the new config, so after the restart it gets another subnet and the pods on this node (addresses in ${subnet}) must be re-created`,
    );
    expect(changed).toMatchObject({ subsystem: 'lease', key, changes: [{ field: 'Network', from: '10.244.0.0/16', to: '10.245.0.0/16' }, expect.anything(), expect.anything(), { field: 'Backend.VNI', from: '1', to: '2' }] });
    const n = logLines(d).length;
    const compared = await checks();
    await etcd.etcdctl('put', key, changedText); // the same content again: compared, nothing new to say
    await waitForMetric(metrics, 'weft_network_config_checks_total', {}, (c) => (c ?? 0) > compared);
    expect(logLines(d).slice(n).filter((l) => String(l.event).startsWith('network_config_'))).toEqual([]);
    await etcd.etcdctl('put', key, '{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}');
    const invalid = await waitForEvent(d, LogEvent.networkConfigInvalid, { after: n });
    expect(invalid.msg).toMatch(/^invalid network config: Backend.Type is "udp"; .* \(in \/n4\/network\/config, changed while running\); weftd keeps running on the config it started with/);
    await etcd.etcdctl('put', key, '{"Network":"10.244.0.0/16","SubnetLen":24,"Backend":{"Type":"vxlan"}}');
    await waitForEvent(d, LogEvent.networkConfigMatches, { after: n });
    expect(eventsOf(d, LogEvent.networkConfigChanged, n)).toEqual([]);
    expect(d.proc.exitCode).toBeNull();

    // the operator applies the change by restarting the node
    expect((await d.stop('SIGTERM')).code).toBe(0);
    await etcd.etcdctl('put', key, changedText);
    const again = startWeftd({ host: host('d'), etcd, prefix, node: 'd', dir, healthzPort: port });
    const moved = await waitForEvent(again, LogEvent.subnetMoved);
    const now = String((await waitForEvent(again, LogEvent.ready)).subnet);
    expect(now).toMatch(/^10\.245\.\d+\.0\/24$/);
    expect(moved).toMatchObject({ level: 50, oldSubnet: subnet, newSubnet: now, oldNetwork: '10.244.0.0/16', network: '10.245.0.0/16' });
    expect(moved.msg).toBe(
      `this node's previous subnet ${subnet} (from ${again.subnetFile}) does not fit the network config now in etcd (Network 10.245.0.0/16, SubnetLen 24; it was in 10.244.0.0/16); it now has ${now}. ` +
        `Pods started before hold addresses in ${subnet} that no longer route: re-create them (e.g. kubectl delete pod -A --field-selector spec.nodeName=d)`,
    );
    // its config watch compared etcd's config (now its running one) and said nothing
    await waitForMetric(metrics, 'weft_network_config_checks_total', {}, (c) => (c ?? 0) >= 1);
    expect(eventsOf(again, LogEvent.networkConfigChanged)).toEqual([]);
    expect((await again.stop('SIGTERM')).code).toBe(0);
  });
});
