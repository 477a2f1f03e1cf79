// weftd against a real etcd, as real processes: the lease and subnet.env Flannel would write,
// restart reuse (by PublicIP, then from the subnet file), re-acquire after the key is deleted,
// a clean SIGTERM, the health endpoints, and bad flags. Every weftd runs in its own host namespace
// on a test underlay (eth0, MTU 1500), etcd on the underlay switch.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { liveChildren } from '../../lab/processes.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { WEFTD_MAIN, etcdLeaseOf, eventsOf, httpGet, logLines, startWeftd, waitForEvent, type Weftd } from '../helpers/weftd.js';
import { LogEvent } from '../../daemon/observability/log-events.js';

const CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];

useTestbed(
  'lease',
  async (bed) => {
    ({ etcd, dir } = bed);
    for (let i = 1; i <= 4; i++) hosts.push(await bed.underlay.addHost(`n${i}`, `198.18.0.${i}`));
  },
  { killDaemonsAfterEach: true },
);

async function etcdValue(key: string): Promise<string> {
  return (await etcd.etcdctl('get', '--print-value-only', key)).replace(/\n$/, '');
}


async function stopClean(d: Weftd): Promise<void> {
  const exit = await d.stop('SIGTERM', 5_000);
  expect(exit).toEqual({ code: 0, signal: null });
}

describe('weftd lease', () => {
  it('acquires a lease whose key and value are byte-for-byte what Flannel writes, and writes subnet.env', async () => {
    const prefix = '/t1/network';
    await etcd.etcdctl('put', `${prefix}/config`, CONFIG);
    const port = 9180;
    const d = startWeftd({ host: hosts[0], etcd, prefix, node: 'node1', dir, healthzPort: port, extra: ['--ip-masq'] });
    const ready = await waitForEvent(d, LogEvent.ready);
    const acquired = eventsOf(d, LogEvent.leaseAcquired)[0];
    const subnet = String(acquired?.subnet);
    expect(subnet).toMatch(/^10\.244\.\d+\.0\/24$/);
    expect(acquired?.how).toBe('random');
    const third = Number(subnet.split('.')[2]);
    expect(third).toBeGreaterThanOrEqual(1);

    const key = `${prefix}/subnets/10.244.${third}.0-24`;
    expect(await etcd.etcdctl('get', '--keys-only', '--prefix', `${prefix}/subnets/`)).toBe(`${key}\n\n`);
    expect(await etcdValue(key)).toBe(
      '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"3e:32:da:5f:2d:52","WeftGossipPort":8473,"WeftNodeName":"node1","WeftCsumElision":true}}',
    );
    expect([ready.vtepMAC, ready.publicIP]).toEqual(['3e:32:da:5f:2d:52', '198.18.0.1']);
    const lease = await etcdLeaseOf(etcd, key);
    expect(lease.ttl).toBeGreaterThan(86_000);
    expect(lease.ttl).toBeLessThanOrEqual(86_400);

    expect(readFileSync(d.subnetFile, 'utf8')).toBe(`FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${third}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n`);
    expect(statSync(d.subnetFile).mode & 0o777).toBe(0o644);

    const base = `http://127.0.0.1:${port}`;
    expect((await httpGet(hosts[0], `${base}/healthz`)).status).toBe(200);
    const readyz = await httpGet(hosts[0], `${base}/readyz`);
    expect([readyz.status, readyz.body]).toEqual([200, 'ok\n']);
    const status = JSON.parse((await httpGet(hosts[0], `${base}/status`)).body) as Record<string, unknown>;
    expect(status).toMatchObject({
      version: 1,
      node: { name: 'node1', subnet, network: '10.244.0.0/16', vtepMAC: '3e:32:da:5f:2d:52', publicIP: '198.18.0.1', mtu: 1450, ipMasq: true, etcdUp: true, ready: true, notReady: [] },
    });
    const leaseExpiry = String((status.node as Record<string, unknown>).leaseExpiry);
    expect(Date.parse(leaseExpiry) - Date.now()).toBeGreaterThan(86_000_000);
    const metrics = (await httpGet(hosts[0], `${base}/metrics`)).body;
    expect(metrics).toContain(`weft_lease_expiry_timestamp_seconds ${Date.parse(leaseExpiry) / 1000}\n`);
    expect(metrics).toMatch(new RegExp(`^weft_build_info\\{version="\\d+\\.\\d+\\.\\d+[^"]*",node_version="${process.version}"\\} 1$`, 'm'));
    expect(metrics).toContain('weft_dataplane_thread_up 1\n');
    expect(Number(/^weft_dataplane_thread_lag_seconds (\S+)$/m.exec(metrics)?.[1])).toBeLessThan(1);

    await stopClean(d);
    expect(await etcdValue(key)).toContain('"WeftNodeName":"node1"');
    // Every line names its subsystem and uses /status's field names; the last one says it stopped.
    const lines = logLines(d);
    expect(lines.filter((l) => typeof l.subsystem !== 'string')).toEqual([]);
    expect(lines.filter((l) => 'publicIp' in l || 'vtepMac' in l || 'expiresAt' in l)).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ subsystem: 'weftd', msg: 'stopped' });
  });

  it('keeps subnet and VtepMAC across restarts: by PublicIP while the key lives, from subnet.env after it is gone', async () => {
    const prefix = '/t2/network';
    await etcd.etcdctl('put', `${prefix}/config`, CONFIG);
    const opts = { host: hosts[1], etcd, prefix, node: 'node2', dir };
    let d = startWeftd(opts);
    const first = await waitForEvent(d, LogEvent.ready);
    await stopClean(d);
    const key = `${prefix}/subnets/${String(first.subnet).replace('/', '-')}`;
    const value = await etcdValue(key);

    d = startWeftd(opts);
    const second = await waitForEvent(d, LogEvent.ready);
    expect(eventsOf(d, LogEvent.leaseAcquired)[0]?.how).toBe('reuse-public-ip');
    expect([second.subnet, second.vtepMac]).toEqual([first.subnet, first.vtepMac]);
    expect(await etcdValue(key)).toBe(value);
    await stopClean(d);

    await etcd.etcdctl('del', key);
    d = startWeftd(opts);
    const third = await waitForEvent(d, LogEvent.ready);
    expect(eventsOf(d, LogEvent.leaseAcquired)[0]?.how).toBe('previous-subnet');
    expect([third.subnet, third.vtepMac]).toEqual([first.subnet, first.vtepMac]);
    await stopClean(d);
  });

  it('re-acquires the same subnet without exiting when its key is deleted', async () => {
    const prefix = '/t3/network';
    await etcd.etcdctl('put', `${prefix}/config`, CONFIG);
    const d = startWeftd({ host: hosts[2], etcd, prefix, node: 'node3', dir });
    const ready = await waitForEvent(d, LogEvent.ready);
    const key = `${prefix}/subnets/${String(ready.subnet).replace('/', '-')}`;
    const n = logLines(d).length;
    await etcd.etcdctl('del', key);
    const lost = await waitForEvent(d, LogEvent.leaseLost, { after: n });
    expect(lost.reason).toBe('the lease key was deleted or its etcd lease expired');
    const again = await waitForEvent(d, LogEvent.leaseAcquired, { after: n });
    expect([again.subnet, again.how]).toEqual([ready.subnet, 'previous-subnet']);
    expect(await etcdValue(key)).toContain('"PublicIP":"198.18.0.3"');
    expect(d.proc.exitCode).toBeNull();
    await stopClean(d);
  });

  it('startWeftd refuses to start weftd without a host namespace', () => {
    const host = undefined as unknown as UnderlayHost;
    expect(() => startWeftd({ host, etcd, prefix: '/t4/network', node: 'node4', dir })).toThrow(/never run in the root namespace/);
    expect(liveChildren().filter((c) => c.pid !== etcd.pid)).toEqual([]);
  });

  it('exits 2 with a one-line message naming a bad flag', async () => {
    await expect(hosts[3].exec(process.execPath, [WEFTD_MAIN, '--subnet-lease-renew-margin', '2000'])).rejects.toThrow(
      /failed \(2\):\nweftd: --subnet-lease-renew-margin: "2000" is not a renew margin; expected minutes, more than 0 and at most 1439 \(fractions allowed\)\n$/,
    );
    expect(await hosts[3].exec(process.execPath, [WEFTD_MAIN, '--help'])).toContain('env WEFTD_SUBNET_LEASE_RENEW_MARGIN, default 60');
  });
});
