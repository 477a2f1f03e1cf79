// etcd goes away for longer than a renewal interval: weftd keeps running and keeps its lease and
// subnet, logs one line when etcd becomes unreachable and one when it is back, and renews as soon
// as etcd answers again (the etcd3 client's circuit breaker would otherwise refuse calls for
// seconds). TTL 6 s, margin 0.05 min = 3 s, so renewal falls due 3 s into a 5 s outage.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../daemon/config/parse-config.js';
import { createEtcdClient } from '../../daemon/control/etcd/etcd-client.js';
import { EtcdServer, freePorts } from '../helpers/etcd.js';
import { etcdLeaseOf, logLines, startWeftd, waitForLog } from '../helpers/weftd.js';

let etcd: EtcdServer;
let dir: string;

beforeAll(async () => {
  etcd = await EtcdServer.start();
  dir = mkdtempSync(join(tmpdir(), 'weft-outage-'));
});

afterAll(async () => {
  await etcd?.close();
  rmSync(dir, { recursive: true, force: true });
});


describe('etcd outage', () => {
  it('keeps the lease and subnet, logs one line per state change, and renews as soon as etcd is back', async () => {
    const prefix = '/o/network';
    await etcd.etcdctl('put', `${prefix}/config`, '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    const [port] = await freePorts(1);
    const d = startWeftd({ etcd, prefix, node: 'o1', publicIp: '198.18.4.1', dir, healthzPort: port, extra: ['--subnet-lease-ttl', '6s', '--subnet-lease-renew-margin', '0.05'] });
    try {
      const ready = await waitForLog(d, /^ready$/);
      const key = `${prefix}/subnets/${String(ready.subnet).replace('/', '-')}`;
      const before = await etcdLeaseOf(etcd, key);
      const subnetEnv = readFileSync(d.subnetFile, 'utf8');

      await etcd.stop();
      const stoppedAt = Date.now();
      await waitForLog(d, /^etcd unreachable/);
      await new Promise((r) => setTimeout(r, 5_000 - (Date.now() - stoppedAt)));
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, unknown>;
      expect(status).toMatchObject({ etcd: 'unreachable', subnet: ready.subnet, ready: true });
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      const renewalsDuringOutage = logLines(d).filter((l) => l.msg === 'lease renewed').length;

      await etcd.resume();
      const resumedAt = Date.now();
      const n = logLines(d).length;
      const back = await waitForLog(d, /^etcd reachable again$/, { after: n, timeoutMs: 5_000 });
      const renewed = await waitForLog(d, /^lease renewed$/, { after: n, timeoutMs: 5_000 });
      const renewedIn = Date.parse(String(renewed.time)) - resumedAt;
      console.log(`etcd outage: renewed ${renewedIn} ms after etcd was healthy again (down ${Number(back.downMs)} ms as weftd saw it)`);
      expect(renewedIn).toBeLessThan(2_500); // probe interval ≤ 1 s; the stock client refuses for up to 5 s

      expect(renewed.subnet).toBe(ready.subnet);
      const after = await etcdLeaseOf(etcd, key);
      expect(after.id).not.toBe(before.id);
      expect(after.ttl).toBeGreaterThan(3);
      expect(readFileSync(d.subnetFile, 'utf8')).toBe(subnetEnv);
      expect(d.proc.exitCode).toBeNull();

      const lines = logLines(d).map((l) => l.msg);
      expect(lines.filter((m) => m.startsWith('etcd unreachable'))).toHaveLength(1);
      expect(lines.filter((m) => m === 'etcd reachable again')).toHaveLength(1);
      expect(lines.filter((m) => m.startsWith('lease lost'))).toHaveLength(0);
      expect(renewalsDuringOutage).toBe(0);

      // and it keeps renewing afterwards, on schedule, with the subnet unchanged
      const m = logLines(d).length;
      const next = await waitForLog(d, /^lease renewed$/, { after: m, timeoutMs: 6_000 });
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
    const d = startWeftd({ etcd, prefix, node: 's1', publicIp: '198.18.4.2', dir });
    const waiting = startWeftd({ etcd, prefix, node: 's2', publicIp: '198.18.4.3', dir });
    try {
      await waitForLog(d, /^etcd unreachable/);
      await waitForLog(waiting, /^etcd unreachable/);
      const t0 = Date.now();
      expect(await waiting.stop('SIGTERM', 3_000)).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(2_500);
      await new Promise((r) => setTimeout(r, 1_500));
      await etcd.resume();
      const ready = await waitForLog(d, /^ready$/, { timeoutMs: 5_000 });
      expect(String(ready.subnet)).toMatch(/^10\.244\.\d+\.0\/24$/);
      const lines = logLines(d).map((l) => l.msg);
      expect(lines.filter((m) => m.startsWith('etcd unreachable'))).toHaveLength(1);
      expect(lines.filter((m) => m === 'etcd reachable again')).toHaveLength(1);
      expect(lines.filter((m) => !m.startsWith('etcd unreachable') && /fail|retry/i.test(m))).toEqual([]);
    } finally {
      expect((await d.stop('SIGTERM')).code).toBe(0);
      if (!etcd.running) await etcd.resume();
    }
  });
});

describe('etcd client fault handling', () => {
  it("answers on the first call after etcd returns, where etcd3's default circuit breaker still refuses", async () => {
    const parsed = parseConfig(['--etcd-endpoints', etcd.endpoint], {}, { hostname: 'h', version: 'test' });
    if (parsed.action !== 'run') throw new Error('config');
    const tuned = createEtcdClient(parsed.config);
    const stock = new Etcd3({ hosts: etcd.endpoint });
    try {
      await etcd.etcdctl('put', '/fh/k', 'v');
      expect(await tuned.get('/fh/k').string()).toBe('v');
      expect(await stock.get('/fh/k').string()).toBe('v');
      await etcd.stop();
      for (let i = 0; i < 4; i++) {
        await expect(tuned.get('/fh/k').string()).rejects.toThrow();
        await expect(stock.get('/fh/k').string()).rejects.toThrow();
      }
      await etcd.resume();
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
