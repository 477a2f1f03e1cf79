// etcd goes away for longer than a renewal interval: weftd keeps running and keeps its lease and
// subnet, logs one line when etcd becomes unreachable and one when it is back, and renews as soon
// as etcd answers again (the etcd3 client's circuit breaker would otherwise refuse calls for
// seconds). TTL 6 s, margin 0.05 min = 3 s, so renewal falls due 3 s into the outage, which lasts
// until /metrics has counted that renewal as failed. Records are found by their event field.
// Every weftd runs in its own host namespace on a test underlay, etcd on the underlay switch. The
// client comparison starts no weftd and uses its own etcd on root loopback.
import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../daemon/config/parse-config.js';
import { createEtcdClient } from '../../daemon/control/etcd/etcd-client.js';
import { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { LogEvent } from '../../daemon/observability/log-events.js';
import { metricValue, waitForMetric, weftdMetrics } from '../helpers/metrics.js';
import { etcdLeaseOf, eventsOf, httpGet, logLines, startWeftd, waitForEvent } from '../helpers/weftd.js';

let etcd: EtcdServer;
let dir: string;
const hosts: UnderlayHost[] = [];

useTestbed('outage', async (bed) => {
  ({ etcd, dir } = bed);
  for (let i = 1; i <= 3; i++) hosts.push(await bed.underlay.addHost(`o${i}`, `198.18.4.${i}`));
});


describe('etcd outage', () => {
  it('keeps the lease and subnet, logs one line per state change, and renews as soon as etcd is back', async () => {
    const prefix = '/o/network';
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    const port = 9180;
    const d = startWeftd({ host: hosts[0], etcd, prefix, node: 'o1', dir, healthzPort: port, extra: ['--subnet-lease-ttl', '6s', '--subnet-lease-renew-margin', '0.05'] });
    try {
      const ready = await waitForEvent(d, LogEvent.ready);
      const key = `${prefix}/subnets/${String(ready.subnet).replace('/', '-')}`;
      const before = await etcdLeaseOf(etcd, key);
      const subnetEnv = readFileSync(d.subnetFile, 'utf8');

      const metrics = weftdMetrics(hosts[0], port);
      expect(metricValue(await metrics(), 'weft_lease_failures_total')).toBe(0);
      await etcd.stop();
      await waitForEvent(d, LogEvent.etcdUnreachable);
      // the renewal fell due during the outage and failed
      await waitForMetric(metrics, 'weft_lease_failures_total', {}, (n) => (n ?? 0) >= 1, 10_000);
      const status = JSON.parse((await httpGet(hosts[0], `http://127.0.0.1:${port}/status`)).body) as Record<string, unknown>;
      expect(status).toMatchObject({ node: { etcdUp: false, subnet: ready.subnet, ready: true, notReady: [] } });
      expect((await httpGet(hosts[0], `http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const renewalsDuringOutage = eventsOf(d, LogEvent.leaseRenewed).length;
      expect(metricValue(await metrics(), 'weft_lease_renewals_total')).toBe(0);

      // counted before resume(): weftd may see etcd back before resume()'s own health check (etcdctl
      // inside the switch namespace) returns
      const n = logLines(d).length;
      const resumeStartedAt = Date.now();
      await etcd.resume();
      const resumedAt = Date.now();
      const back = await waitForEvent(d, LogEvent.etcdReachableAgain, { after: n, timeoutMs: 5_000 });
      const renewed = await waitForEvent(d, LogEvent.leaseRenewed, { after: n, timeoutMs: 5_000 });
      const renewedIn = Date.parse(String(renewed.time)) - resumedAt;
      console.log(`etcd outage: renewed ${renewedIn} ms after etcd was healthy again (down ${Number(back.downMs)} ms as weftd saw it)`);
      expect(renewedIn).toBeLessThan(2_500); // probe interval ≤ 1 s; the stock client refuses for up to 5 s
      expect(Date.parse(String(renewed.time))).toBeGreaterThan(resumeStartedAt);

      expect(renewed.subnet).toBe(ready.subnet);
      const after = await etcdLeaseOf(etcd, key);
      expect(after.id).not.toBe(before.id);
      expect(after.ttl).toBeGreaterThan(3);
      expect(readFileSync(d.subnetFile, 'utf8')).toBe(subnetEnv);
      expect(d.proc.exitCode).toBeNull();

      expect(eventsOf(d, LogEvent.etcdUnreachable)).toHaveLength(1);
      expect(eventsOf(d, LogEvent.etcdReachableAgain)).toHaveLength(1);
      expect(eventsOf(d, LogEvent.leaseLost)).toHaveLength(0);
      expect(renewalsDuringOutage).toBe(0);

      // and it keeps renewing afterwards, on schedule, with the subnet unchanged
      const m = logLines(d).length;
      const next = await waitForEvent(d, LogEvent.leaseRenewed, { after: m, timeoutMs: 6_000 });
      expect(next.subnet).toBe(ready.subnet);
    } finally {
      expect((await d.stop('SIGTERM')).code).toBe(0);
    }
  });
});

describe('etcd down at start', () => {
  it('waits with one log line, proceeds when etcd comes up, and stops cleanly on SIGTERM while waiting', async () => {
    const prefix = '/s/network';
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    await etcd.stop();
    const port = 9180;
    const d = startWeftd({ host: hosts[1], etcd, prefix, node: 's1', dir, healthzPort: port });
    const waiting = startWeftd({ host: hosts[2], etcd, prefix, node: 's2', dir });
    try {
      await waitForEvent(d, LogEvent.etcdUnreachable);
      await waitForEvent(waiting, LogEvent.etcdUnreachable);
      const t0 = Date.now();
      expect(await waiting.stop('SIGTERM', 3_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(2_500);
      // it keeps reading the config while etcd is away, quietly
      await waitForMetric(weftdMetrics(hosts[1], port), 'weft_network_config_reads_total', { result: 'unreachable' }, (r) => (r ?? 0) >= 3, 15_000);
      await etcd.resume();
      const ready = await waitForEvent(d, LogEvent.ready, { timeoutMs: 5_000 });
      expect(String(ready.subnet)).toMatch(/^10\.244\.\d+\.0\/24$/);
      expect(eventsOf(d, LogEvent.etcdUnreachable)).toHaveLength(1);
      expect(eventsOf(d, LogEvent.etcdReachableAgain)).toHaveLength(1);
      // nothing else about failing or retrying (debug is off), however many reads failed
      const others = logLines(d).filter((l) => l.event !== LogEvent.etcdUnreachable);
      expect(others.filter((l) => /fail|retry/i.test(l.msg)).map((l) => l.msg)).toEqual([]);
    } finally {
      expect((await d.stop('SIGTERM')).code).toBe(0);
      if (!etcd.running) await etcd.resume();
    }
  });
});

describe('etcd client fault handling', () => {
  let loopEtcd: EtcdServer;
  beforeAll(async () => {
    loopEtcd = await EtcdServer.start();
  });
  afterAll(async () => {
    await loopEtcd?.close();
  });

  it("answers on the first call after etcd returns, where etcd3's default circuit breaker still refuses", async () => {
    const parsed = parseConfig(['--etcd-endpoints', loopEtcd.endpoint], {}, { hostname: 'h', version: 'test' });
    if (parsed.action !== 'run') throw new Error('config');
    const tuned = createEtcdClient(parsed.config);
    const stock = new Etcd3({ hosts: loopEtcd.endpoint });
    try {
      await loopEtcd.etcdctl('put', '/fh/k', 'v');
      expect(await tuned.get('/fh/k').string()).toBe('v');
      expect(await stock.get('/fh/k').string()).toBe('v');
      await loopEtcd.stop();
      for (let i = 0; i < 4; i++) {
        await expect(tuned.get('/fh/k').string()).rejects.toThrow();
        await expect(stock.get('/fh/k').string()).rejects.toThrow();
      }
      await loopEtcd.resume();
      expect(await tuned.get('/fh/k').string()).toBe('v');
      const err = await stock.get('/fh/k').string().then(() => undefined, (e: Error) => e);
      console.log(`stock etcd3 client right after etcd returned: ${err?.constructor.name}: ${err?.message}`);
      expect(err?.message).toMatch(/circuit breaker is open/);
    } finally {
      tuned.close();
      stock.close();
    }
  });
});
