// weftd against an etcd that already holds 5,000 leases (Flannel nodes: routed from the lease alone)
// is ready quickly and routes them all, and one lease written afterwards is routed within about a
// second: a datagram sent towards its subnet arrives, VXLAN-encapsulated, at its PublicIP.
// Network 10.244.0.0/16 cut in /29s (8,190 leasable subnets), peers at 198.18.128.0 + i inside the
// test underlay's /15, which no host holds: nothing is sent to them. The figures are printed, and
// asserted with a margin over the targets (ready in 5 s, routed in 1 s) because two shared cores
// make exact timings unreliable.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EtcdServer } from '../helpers/etcd.js';
import { useTestbed } from '../helpers/testbed.js';
import type { UnderlayHost } from '../helpers/underlay.js';
import { httpGet, logLines, startWeftd, waitForLog } from '../helpers/weftd.js';
import { seededLease } from '../fixtures/lease/seed.js';
import { formatIpv4, parseIpv4 } from '../../daemon/net/ipv4.js';

const SEED = fileURLToPath(new URL('../../dist/test/fixtures/lease/seed.js', import.meta.url));
const LEASES = 5_000;
const SUBNET_LEN = 29;
const PREFIX = '/big/network';
const HEALTHZ = 'http://127.0.0.1:8471';
/** Targets of issue 11, and the factor allowed over them on a loaded two-core machine. */
const READY_TARGET_MS = 5_000;
const ROUTED_TARGET_MS = 1_000;
const SLACK = 3;
/** Leases written one by one after start, to measure weftd's CPU per lease change. */
const CPU_LEASES = 200;

let etcd: EtcdServer;
let node: UnderlayHost;
let probe: UnderlayHost;

const bed = useTestbed('leases5k', async (b) => {
  etcd = b.etcd;
  node = await b.underlay.addHost('w', '198.18.5.1');
  probe = await b.underlay.addHost('p', '198.18.5.2');
});

/** User + system CPU time of a process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** A gauge or counter of /metrics (no labels), or undefined. */
async function metric(name: string): Promise<number | undefined> {
  const { body } = await httpGet(node, `${HEALTHZ}/metrics`);
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : undefined;
}

describe('weftd with 5,000 leases in etcd', () => {
  it('is ready quickly, routes every lease, and routes one more written afterwards within about a second', async () => {
    // weftd's own lease comes from above the seeded ones (SubnetMin), so no seeded lease can be its.
    const subnetMin = formatIpv4(parseIpv4('10.244.0.0')! + (LEASES + CPU_LEASES + 100) * 2 ** (32 - SUBNET_LEN));
    await etcd.etcdctl('put', `${PREFIX}/config`, JSON.stringify({ Network: '10.244.0.0/16', SubnetLen: SUBNET_LEN, SubnetMin: subnetMin, Backend: { Type: 'vxlan' } }));
    const seed = async (from: number, count: number, mode = 'txn'): Promise<number> =>
      (JSON.parse(await bed().underlay.switchNs.exec(process.execPath, [SEED, etcd.endpoint, PREFIX, String(from), String(count), String(SUBNET_LEN), mode])) as { ms: number }).ms;
    const seedMs = await seed(0, LEASES);
    expect((await etcd.etcdctl('get', '--prefix', '--keys-only', `${PREFIX}/subnets/`)).split('\n').filter(Boolean)).toHaveLength(LEASES);

    const started = Date.now();
    const weftd = startWeftd({ host: node, etcd, prefix: PREFIX, node: 'w', dir: bed().dir, healthzPort: 8471 });
    let readyAt: number | undefined;
    while (readyAt === undefined) {
      if (weftd.proc.exitCode !== null) throw new Error(`weftd exited (${weftd.proc.exitCode}):\n${weftd.output()}`);
      if ((await httpGet(node, `${HEALTHZ}/readyz`).catch(() => ({ status: 0 }))).status === 200) readyAt = Date.now();
      else if (Date.now() - started > READY_TARGET_MS * SLACK * 2) throw new Error(`not ready after ${Date.now() - started} ms:\n${weftd.output().slice(-3000)}`);
      else await new Promise((r) => setTimeout(r, 20));
    }
    const ready = await waitForLog(weftd, /^ready$/);
    const readyMs = readyAt - started;
    const loggedMs = Date.parse(String(ready.time)) - started;
    expect(await metric('weft_routes')).toBe(LEASES);
    // Without --metrics-per-peer, /metrics holds node totals only: no series per routed peer, and a
    // size that does not grow with 5,000 of them (per-peer series would add ~1 MB here).
    const { body: exposition } = await httpGet(node, `${HEALTHZ}/metrics`);
    expect(exposition).not.toMatch(/^weft_peer_/m);
    expect(exposition.length).toBeLessThan(64 * 1024);

    // One more lease, at the probe's address: a datagram towards its subnet, sent every 10 ms from
    // the node, reaches the probe as soon as the data plane routes it.
    const extra = seededLease(LEASES, SUBNET_LEN);
    const target = formatIpv4(parseIpv4(extra.subnet.split('/')[0])! + 1);
    const listener = probe.spawn(process.execPath, ['-e', "const s=require('dgram').createSocket('udp4');s.on('message',()=>{console.log('GOT '+Date.now());process.exit(0)});s.bind(8472,()=>console.log('LISTENING'))"]);
    let exit: { code: number | null } = { code: null };
    const sender = node.spawn(process.execPath, ['-e', `const s=require('dgram').createSocket('udp4');setInterval(()=>s.send('x',9,'${target}'),10)`]);
    try {
      while (!listener.output().includes('LISTENING')) await new Promise((r) => setTimeout(r, 10));
      const written = Date.now();
      await etcd.etcdctl('put', `${PREFIX}/subnets/${extra.key}`, extra.value.replace(extra.publicIp, probe.addr));
      const putMs = Date.now() - written;
      while (!listener.output().includes('GOT ')) {
        if (Date.now() - written > ROUTED_TARGET_MS * SLACK * 5) throw new Error(`the new lease was not routed within ${Date.now() - written} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
      const routedMs = Number(/GOT (\d+)/.exec(listener.output())![1]) - written;
      expect(await metric('weft_routes')).toBe(LEASES + 1);

      // CPU of weftd (both threads) per lease written one at a time, with 5,000 routed.
      const cpuBefore = cpuMs(weftd.pid);
      await seed(LEASES + 1, CPU_LEASES, 'one-by-one');
      const cpuWritten = Date.now();
      for (let n: number | undefined; (n = await metric('weft_routes').catch(() => undefined)) !== LEASES + 1 + CPU_LEASES; ) {
        if (Date.now() - cpuWritten > 60_000) throw new Error(`${n} routes, not ${LEASES + 1 + CPU_LEASES}, a minute after writing ${CPU_LEASES} leases`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const cpuRoutedMs = Date.now() - cpuWritten;
      const cpuPerLeaseMs = (cpuMs(weftd.pid) - cpuBefore) / CPU_LEASES;
      const routeLines = logLines(weftd).filter((l) => l.msg === 'route added').length;
      console.log(JSON.stringify({ leases: LEASES, seedMs, readyMs, readyLoggedMs: loggedMs, newLeaseRoutedMs: routedMs, etcdctlPutMs: putMs, routeAddedLines: routeLines, cpuPerLeaseMs: Number(cpuPerLeaseMs.toFixed(2)), oneByOneRoutedMs: cpuRoutedMs }));
      expect(readyMs).toBeLessThan(READY_TARGET_MS * SLACK);
      expect(routedMs).toBeLessThan(ROUTED_TARGET_MS * SLACK);
    } finally {
      await sender.stop('SIGKILL');
      await listener.stop('SIGKILL');
      exit = await weftd.stop('SIGTERM', 10_000);
    }
    expect(exit.code, weftd.output().slice(-2000)).toBe(0);
  }, 120_000);
});
